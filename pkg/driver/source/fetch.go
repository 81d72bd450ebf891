package source

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// Source reads VISOs from the Kubernetes API.
type Source struct {
	Client kubernetes.Interface // nil = no cluster configured: every call fails with ErrNoCluster
}

// object is a fetched ConfigMap or Secret reduced to what this package needs.
// Exactly one of cm and secret is set; it is the object as read, to be copied
// before any change.
type object struct {
	ref    Ref
	cm     *corev1.ConfigMap
	secret *corev1.Secret
	keys   map[string][]byte // data and binaryData together, names checked
	rv     string
	uid    types.UID
}

// fetch reads the object ref names and checks its key names. It does not pick
// the VISO key or check sizes: callers do what they need.
func (s *Source) fetch(ctx context.Context, ref Ref) (*object, error) {
	if err := ref.validate(); err != nil {
		return nil, err
	}
	if s == nil || s.Client == nil {
		return nil, fmt.Errorf("%s: %w", ref, ErrNoCluster)
	}
	o := &object{ref: ref, keys: map[string][]byte{}}
	var err error
	if ref.ConfigMap != "" {
		o.cm, err = s.Client.CoreV1().ConfigMaps(ref.Namespace).Get(ctx, ref.ConfigMap, metav1.GetOptions{})
	} else {
		o.secret, err = s.Client.CoreV1().Secrets(ref.Namespace).Get(ctx, ref.Secret, metav1.GetOptions{})
	}
	if err != nil {
		return nil, getError(ref.String(), err)
	}
	var dup []string
	if o.cm != nil {
		o.rv, o.uid = o.cm.ResourceVersion, o.cm.UID
		for k, v := range o.cm.Data {
			o.keys[k] = []byte(v)
		}
		for k, v := range o.cm.BinaryData {
			if _, ok := o.keys[k]; ok {
				dup = append(dup, k)
			}
			o.keys[k] = v
		}
	} else {
		// Secret.StringData is write-only: the API server merges it into Data
		// and never returns it, so only Data is read.
		o.rv, o.uid = o.secret.ResourceVersion, o.secret.UID
		for k, v := range o.secret.Data {
			o.keys[k] = v
		}
	}
	if len(dup) > 0 {
		sort.Strings(dup)
		return nil, fmt.Errorf("%s: key %q is in both data and binaryData: %w", ref.object(), dup[0], ErrBadKey)
	}
	for _, k := range o.sortedKeys() {
		if err := checkKey(k); err != nil {
			return nil, fmt.Errorf("%s: %w", ref.object(), err)
		}
	}
	return o, nil
}

// getError turns a failed GET into an error naming what was asked for; a
// NotFound also wraps ErrObjectNotFound, and the API error stays in the chain
// (callers may test apierrors.IsForbidden and friends).
func getError(what string, err error) error {
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("%s: %w: %w", what, ErrObjectNotFound, err)
	}
	return fmt.Errorf("%s: reading from the Kubernetes API: %w", what, err)
}

func (o *object) sortedKeys() []string {
	ks := make([]string, 0, len(o.keys))
	for k := range o.keys {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// visoKey picks the VISO key: Ref.Key when set (it must exist), else the only
// key whose name ends in ".viso" (ASCII case-insensitively, like an extension
// match).
func (o *object) visoKey() (string, error) {
	if o.ref.Key != "" {
		if _, ok := o.keys[o.ref.Key]; !ok {
			return "", fmt.Errorf("%s: %w (keys: %s)", o.ref, ErrKeyNotFound, o.keyList())
		}
		return o.ref.Key, nil
	}
	var found []string
	for _, k := range o.sortedKeys() {
		if strings.HasSuffix(strings.ToLower(k), ".viso") {
			found = append(found, k)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("%s: %w (keys: %s)", o.ref, ErrNoVISOKey, o.keyList())
	case 1:
		return found[0], nil
	default:
		return "", fmt.Errorf("%s: keys %s: %w; name one with the key attribute", o.ref, quoteList(found), ErrAmbiguousKey)
	}
}

// keyList is the object's key names for messages; names are not secret (they
// show in kubectl describe), values never appear in messages.
func (o *object) keyList() string {
	if len(o.keys) == 0 {
		return "none"
	}
	return quoteList(o.sortedKeys())
}

func quoteList(ks []string) string {
	q := make([]string, len(ks))
	for i, k := range ks {
		q[i] = fmt.Sprintf("%q", k)
	}
	return strings.Join(q, ", ")
}

// checkSizes enforces MaxVISOSize on the VISO key and MaxTotalSize on all keys.
func (o *object) checkSizes(visoKey string) error {
	if n := len(o.keys[visoKey]); n > MaxVISOSize {
		return fmt.Errorf("%s: key %q: %d bytes exceed the VISO limit of %d bytes (32 MiB): %w",
			o.ref.object(), visoKey, n, MaxVISOSize, ErrTooLarge)
	}
	total := 0
	for _, v := range o.keys {
		total += len(v)
	}
	if total > MaxTotalSize {
		return fmt.Errorf("%s: key %q with its side files: %d bytes in all exceed the limit of %d bytes (64 MiB): %w",
			o.ref.object(), visoKey, total, MaxTotalSize, ErrTooLarge)
	}
	return nil
}
