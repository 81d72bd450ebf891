package driver

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"google.golang.org/grpc/codes"

	"github.com/csi-viso/csi-viso/pkg/driver/serve"
)

// Volume attribute keys (the contract in the architecture notes). The same
// keys serve as StorageClass parameters and inline volumeAttributes.
const (
	AttrConfigMap         = "configMap"
	AttrSecret            = "secret"
	AttrKey               = "key"
	AttrImage             = "image"
	AttrFileName          = "fileName"
	AttrUnattendedInstall = "unattendedInstall"

	// KubePrefix marks keys set by Kubernetes (pod info on mount, the
	// provisioner's extra create metadata); they are always accepted.
	KubePrefix = "csi.storage.k8s.io/"

	keyPodNamespace = KubePrefix + "pod.namespace"
	keyEphemeral    = KubePrefix + "ephemeral"
	keyPVCNamespace = KubePrefix + "pvc/namespace"
	keyPVCName      = KubePrefix + "pvc/name"

	// ProvisionerIdentityKey is added by external-provisioner to the volume
	// attributes of every PV it creates (it identifies the provisioner
	// instance); it cannot be turned off, so it is always accepted.
	ProvisionerIdentityKey = "storage.kubernetes.io/csiProvisionerIdentity"

	// AnnotationConfigMap on a PVC names the ConfigMap when the StorageClass
	// parameters do not.
	AnnotationConfigMap = "viso.csi.io/configmap"
)

// Attributes are the parsed volume attributes of one volume.
type Attributes struct {
	ConfigMap, Secret, Key string
	Image                  string
	FileName               string // never empty after parsing
	UnattendedInstall      bool

	Ephemeral    bool   // csi.storage.k8s.io/ephemeral = "true"
	PodNamespace string // csi.storage.k8s.io/pod.namespace
	PVCNamespace string // csi.storage.k8s.io/pvc/namespace
	PVCName      string // csi.storage.k8s.io/pvc/name
}

// attrOptions tune ParseAttributes for the caller.
type attrOptions struct {
	// allowNoSource lets configMap/secret/image all be absent: CreateVolume
	// then looks for the PVC annotation.
	allowNoSource bool
}

// ParseAttributes checks a volume context or StorageClass parameters against
// the contract. Every problem is an InvalidArgument error naming the key.
func ParseAttributes(m map[string]string) (Attributes, error) {
	return parseAttributes(m, attrOptions{})
}

func parseAttributes(m map[string]string, opt attrOptions) (Attributes, error) {
	a := Attributes{FileName: serve.DefaultFileName}
	var unknown []string
	for k, v := range m {
		switch k {
		case AttrConfigMap:
			a.ConfigMap = v
		case AttrSecret:
			a.Secret = v
		case AttrKey:
			a.Key = v
		case AttrImage:
			a.Image = v
		case AttrFileName:
			a.FileName = v
		case AttrUnattendedInstall:
			switch v {
			case "true":
				a.UnattendedInstall = true
			case "false":
			default:
				return Attributes{}, errorf(codes.InvalidArgument, "volume attribute %s: %q is neither \"true\" nor \"false\"", k, v)
			}
		case keyEphemeral:
			a.Ephemeral = v == "true"
		case keyPodNamespace:
			a.PodNamespace = v
		case keyPVCNamespace:
			a.PVCNamespace = v
		case keyPVCName:
			a.PVCName = v
		case ProvisionerIdentityKey:
		default:
			if !strings.HasPrefix(k, KubePrefix) {
				unknown = append(unknown, k)
			}
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return Attributes{}, errorf(codes.InvalidArgument, "unknown volume attribute %s (known: %s, %s, %s, %s, %s, %s and %s* keys)",
			quoteList(unknown), AttrConfigMap, AttrSecret, AttrKey, AttrImage, AttrFileName, AttrUnattendedInstall, KubePrefix)
	}
	for k, v := range map[string]string{AttrConfigMap: a.ConfigMap, AttrSecret: a.Secret, AttrImage: a.Image} {
		if _, set := m[k]; set && v == "" {
			return Attributes{}, errorf(codes.InvalidArgument, "volume attribute %s is empty", k)
		}
	}
	sources := 0
	for _, v := range []string{a.ConfigMap, a.Secret, a.Image} {
		if v != "" {
			sources++
		}
	}
	switch {
	case sources > 1:
		return Attributes{}, errorf(codes.InvalidArgument, "volume attributes %s, %s and %s exclude each other; set exactly one", AttrConfigMap, AttrSecret, AttrImage)
	case sources == 0 && !opt.allowNoSource:
		return Attributes{}, errorf(codes.InvalidArgument, "no image source: set volume attribute %s, %s or %s", AttrConfigMap, AttrSecret, AttrImage)
	}
	if a.Key != "" && a.Image != "" {
		return Attributes{}, errorf(codes.InvalidArgument, "volume attribute %s applies to a %s or %s, not to %s", AttrKey, AttrConfigMap, AttrSecret, AttrImage)
	}
	if _, set := m[AttrKey]; set && a.Key == "" {
		return Attributes{}, errorf(codes.InvalidArgument, "volume attribute %s is empty", AttrKey)
	}
	if err := checkFileName(a.FileName); err != nil {
		return Attributes{}, err
	}
	if a.Image != "" {
		if err := checkImagePath(a.Image); err != nil {
			return Attributes{}, err
		}
	}
	return a, nil
}

// checkFileName accepts one path component, as the served mount holds one file.
func checkFileName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") || len(name) > 255 {
		return errorf(codes.InvalidArgument, "volume attribute %s: %q is not a plain file name", AttrFileName, name)
	}
	return nil
}

// checkImagePath applies the lexical rules to the image attribute: a relative
// path must stay inside the media root it is looked up in. Where an absolute
// path may point is decided against the configured media roots later.
func checkImagePath(p string) error {
	if strings.IndexByte(p, 0) >= 0 {
		return errorf(codes.InvalidArgument, "volume attribute %s: path contains a NUL byte", AttrImage)
	}
	if filepath.IsAbs(p) {
		return nil
	}
	c := filepath.Clean(p)
	if c == "." || c == ".." || strings.HasPrefix(c, "../") {
		return errorf(codes.InvalidArgument, "volume attribute %s: %q leaves the media roots", AttrImage, p)
	}
	return nil
}

func quoteList(keys []string) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = fmt.Sprintf("%q", k)
	}
	return strings.Join(q, ", ")
}

// namespace is where the source object lives: the pod's namespace for an
// inline volume, the PVC's for a persistent one.
func (a Attributes) namespace() string {
	if a.Ephemeral {
		return a.PodNamespace
	}
	if a.PVCNamespace != "" {
		return a.PVCNamespace
	}
	return a.PodNamespace
}

// fromObject reports whether the image comes from a ConfigMap or Secret.
func (a Attributes) fromObject() bool { return a.ConfigMap != "" || a.Secret != "" }
