package source

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

const testNS = "vms"

// visoText is a minimal valid VISO followed by lines.
func visoText(lines ...string) string {
	return "--iprt-iso-maker-file-marker-bourne-sh 3b1f7a1e-6d2c-4c1a-9d0e-2f5b8a7c9e10\n" +
		strings.Join(lines, "\n") + "\n"
}

func configMap(name, rv string, data map[string]string, binary map[string][]byte) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: testNS, ResourceVersion: rv,
			UID: types.UID("uid-" + name),
		},
		Data:       data,
		BinaryData: binary,
	}
}

func secret(name, rv string, data map[string][]byte) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: testNS, ResourceVersion: rv,
			UID: types.UID("uid-" + name),
		},
		Data: data,
	}
}

// newClient returns a fake clientset that behaves like the API server where
// this package relies on it: updates and deletes are refused with a Conflict
// when the resourceVersion (and for deletes the UID) precondition does not
// hold, and every successful update gives the object a new resourceVersion.
// The plain fake tracker does neither.
func newClient(t *testing.T, objs ...runtime.Object) *fake.Clientset {
	t.Helper()
	c := fake.NewClientset(objs...)
	var rv atomic.Int64
	rv.Store(1000)
	c.PrependReactor("update", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		obj := a.(k8stesting.UpdateAction).GetObject()
		acc, err := meta.Accessor(obj)
		if err != nil {
			return true, nil, err
		}
		cur, err := c.Tracker().Get(a.GetResource(), a.GetNamespace(), acc.GetName())
		if err != nil {
			return true, nil, err
		}
		curAcc, _ := meta.Accessor(cur)
		if acc.GetResourceVersion() != curAcc.GetResourceVersion() {
			return true, nil, apierrors.NewConflict(a.GetResource().GroupResource(), acc.GetName(),
				fmt.Errorf("resourceVersion %q is not the current %q", acc.GetResourceVersion(), curAcc.GetResourceVersion()))
		}
		acc.SetResourceVersion(fmt.Sprint(rv.Add(1)))
		if err := c.Tracker().Update(a.GetResource(), obj, a.GetNamespace()); err != nil {
			return true, nil, err
		}
		return true, obj, nil
	})
	c.PrependReactor("delete", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		da := a.(k8stesting.DeleteActionImpl)
		cur, err := c.Tracker().Get(a.GetResource(), a.GetNamespace(), da.Name)
		if err != nil {
			return true, nil, err
		}
		curAcc, _ := meta.Accessor(cur)
		if p := da.DeleteOptions.Preconditions; p != nil {
			if (p.UID != nil && *p.UID != curAcc.GetUID()) ||
				(p.ResourceVersion != nil && *p.ResourceVersion != curAcc.GetResourceVersion()) {
				return true, nil, apierrors.NewConflict(a.GetResource().GroupResource(), da.Name, errors.New("precondition failed"))
			}
		}
		return true, nil, c.Tracker().Delete(a.GetResource(), a.GetNamespace(), da.Name)
	})
	return c
}

// bumpConfigMap changes a ConfigMap through the client, as a user would.
func bumpConfigMap(t *testing.T, c *fake.Clientset, name string, change func(*corev1.ConfigMap)) {
	t.Helper()
	cm, err := c.CoreV1().ConfigMaps(testNS).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	change(cm)
	if _, err := c.CoreV1().ConfigMaps(testNS).Update(t.Context(), cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// listDir returns the sorted names in dir.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// readStaged returns name → content of the regular files in dir, checking
// that every entry is a regular file of mode 0400.
func readStaged(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range listDir(t, dir) {
		p := filepath.Join(dir, n)
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o400 {
			t.Errorf("%s: mode %v, want a regular file of mode 0400", n, fi.Mode())
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[n] = string(b)
	}
	return out
}
