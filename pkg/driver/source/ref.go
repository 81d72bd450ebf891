package source

import (
	"fmt"
	"strings"
)

// Ref names the Kubernetes object a volume's VISO comes from.
type Ref struct {
	Namespace string
	ConfigMap string // exactly one of ConfigMap / Secret
	Secret    string
	Key       string // the .viso key; "" = the only key ending in ".viso"
}

// String names the object (and the key when one is set) for messages:
// `configmap ns/name` or `secret ns/name key "install.viso"`.
func (r Ref) String() string {
	s := r.object()
	if r.Key != "" {
		s += fmt.Sprintf(" key %q", r.Key)
	}
	return s
}

// object is "configmap ns/name" or "secret ns/name", whichever the Ref names.
func (r Ref) object() string {
	switch {
	case r.ConfigMap != "" && r.Secret == "":
		return "configmap " + r.Namespace + "/" + r.ConfigMap
	case r.Secret != "" && r.ConfigMap == "":
		return "secret " + r.Namespace + "/" + r.Secret
	default:
		// Malformed; validate reports why, this only keeps messages readable.
		return fmt.Sprintf("object %s/(configmap %q, secret %q)", r.Namespace, r.ConfigMap, r.Secret)
	}
}

// name is the object's name, whichever of ConfigMap and Secret holds it.
func (r Ref) name() string {
	if r.ConfigMap != "" {
		return r.ConfigMap
	}
	return r.Secret
}

// validate checks the Ref's shape; the API server checks the names' syntax.
// Names that could not be a single URL path segment are refused here so that
// they never reach a request path.
func (r Ref) validate() error {
	switch {
	case r.Namespace == "":
		return fmt.Errorf("%s: no namespace: %w", r, ErrInvalidRef)
	case r.ConfigMap == "" && r.Secret == "":
		return fmt.Errorf("%s: neither a configmap nor a secret is named: %w", r, ErrInvalidRef)
	case r.ConfigMap != "" && r.Secret != "":
		return fmt.Errorf("%s: both a configmap and a secret are named: %w", r, ErrInvalidRef)
	}
	for _, n := range []string{r.Namespace, r.name()} {
		if !pathSegment(n) {
			return fmt.Errorf("%s: name %q is not a valid object name: %w", r, n, ErrInvalidRef)
		}
	}
	if r.Key != "" {
		if err := checkKey(r.Key); err != nil {
			return fmt.Errorf("%s: %w", r, err)
		}
	}
	return nil
}

// pathSegment mirrors apimachinery's IsValidPathSegmentName: the name must not
// be "." or ".." and must not contain "/" or "%".
func pathSegment(n string) bool {
	return n != "." && n != ".." && !strings.ContainsAny(n, "/%")
}

// checkKey reports why key is not a plain file name, wrapping ErrBadKey.
// Besides what makes a name unusable as a file, names starting with ".." are
// refused as the API server does (they are reserved for atomic writers).
func checkKey(key string) error {
	var why string
	switch {
	case key == "":
		why = "empty"
	case key == "." || key == "..":
		why = "a directory name"
	case strings.HasPrefix(key, ".."):
		why = `starts with ".."`
	case strings.ContainsRune(key, '/'):
		why = `contains "/"`
	case strings.ContainsRune(key, 0):
		why = "contains a NUL byte"
	case len(key) > MaxKeyLength:
		why = fmt.Sprintf("longer than %d bytes", MaxKeyLength)
	default:
		return nil
	}
	return fmt.Errorf("key %q: %s: %w", key, why, ErrBadKey)
}
