package source

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/csi-viso/csi-viso/pkg/viso/argv"
)

// captureWarnings collects warnf output for one test.
func captureWarnings(t *testing.T) *[]string {
	t.Helper()
	var got []string
	old := warnf
	warnf = func(format string, args ...any) { got = append(got, fmt.Sprintf(format, args...)) }
	t.Cleanup(func() { warnf = old })
	return &got
}

func getCM(t *testing.T, c *fake.Clientset, name string) *corev1.ConfigMap {
	t.Helper()
	cm, err := c.CoreV1().ConfigMaps(testNS).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cm
}

func cmKeys(cm *corev1.ConfigMap) []string {
	ks := slices.Collect(maps.Keys(cm.Data))
	ks = append(ks, slices.Collect(maps.Keys(cm.BinaryData))...)
	slices.Sort(ks)
	return ks
}

// decoyVISO references, by the VirtualBox rule's reading:
//   - Unattended-1-autounattend.xml: a key of the folder → removed;
//   - keep.xml: not an Unattended- name → kept;
//   - ../Unattended-x, /abs/Unattended-y: outside the folder → kept although
//     keys of those base names exist;
//   - /csi-viso-object/a/Unattended-z: absolute, happens to be where the rule
//     is evaluated; the author cannot know the folder → kept;
//   - Unattended-1-missing.txt, sub/Unattended-nested: selected but not keys
//     of the object → a warning each, nothing removed;
//   - --volume-id=Unattended-vol: an option's value after '=' counts, like in
//     VirtualBox, but is no key → a warning;
//   - -Unattended-opt: an option → ignored.
var decoyVISO = visoText(
	"--volume-id=Unattended-vol",
	"/autounattend.xml=Unattended-1-autounattend.xml",
	"/keep.xml=keep.xml",
	"/x=../Unattended-x",
	"/y=/abs/Unattended-y",
	"/z=/csi-viso-object/a/Unattended-z",
	"/m=Unattended-1-missing.txt",
	"/n=sub/Unattended-nested",
	"-Unattended-opt",
)

