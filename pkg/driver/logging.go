package driver

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"k8s.io/klog/v2"
)

var requestSeq atomic.Uint64

// logInterceptor logs every call with its request (secrets stripped), its
// outcome and its duration, and turns plain errors into gRPC status errors.
func logInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	id := requestSeq.Add(1)
	start := time.Now()
	klog.V(3).InfoS("CSI call", "id", id, "method", info.FullMethod, "request", StripSecrets(req))
	resp, err := handler(ctx, req)
	err = toStatus(err)
	if err != nil {
		s, _ := status.FromError(err)
		klog.ErrorS(nil, "CSI call failed", "id", id, "method", info.FullMethod, "code", s.Code(), "message", s.Message(), "duration", time.Since(start))
		return resp, err
	}
	klog.V(3).InfoS("CSI call done", "id", id, "method", info.FullMethod, "duration", time.Since(start))
	klog.V(5).InfoS("CSI response", "id", id, "response", StripSecrets(resp))
	return resp, nil
}

// StripSecrets renders a CSI message as JSON with every field the CSI spec
// marks csi_secret replaced by "***stripped***" (map entries keep their keys),
// at any depth. Anything that is not a proto message is rendered as "-".
func StripSecrets(v any) string {
	m, ok := v.(proto.Message)
	if !ok || m == nil {
		return "-"
	}
	c := proto.Clone(m)
	strip(c.ProtoReflect())
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(c)
	if err != nil {
		return "<unprintable: " + err.Error() + ">"
	}
	return string(b)
}

const strippedValue = "***stripped***"

func isSecret(fd protoreflect.FieldDescriptor) bool {
	opts := fd.Options()
	if opts == nil {
		return false
	}
	v, ok := proto.GetExtension(opts, csi.E_CsiSecret).(bool)
	return ok && v
}

func strip(m protoreflect.Message) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case isSecret(fd):
			stripValue(m, fd, v)
		case fd.IsMap():
			if fd.MapValue().Kind() == protoreflect.MessageKind {
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					strip(mv.Message())
					return true
				})
			}
		case fd.IsList():
			if fd.Kind() == protoreflect.MessageKind {
				l := v.List()
				for i := 0; i < l.Len(); i++ {
					strip(l.Get(i).Message())
				}
			}
		case fd.Kind() == protoreflect.MessageKind:
			strip(v.Message())
		}
		return true
	})
}

// stripValue blanks a secret field: string maps keep their keys, strings
// become the marker, anything else is cleared.
func stripValue(m protoreflect.Message, fd protoreflect.FieldDescriptor, v protoreflect.Value) {
	switch {
	case fd.IsMap() && fd.MapValue().Kind() == protoreflect.StringKind:
		mp := v.Map()
		mp.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
			mp.Set(k, protoreflect.ValueOfString(strippedValue))
			return true
		})
	case !fd.IsList() && !fd.IsMap() && fd.Kind() == protoreflect.StringKind:
		m.Set(fd, protoreflect.ValueOfString(strippedValue))
	default:
		m.Clear(fd)
	}
}
