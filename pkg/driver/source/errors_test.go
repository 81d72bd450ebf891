package source

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
)

// TestStageErrors checks every sentinel: errors.Is finds it, the message names
// the object and the key involved, and nothing is staged.
func TestStageErrors(t *testing.T) {
	big := strings.Repeat("x", MaxVISOSize+1)
	side := strings.Repeat("y", 20<<20)
	tests := []struct {
		name    string
		objs    []runtime.Object
		noCl    bool
		ref     Ref
		want    error
		mention []string // substrings the message must contain
	}{
		{"no cluster", nil, true, Ref{Namespace: testNS, ConfigMap: "win"},
			ErrNoCluster, []string{"configmap vms/win"}},
		{"no cluster, key named", nil, true, Ref{Namespace: testNS, ConfigMap: "win", Key: "i.viso"},
			ErrNoCluster, []string{"configmap vms/win", `"i.viso"`}},
		{"configmap missing", nil, false, Ref{Namespace: testNS, ConfigMap: "win", Key: "i.viso"},
			ErrObjectNotFound, []string{"configmap vms/win", `"i.viso"`}},
		{"secret missing", nil, false, Ref{Namespace: testNS, Secret: "creds"},
			ErrObjectNotFound, []string{"secret vms/creds"}},
		{"key missing",
			[]runtime.Object{configMap("win", "1", map[string]string{"a.viso": visoText(), "b": ""}, nil)}, false,
			Ref{Namespace: testNS, ConfigMap: "win", Key: "install.viso"},
			ErrKeyNotFound, []string{"configmap vms/win", `"install.viso"`, `"a.viso", "b"`}},
		{"no viso key",
			[]runtime.Object{configMap("win", "1", map[string]string{"readme.txt": ""}, map[string][]byte{"x.visox": nil})}, false,
			Ref{Namespace: testNS, ConfigMap: "win"},
			ErrNoVISOKey, []string{"configmap vms/win", `"readme.txt"`, `"x.visox"`}},
		{"empty object",
			[]runtime.Object{configMap("win", "1", nil, nil)}, false,
			Ref{Namespace: testNS, ConfigMap: "win"},
			ErrNoVISOKey, []string{"configmap vms/win", "keys: none"}},
		{"ambiguous",
			[]runtime.Object{configMap("win", "1", map[string]string{"a.viso": ""}, map[string][]byte{"b.viso": nil})}, false,
			Ref{Namespace: testNS, ConfigMap: "win"},
			ErrAmbiguousKey, []string{"configmap vms/win", `"a.viso", "b.viso"`, "key attribute"}},
		{"ambiguous secret",
			[]runtime.Object{secret("s", "1", map[string][]byte{"a.viso": nil, "B.Viso": nil})}, false,
			Ref{Namespace: testNS, Secret: "s"},
			ErrAmbiguousKey, []string{"secret vms/s", `"B.Viso", "a.viso"`}},
		{"slash in a key",
			[]runtime.Object{configMap("win", "1", map[string]string{"a.viso": "", "../../etc/passwd": ""}, nil)}, false,
			Ref{Namespace: testNS, ConfigMap: "win"},
			ErrBadKey, []string{"configmap vms/win", `"../../etc/passwd"`}},
		{"dot-dot key",
			[]runtime.Object{configMap("win", "1", map[string]string{"a.viso": "", "..": ""}, nil)}, false,
			Ref{Namespace: testNS, ConfigMap: "win"},
			ErrBadKey, []string{"configmap vms/win", `key ".."`}},
		{"dot key",
			[]runtime.Object{secret("s", "1", map[string][]byte{"a.viso": nil, ".": nil})}, false,
			Ref{Namespace: testNS, Secret: "s"},
			ErrBadKey, []string{"secret vms/s", `key "."`}},
		{"empty key",
			[]runtime.Object{configMap("win", "1", map[string]string{"a.viso": "", "": ""}, nil)}, false,
			Ref{Namespace: testNS, ConfigMap: "win"},
			ErrBadKey, []string{"configmap vms/win", `key ""`}},
		{"key starting with ..",
			[]runtime.Object{configMap("win", "1", map[string]string{"a.viso": "", "..data": ""}, nil)}, false,
			Ref{Namespace: testNS, ConfigMap: "win"},
			ErrBadKey, []string{"configmap vms/win", `"..data"`}},
		{"NUL in a key",
			[]runtime.Object{configMap("win", "1", map[string]string{"a.viso": "", "a\x00b": ""}, nil)}, false,
			Ref{Namespace: testNS, ConfigMap: "win"},
			ErrBadKey, []string{"configmap vms/win", `"a\x00b"`}},
		{"overlong key",
			[]runtime.Object{configMap("win", "1", map[string]string{"a.viso": "", strings.Repeat("k", 254): ""}, nil)}, false,
			Ref{Namespace: testNS, ConfigMap: "win"},
			ErrBadKey, []string{"configmap vms/win", "longer than 253"}},
		{"key in data and binaryData",
			[]runtime.Object{configMap("win", "1", map[string]string{"a.viso": "", "dup": ""}, map[string][]byte{"dup": nil})}, false,
			Ref{Namespace: testNS, ConfigMap: "win"},
			ErrBadKey, []string{"configmap vms/win", `"dup"`, "both data and binaryData"}},
		{"bad key named by the ref", nil, false,
			Ref{Namespace: testNS, ConfigMap: "win", Key: "x/../../y.viso"},
			ErrBadKey, []string{"configmap vms/win", `"x/../../y.viso"`}},
		{"viso too large",
			[]runtime.Object{configMap("win", "1", map[string]string{"a.viso": big}, nil)}, false,
			Ref{Namespace: testNS, ConfigMap: "win"},
			ErrTooLarge, []string{"configmap vms/win", `"a.viso"`, "32 MiB"}},
		{"total too large",
			[]runtime.Object{secret("s", "1", map[string][]byte{"a.viso": []byte(visoText()),
				"s1": []byte(side), "s2": []byte(side), "s3": []byte(side), "s4": []byte(side)})}, false,
			Ref{Namespace: testNS, Secret: "s"},
			ErrTooLarge, []string{"secret vms/s", `"a.viso"`, "64 MiB"}},
		{"no namespace", nil, false, Ref{ConfigMap: "win"}, ErrInvalidRef, []string{"configmap /win"}},
		{"neither name", nil, false, Ref{Namespace: testNS}, ErrInvalidRef, []string{"vms/"}},
		{"both names", nil, false, Ref{Namespace: testNS, ConfigMap: "a", Secret: "b"}, ErrInvalidRef, []string{`"a"`, `"b"`}},
		{"slash in the name", nil, false, Ref{Namespace: testNS, ConfigMap: "a/b"}, ErrInvalidRef, []string{`"a/b"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Source{}
			if !tt.noCl {
				s.Client = newClient(t, tt.objs...)
			}
			parent := t.TempDir()
			dir := filepath.Join(parent, "v")
			_, err := s.Stage(t.Context(), tt.ref, dir)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Stage error = %v, want %v", err, tt.want)
			}
			for _, m := range tt.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("message %q does not mention %s", err, m)
				}
			}
			if ents, _ := os.ReadDir(parent); len(ents) != 0 {
				t.Errorf("a failed Stage left %d entries in the parent", len(ents))
			}
		})
	}
}

// TestObjectNotFoundKeepsAPIError: callers can still ask the API error.
func TestObjectNotFoundKeepsAPIError(t *testing.T) {
	s := &Source{Client: newClient(t)}
	_, err := s.Stage(t.Context(), Ref{Namespace: testNS, ConfigMap: "gone"}, filepath.Join(t.TempDir(), "v"))
	if !apierrors.IsNotFound(err) || !errors.Is(err, ErrObjectNotFound) {
		t.Errorf("error %v: want both ErrObjectNotFound and an API NotFound", err)
	}
}

func TestNilSourceHasNoCluster(t *testing.T) {
	var s *Source
	if _, err := s.Stage(t.Context(), Ref{Namespace: testNS, ConfigMap: "a"}, filepath.Join(t.TempDir(), "v")); !errors.Is(err, ErrNoCluster) {
		t.Errorf("Stage on a nil Source: %v", err)
	}
	if _, _, err := s.RemoveUnattended(t.Context(), Ref{Namespace: testNS, ConfigMap: "a"}); !errors.Is(err, ErrNoCluster) {
		t.Errorf("RemoveUnattended on a nil Source: %v", err)
	}
	if _, err := s.PVCAnnotation(t.Context(), testNS, "p", ConfigMapAnnotation); !errors.Is(err, ErrNoCluster) {
		t.Errorf("PVCAnnotation on a nil Source: %v", err)
	}
}