func TestRemoveUnattendedDecoys(t *testing.T) {
	warns := captureWarnings(t)
	c := newClient(t, configMap("win", "5", map[string]string{
		"install.viso":                  decoyVISO,
		"Unattended-1-autounattend.xml": "<unattend>password</unattend>",
		"keep.xml":                      "keep",
		"Unattended-1-other":            "not referenced",
		"Unattended-x":                  "decoy",
		"Unattended-y":                  "decoy",
		"Unattended-z":                  "decoy",
		"Unattended-opt":                "decoy",
	}, nil))
	removed, deleted, err := (&Source{Client: c}).RemoveUnattended(t.Context(), Ref{Namespace: testNS, ConfigMap: "win"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"install.viso", "Unattended-1-autounattend.xml"}; !slices.Equal(removed, want) {
		t.Errorf("removed %q, want %q", removed, want)
	}
	if deleted {
		t.Error("the object was deleted although keys are left")
	}
	cm := getCM(t, c, "win")
	wantLeft := []string{"Unattended-1-other", "Unattended-opt", "Unattended-x", "Unattended-y", "Unattended-z", "keep.xml"}
	if got := cmKeys(cm); !slices.Equal(got, wantLeft) {
		t.Errorf("keys left %q, want %q", got, wantLeft)
	}
	if cm.Data["Unattended-x"] != "decoy" || cm.Data["keep.xml"] != "keep" {
		t.Error("a kept key's value changed")
	}
	joined := strings.Join(*warns, "\n")
	for _, w := range []string{`"Unattended-1-missing.txt"`, `"sub/Unattended-nested"`, `"Unattended-vol"`} {
		if !strings.Contains(joined, w) {
			t.Errorf("no warning about %s in %q", w, joined)
		}
	}
	if len(*warns) != 3 {
		t.Errorf("%d warnings, want 3: %q", len(*warns), *warns)
	}
	for _, w := range *warns {
		if !strings.Contains(w, "configmap vms/win") || !strings.Contains(w, `"install.viso"`) {
			t.Errorf("warning %q does not name the object and key", w)
		}
	}
}

func TestRemoveUnattendedDeletesOnlyWhenEmpty(t *testing.T) {
	viso := visoText("/a=./Unattended-1-a.xml", "/b=Unattended-1-b.bin", "/c=dir/../Unattended-1-c")
	tests := []struct {
		name        string
		data        map[string]string
		binary      map[string][]byte
		wantDeleted bool
		wantLeft    []string
	}{
		{"only removed keys", map[string]string{"i.viso": viso, "Unattended-1-a.xml": "a", "Unattended-1-c": "c"},
			map[string][]byte{"Unattended-1-b.bin": {1}}, true, nil},
		{"only the VISO", map[string]string{"i.viso": viso}, nil, true, nil},
		{"one unreferenced key", map[string]string{"i.viso": viso, "Unattended-1-a.xml": "a", "notes": ""},
			map[string][]byte{"Unattended-1-b.bin": {1}}, false, []string{"notes"}},
		{"one unreferenced binary key", map[string]string{"i.viso": viso},
			map[string][]byte{"Unattended-1-b.bin": {1}, "Unattended-2-b.bin": {2}}, false, []string{"Unattended-2-b.bin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			captureWarnings(t)
			c := newClient(t, configMap("win", "5", tt.data, tt.binary))
			_, deleted, err := (&Source{Client: c}).RemoveUnattended(t.Context(), Ref{Namespace: testNS, ConfigMap: "win", Key: "i.viso"})
			if err != nil {
				t.Fatal(err)
			}
			if deleted != tt.wantDeleted {
				t.Errorf("objectDeleted = %v, want %v", deleted, tt.wantDeleted)
			}
			cm, err := c.CoreV1().ConfigMaps(testNS).Get(t.Context(), "win", metav1.GetOptions{})
			if tt.wantDeleted {
				if !apierrors.IsNotFound(err) {
					t.Errorf("object still there: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cmKeys(cm); !slices.Equal(got, tt.wantLeft) {
				t.Errorf("keys left %q, want %q", got, tt.wantLeft)
			}
		})
	}
}

func TestRemoveUnattendedSecret(t *testing.T) {
	c := newClient(t, secret("creds", "9", map[string][]byte{
		"seed.viso":            []byte(visoText("/user-data=Unattended-user-data", "/meta-data=meta-data")),
		"Unattended-user-data": []byte("password"),
		"meta-data":            []byte("id"),
	}))
	removed, deleted, err := (&Source{Client: c}).RemoveUnattended(t.Context(), Ref{Namespace: testNS, Secret: "creds"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(removed, []string{"seed.viso", "Unattended-user-data"}) || deleted {
		t.Errorf("removed %q, deleted %v", removed, deleted)
	}
	s, err := c.CoreV1().Secrets(testNS).Get(t.Context(), "creds", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(s.Data)); !slices.Equal(got, []string{"meta-data"}) {
		t.Errorf("secret keys left %q", got)
	}

	// Second secret: only removable keys, so it is deleted.
	c = newClient(t, secret("once", "9", map[string][]byte{
		"seed.viso": []byte(visoText("/u=Unattended-u")), "Unattended-u": []byte("pw"),
	}))
	if _, deleted, err := (&Source{Client: c}).RemoveUnattended(t.Context(), Ref{Namespace: testNS, Secret: "once"}); err != nil || !deleted {
		t.Fatalf("deleted %v, err %v", deleted, err)
	}
	if _, err := c.CoreV1().Secrets(testNS).Get(t.Context(), "once", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("secret still there: %v", err)
	}
}

var cmResource = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

// changeStored applies change to the stored ConfigMap "win" and gives it a
// new resourceVersion, straight through the tracker: a reactor runs with the
// fake's lock held and must not call the clientset.
func changeStored(c *fake.Clientset, change func(*corev1.ConfigMap)) error {
	obj, err := c.Tracker().Get(cmResource, testNS, "win")
	if err != nil {
		return err
	}
	cm := obj.(*corev1.ConfigMap)
	change(cm)
	cm.ResourceVersion += "-changed"
	return c.Tracker().Update(cmResource, cm, testNS)
}

// conflictOnce makes the first update or delete of verb fail with a Conflict,
// after applying change to the stored object, as a concurrent writer would.
func conflictOnce(t *testing.T, c *fake.Clientset, verb string, change func(*corev1.ConfigMap)) *int {
	t.Helper()
	calls := 0
	c.PrependReactor(verb, "configmaps", func(a k8stesting.Action) (bool, runtime.Object, error) {
		calls++
		if calls > 1 {
			return false, nil, nil
		}
		if err := changeStored(c, change); err != nil {
			return true, nil, err
		}
		return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "configmaps"}, "win", errors.New("changed meanwhile"))
	})
	return &calls
}

func TestRemoveUnattendedRetriesOnUpdateConflict(t *testing.T) {
	viso := visoText("/a=Unattended-1-a")
	c := newClient(t, configMap("win", "5", map[string]string{"i.viso": viso, "Unattended-1-a": "pw", "keep": "k"}, nil))
	calls := conflictOnce(t, c, "update", func(cm *corev1.ConfigMap) { cm.Data["late"] = "added meanwhile" })
	removed, deleted, err := (&Source{Client: c}).RemoveUnattended(t.Context(), Ref{Namespace: testNS, ConfigMap: "win"})
	if err != nil {
		t.Fatal(err)
	}
	if *calls != 2 {
		t.Errorf("%d update attempts, want 2", *calls)
	}
	if !slices.Equal(removed, []string{"i.viso", "Unattended-1-a"}) || deleted {
		t.Errorf("removed %q, deleted %v", removed, deleted)
	}
	if got := cmKeys(getCM(t, c, "win")); !slices.Equal(got, []string{"keep", "late"}) {
		t.Errorf("keys left %q: the concurrent change must survive", got)
	}
}

func TestRemoveUnattendedDeleteConflictRecomputes(t *testing.T) {
	// The object would become empty, but a key is added before the delete
	// lands: the retry must keep the object and the new key.
	c := newClient(t, configMap("win", "5", map[string]string{"i.viso": visoText("/a=Unattended-1-a"), "Unattended-1-a": "pw"}, nil))
	calls := conflictOnce(t, c, "delete", func(cm *corev1.ConfigMap) { cm.Data["late"] = "added meanwhile" })
	removed, deleted, err := (&Source{Client: c}).RemoveUnattended(t.Context(), Ref{Namespace: testNS, ConfigMap: "win"})
	if err != nil {
		t.Fatal(err)
	}
	if *calls != 1 || deleted || len(removed) != 2 {
		t.Errorf("delete calls %d, deleted %v, removed %q", *calls, deleted, removed)
	}
	if got := cmKeys(getCM(t, c, "win")); !slices.Equal(got, []string{"late"}) {
		t.Errorf("keys left %q", got)
	}
}

func TestRemoveUnattendedStaleResourceVersionRefused(t *testing.T) {
	// Without the conflict reactor of conflictOnce: the RV-checking fake
	// refuses a delete whose precondition is stale. A change between the GET
	// and the write is simulated by a reactor on get that bumps the object
	// after handing out the old copy, once.
	c := newClient(t, configMap("win", "5", map[string]string{"i.viso": visoText("/a=Unattended-1-a"), "Unattended-1-a": "pw"}, nil))
	gets := 0
	c.PrependReactor("get", "configmaps", func(a k8stesting.Action) (bool, runtime.Object, error) {
		gets++
		obj, err := c.Tracker().Get(a.GetResource(), a.GetNamespace(), a.(k8stesting.GetAction).GetName())
		if err != nil || gets > 1 {
			return true, obj, err
		}
		if err := changeStored(c, func(cm *corev1.ConfigMap) { cm.Data["late"] = "x" }); err != nil {
			return true, nil, err
		}
		return true, obj, nil
	})
	_, deleted, err := (&Source{Client: c}).RemoveUnattended(t.Context(), Ref{Namespace: testNS, ConfigMap: "win"})
	if err != nil || deleted {
		t.Fatalf("deleted %v, err %v", deleted, err)
	}
	if gets != 2 {
		t.Errorf("%d GETs, want 2 (one retry)", gets)
	}
	if got := cmKeys(getCM(t, c, "win")); !slices.Equal(got, []string{"late"}) {
		t.Errorf("keys left %q", got)
	}
}

func TestRemoveUnattendedGivesUpOnPersistentConflict(t *testing.T) {
	c := newClient(t, configMap("win", "5", map[string]string{"i.viso": visoText(), "keep": ""}, nil))
	c.PrependReactor("update", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "configmaps"}, "win", errors.New("always"))
	})
	_, _, err := (&Source{Client: c}).RemoveUnattended(t.Context(), Ref{Namespace: testNS, ConfigMap: "win"})
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "configmap vms/win") || !strings.Contains(err.Error(), `"i.viso"`) {
		t.Errorf("error %v: want a conflict naming object and key", err)
	}
}

