package chart

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// Object is one decoded manifest: Typed is the k8s.io/api struct when the kind is a
// built-in one (nil for others, e.g. ServiceMonitor, VirtualMachine); Raw is always the
// generic form, used to compare manifests field by field.
type Object struct {
	Kind, Namespace, Name string
	Typed                 runtime.Object
	Raw                   map[string]any
}

func (o Object) Key() string { return o.Kind + "/" + o.Namespace + "/" + o.Name }

// Objects is a decoded set of manifests in file order.
type Objects struct{ List []Object }

// decodeAll splits a multi-document YAML stream and decodes every non-empty document.
func decodeAll(data []byte) (*Objects, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	objs := &Objects{}
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("split YAML: %w", err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		var raw map[string]any
		if err := yaml.Unmarshal(doc, &raw); err != nil {
			return nil, fmt.Errorf("YAML: %w\n%s", err, doc)
		}
		u := unstructured.Unstructured{Object: raw}
		o := Object{Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName(), Raw: raw}
		if o.Kind == "" || o.Name == "" {
			return nil, fmt.Errorf("document without kind or name:\n%s", doc)
		}
		if scheme.Scheme.Recognizes(u.GroupVersionKind()) {
			// Strict: a misspelt or misplaced field is an error, as the API server's
			// field validation would report it.
			typed, _, err := scheme.Codecs.UniversalDeserializer().Decode(doc, nil, nil)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", o.Kind, o.Name, err)
			}
			if err := strictCheck(doc, typed); err != nil {
				return nil, fmt.Errorf("%s %s: %w", o.Kind, o.Name, err)
			}
			o.Typed = typed
		}
		objs.List = append(objs.List, o)
	}
}

// strictCheck fails when doc has a field the typed object does not know.
func strictCheck(doc []byte, typed runtime.Object) error {
	js, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return err
	}
	fresh, err := scheme.Scheme.New(typed.GetObjectKind().GroupVersionKind())
	if err != nil {
		return err
	}
	return yaml.UnmarshalStrict(js, fresh)
}

// stripComments drops whole-line YAML comments (documents made only of comments are empty).
func stripComments(doc []byte) []byte {
	var out [][]byte
	for _, l := range bytes.Split(doc, []byte("\n")) {
		if t := bytes.TrimSpace(l); len(t) > 0 && t[0] != '#' {
			out = append(out, l)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

// decodeFiles decodes the YAML files matching the glob patterns, in name order.
func decodeFiles(patterns ...string) (*Objects, error) {
	all := &Objects{}
	for _, pat := range patterns {
		files, err := filepath.Glob(pat)
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("no file matches %s", pat)
		}
		sort.Strings(files)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			objs, err := decodeAll(b)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			all.List = append(all.List, objs.List...)
		}
	}
	return all, nil
}

func (s *Objects) find(kind, name string) *Object {
	for i := range s.List {
		if s.List[i].Kind == kind && s.List[i].Name == name {
			return &s.List[i]
		}
	}
	return nil
}

func (s *Objects) kinds(kind string) []Object {
	var out []Object
	for _, o := range s.List {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

func (s *Objects) DaemonSet(name string) *appsv1.DaemonSet {
	if o := s.find("DaemonSet", name); o != nil {
		return o.Typed.(*appsv1.DaemonSet)
	}
	return nil
}

func (s *Objects) Deployment(name string) *appsv1.Deployment {
	if o := s.find("Deployment", name); o != nil {
		return o.Typed.(*appsv1.Deployment)
	}
	return nil
}

func (s *Objects) CSIDriver(name string) *storagev1.CSIDriver {
	if o := s.find("CSIDriver", name); o != nil {
		return o.Typed.(*storagev1.CSIDriver)
	}
	return nil
}

func (s *Objects) StorageClass(name string) *storagev1.StorageClass {
	if o := s.find("StorageClass", name); o != nil {
		return o.Typed.(*storagev1.StorageClass)
	}
	return nil
}

// rules returns every RBAC rule of the ClusterRoles and Roles, labelled by their role.
func (s *Objects) rules() map[string][]rbacv1.PolicyRule {
	out := map[string][]rbacv1.PolicyRule{}
	for _, o := range s.List {
		switch r := o.Typed.(type) {
		case *rbacv1.ClusterRole:
			out["ClusterRole/"+r.Name] = r.Rules
		case *rbacv1.Role:
			out["Role/"+r.Name] = r.Rules
		}
	}
	return out
}

// container returns the named container of a pod spec.
func container(spec *corev1.PodSpec, name string) *corev1.Container {
	for i := range spec.Containers {
		if spec.Containers[i].Name == name {
			return &spec.Containers[i]
		}
	}
	return nil
}

func containerNames(spec *corev1.PodSpec) string {
	var n []string
	for _, c := range spec.Containers {
		n = append(n, c.Name)
	}
	return strings.Join(n, ",")
}

func volume(spec *corev1.PodSpec, name string) *corev1.Volume {
	for i := range spec.Volumes {
		if spec.Volumes[i].Name == name {
			return &spec.Volumes[i]
		}
	}
	return nil
}

func mount(c *corev1.Container, name string) *corev1.VolumeMount {
	for i := range c.VolumeMounts {
		if c.VolumeMounts[i].Name == name {
			return &c.VolumeMounts[i]
		}
	}
	return nil
}

func hasArg(c *corev1.Container, arg string) bool {
	for _, a := range c.Args {
		if a == arg {
			return true
		}
	}
	return false
}

// argWithPrefix returns the arguments starting with prefix.
func argsWithPrefix(c *corev1.Container, prefix string) []string {
	var out []string
	for _, a := range c.Args {
		if strings.HasPrefix(a, prefix) {
			out = append(out, a)
		}
	}
	return out
}
