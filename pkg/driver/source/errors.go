package source

import "errors"

// Sentinel errors; callers branch on them with errors.Is (the driver maps them
// to gRPC codes). Messages wrapping them always name the object and the key.
var (
	// ErrNoCluster: the Source has no Kubernetes client (no kubeconfig and no
	// in-cluster configuration).
	ErrNoCluster = errors.New("no Kubernetes API configured (no kubeconfig and no in-cluster config)")
	// ErrInvalidRef: the Ref itself is malformed (no namespace, neither or both
	// of ConfigMap and Secret, a name that cannot be a path segment).
	ErrInvalidRef = errors.New("invalid object reference")
	// ErrObjectNotFound: the ConfigMap, Secret or PersistentVolumeClaim does not exist.
	ErrObjectNotFound = errors.New("object not found")
	// ErrKeyNotFound: the key named by Ref.Key is not in the object.
	ErrKeyNotFound = errors.New("key not found")
	// ErrNoVISOKey: no Ref.Key was given and no key ends in ".viso".
	ErrNoVISOKey = errors.New(`no key ends in ".viso"`)
	// ErrAmbiguousKey: no Ref.Key was given and two or more keys end in ".viso".
	ErrAmbiguousKey = errors.New(`more than one key ends in ".viso"`)
	// ErrBadKey: a key is not a plain file name (empty, ".", "..", starting
	// with "..", containing "/" or NUL, longer than MaxKeyLength, or present in
	// both data and binaryData). The API server refuses all of these; the check
	// is there because the object is never trusted.
	ErrBadKey = errors.New("key is not a plain file name")
	// ErrTooLarge: the VISO key exceeds MaxVISOSize or all keys together exceed
	// MaxTotalSize.
	ErrTooLarge = errors.New("too large")
	// ErrInvalidVISO: RemoveUnattended could not parse the VISO key; the
	// wrapped *argv.Error names the key, line and argument.
	ErrInvalidVISO = errors.New("invalid VISO")
)

const (
	// MaxVISOSize is the largest VISO key accepted: VirtualBox's VISO limit
	// (viso.MaxFileSize, 32 MiB).
	MaxVISOSize = 32 << 20
	// MaxTotalSize bounds all keys of one object together (VISO and side
	// files): 64 MiB. The API server stores at most about 1.5 MiB per object, so
	// this never limits a real object; it bounds what a misbehaving or hostile
	// API endpoint can make the plugin write to the node's disk per volume.
	MaxTotalSize = 64 << 20
	// MaxKeyLength is the longest key accepted: Kubernetes' limit for
	// ConfigMap and Secret keys (253), below the file-name limit of 255.
	MaxKeyLength = 253
)