func TestRemoveUnattendedUnparsableVISORemovesNothing(t *testing.T) {
	tests := []struct {
		name, viso, mention string
		cause               error
	}{
		{"no marker", "just text\n/a=Unattended-1-a\n", "i.viso:1", nil},
		{"bad UUID", "--iprt-iso-maker-file-marker\n  not-a-uuid\n/a=Unattended-1-a\n", "i.viso:2", nil},
		{"bad UTF-8", visoText("/a=Unattended-1-a", "/b=\xff"), "i.viso:3", argv.ErrEncoding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := configMap("win", "5", map[string]string{"i.viso": tt.viso, "Unattended-1-a": "pw"}, nil)
			c := newClient(t, orig.DeepCopy())
			removed, deleted, err := (&Source{Client: c}).RemoveUnattended(t.Context(), Ref{Namespace: testNS, ConfigMap: "win"})
			if !errors.Is(err, ErrInvalidVISO) || removed != nil || deleted {
				t.Fatalf("removed %q, deleted %v, err %v; want ErrInvalidVISO and nothing removed", removed, deleted, err)
			}
			var ae *argv.Error
			if !errors.As(err, &ae) {
				t.Errorf("error %v does not carry an *argv.Error", err)
			}
			if tt.cause != nil && !errors.Is(err, tt.cause) {
				t.Errorf("error %v does not wrap %v", err, tt.cause)
			}
			for _, m := range []string{"configmap vms/win", tt.mention} {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("message %q does not mention %q", err, m)
				}
			}
			for _, a := range c.Actions() {
				if a.GetVerb() != "get" {
					t.Errorf("a %s was sent for an unparsable VISO", a.GetVerb())
				}
			}
			if got := getCM(t, c, "win"); !maps.Equal(got.Data, orig.Data) {
				t.Errorf("object changed: %q", got.Data)
			}
		})
	}
}

func TestRemoveUnattendedErrors(t *testing.T) {
	tests := []struct {
		name string
		objs []runtime.Object
		ref  Ref
		want error
	}{
		{"object missing", nil, Ref{Namespace: testNS, ConfigMap: "win"}, ErrObjectNotFound},
		{"key missing", []runtime.Object{configMap("win", "1", map[string]string{"a.viso": visoText()}, nil)},
			Ref{Namespace: testNS, ConfigMap: "win", Key: "b.viso"}, ErrKeyNotFound},
		{"no viso key", []runtime.Object{configMap("win", "1", map[string]string{"a": ""}, nil)},
			Ref{Namespace: testNS, ConfigMap: "win"}, ErrNoVISOKey},
		{"ambiguous", []runtime.Object{configMap("win", "1", map[string]string{"a.viso": visoText(), "b.viso": visoText()}, nil)},
			Ref{Namespace: testNS, ConfigMap: "win"}, ErrAmbiguousKey},
		{"bad key", []runtime.Object{configMap("win", "1", map[string]string{"a.viso": visoText("/x=Unattended-1"), "a/Unattended-1": ""}, nil)},
			Ref{Namespace: testNS, ConfigMap: "win"}, ErrBadKey},
		{"invalid ref", nil, Ref{Namespace: testNS}, ErrInvalidRef},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, tt.objs...)
			_, _, err := (&Source{Client: c}).RemoveUnattended(t.Context(), tt.ref)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), "vms/") {
				t.Errorf("message %q does not name the object", err)
			}
			for _, a := range c.Actions() {
				if a.GetVerb() != "get" {
					t.Errorf("a %s was sent", a.GetVerb())
				}
			}
		})
	}
}

func TestRemoveUnattendedTwice(t *testing.T) {
	c := newClient(t, configMap("win", "5", map[string]string{"i.viso": visoText("/a=Unattended-1-a"), "Unattended-1-a": "pw", "keep": ""}, nil))
	s := &Source{Client: c}
	ref := Ref{Namespace: testNS, ConfigMap: "win"}
	if _, _, err := s.RemoveUnattended(t.Context(), ref); err != nil {
		t.Fatal(err)
	}
	// The VISO key is gone: a retried DeleteVolume sees ErrNoVISOKey and
	// nothing else is touched.
	if _, _, err := s.RemoveUnattended(t.Context(), ref); !errors.Is(err, ErrNoVISOKey) {
		t.Errorf("second call: %v, want ErrNoVISOKey", err)
	}
	if got := cmKeys(getCM(t, c, "win")); !slices.Equal(got, []string{"keep"}) {
		t.Errorf("keys left %q", got)
	}
}
