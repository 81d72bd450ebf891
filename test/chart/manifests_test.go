package chart

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/csi-viso/csi-viso/pkg/driver"
)

var deployDir = filepath.Join(repoRoot, "deploy", "kubernetes")

func writeValues(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// helmOnlyLabels are the labels Helm charts add for Helm's bookkeeping; the plain
// manifests leave them out (nothing manages them but kubectl).
var helmOnlyLabels = []string{"helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/version"}

func stripHelmLabels(raw map[string]any) {
	md, _ := raw["metadata"].(map[string]any)
	if labels, ok := md["labels"].(map[string]any); ok {
		for _, l := range helmOnlyLabels {
			delete(labels, l)
		}
	}
}

// TestPlainManifestsMatchChart: deploy/kubernetes/*.yaml are the chart's objects for the
// default values (release csi-viso in namespace csi-viso), and unattended-install/ the
// objects unattendedInstall.enabled adds. Only the Namespace is plain-only: Helm leaves
// namespaces to `helm install --create-namespace`.
func TestPlainManifestsMatchChart(t *testing.T) {
	for _, tc := range []struct {
		name  string
		plain []string
		sets  []string
		base  bool // subtract the default rendering (compare only what the sets add)
	}{
		{"defaults", []string{filepath.Join(deployDir, "*.yaml")}, nil, false},
		{"unattended-install", []string{filepath.Join(deployDir, "unattended-install", "*.yaml")}, []string{"unattendedInstall.enabled=true"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plain, err := decodeFiles(tc.plain...)
			if err != nil {
				t.Fatal(err)
			}
			chart := render(t, nil, tc.sets...)
			skip := map[string]bool{}
			if tc.base {
				for _, o := range render(t, nil).List {
					skip[o.Key()] = true
				}
			}
			want := map[string]map[string]any{}
			for _, o := range chart.List {
				if skip[o.Key()] {
					continue
				}
				stripHelmLabels(o.Raw)
				want[o.Key()] = o.Raw
			}
			got := map[string]map[string]any{}
			for _, o := range plain.List {
				if o.Kind == "Namespace" {
					if o.Name != "csi-viso" {
						t.Errorf("namespace %s, want csi-viso", o.Name)
					}
					continue
				}
				got[o.Key()] = o.Raw
			}
			for k, w := range want {
				g, ok := got[k]
				if !ok {
					t.Errorf("%s: in the chart, missing from %v", k, tc.plain)
					continue
				}
				if !reflect.DeepEqual(g, w) {
					t.Errorf("%s differs from the chart:\n%s", k, diff(w, g, ""))
				}
			}
			for k := range got {
				if _, ok := want[k]; !ok {
					t.Errorf("%s: in %v, not in the chart", k, tc.plain)
				}
			}
		})
	}
}

// diff lists the paths where two decoded YAML values differ.
func diff(want, got any, path string) string {
	wm, wok := want.(map[string]any)
	gm, gok := got.(map[string]any)
	if wok && gok {
		keys := map[string]bool{}
		for k := range wm {
			keys[k] = true
		}
		for k := range gm {
			keys[k] = true
		}
		var ks []string
		for k := range keys {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		var b strings.Builder
		for _, k := range ks {
			b.WriteString(diff(wm[k], gm[k], path+"."+k))
		}
		return b.String()
	}
	wl, wok := want.([]any)
	gl, gok := got.([]any)
	if wok && gok && len(wl) == len(gl) {
		var b strings.Builder
		for i := range wl {
			b.WriteString(diff(wl[i], gl[i], fmt.Sprintf("%s[%d]", path, i)))
		}
		return b.String()
	}
	if reflect.DeepEqual(want, got) {
		return ""
	}
	return fmt.Sprintf("  %s: chart %v, plain %v\n", path, want, got)
}

// TestPlainManifestsApplyOrder: kubectl applies a folder's files in name order, so the
// Namespace must come first.
func TestPlainManifestsApplyOrder(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(deployDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s: %v", deployDir, err)
	}
	sort.Strings(files)
	objs, err := decodeFiles(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(objs.List) == 0 || objs.List[0].Kind != "Namespace" {
		t.Errorf("%s is applied first and does not start with the Namespace", files[0])
	}
}

// TestExamples: the examples decode strictly and use the driver's real names.
func TestExamples(t *testing.T) {
	objs, err := decodeFiles(filepath.Join(deployDir, "examples", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sc := render(t, nil).StorageClass("viso")
	if sc == nil {
		t.Fatal("the chart renders no StorageClass viso")
	}
	cms := map[string]*corev1.ConfigMap{}
	claims := map[string]*corev1.PersistentVolumeClaim{}
	for _, o := range objs.List {
		switch v := o.Typed.(type) {
		case *corev1.ConfigMap:
			cms[v.Name] = v
		case *corev1.PersistentVolumeClaim:
			claims[v.Name] = v
		}
	}
	for name, c := range claims {
		if c.Spec.StorageClassName == nil || *c.Spec.StorageClassName != sc.Name {
			t.Errorf("claim %s: storageClassName %v, want %s", name, c.Spec.StorageClassName, sc.Name)
		}
		if cm := c.Annotations[driver.AnnotationConfigMap]; cms[cm] == nil {
			t.Errorf("claim %s: annotation %s = %q names no example ConfigMap", name, driver.AnnotationConfigMap, cm)
		}
	}
	var inline, block, kubevirt int
	for _, o := range objs.List {
		if o.Kind == "VirtualMachine" {
			kubevirt++
			checkVirtualMachine(t, o, claims)
			continue
		}
		pod, ok := o.Typed.(*corev1.Pod)
		if !ok {
			continue
		}
		for _, v := range pod.Spec.Volumes {
			switch {
			case v.CSI != nil:
				inline++
				if v.CSI.Driver != driver.DriverName || cms[v.CSI.VolumeAttributes[driver.AttrConfigMap]] == nil {
					t.Errorf("pod %s: inline volume %+v does not use %s with an example ConfigMap", pod.Name, v.CSI, driver.DriverName)
				}
			case v.PersistentVolumeClaim != nil:
				c := claims[v.PersistentVolumeClaim.ClaimName]
				if c == nil {
					t.Errorf("pod %s: claim %s is not an example", pod.Name, v.PersistentVolumeClaim.ClaimName)
					continue
				}
				if c.Spec.VolumeMode != nil && *c.Spec.VolumeMode == corev1.PersistentVolumeBlock {
					block++
					if len(pod.Spec.Containers[0].VolumeDevices) != 1 {
						t.Errorf("pod %s: block claim without volumeDevices", pod.Name)
					}
				}
			}
		}
		for _, c := range pod.Spec.Containers {
			if strings.Contains(strings.Join(c.Command, " "), "disk.img") && !strings.Contains(strings.Join(c.Command, " "), "/iso/disk.img") {
				t.Errorf("pod %s reads disk.img outside /iso", pod.Name)
			}
		}
	}
	if inline == 0 || block == 0 || kubevirt == 0 {
		t.Errorf("examples: %d inline volumes, %d block claims, %d VirtualMachines; want each", inline, block, kubevirt)
	}
}

// checkVirtualMachine: the KubeVirt example mounts a viso claim as a cdrom, with an access
// mode KubeVirt accepts for live migration.
func checkVirtualMachine(t *testing.T, o Object, claims map[string]*corev1.PersistentVolumeClaim) {
	t.Helper()
	get := func(m any, keys ...string) any {
		for _, k := range keys {
			mm, ok := m.(map[string]any)
			if !ok {
				return nil
			}
			m = mm[k]
		}
		return m
	}
	tmpl := get(o.Raw, "spec", "template", "spec")
	cdroms := map[string]bool{}
	disks, _ := get(tmpl, "domain", "devices", "disks").([]any)
	for _, d := range disks {
		if get(d, "cdrom") != nil {
			cdroms[fmt.Sprint(get(d, "name"))] = true
		}
	}
	vols, _ := get(tmpl, "volumes").([]any)
	found := false
	for _, v := range vols {
		claim, _ := get(v, "persistentVolumeClaim", "claimName").(string)
		if claim == "" || !cdroms[fmt.Sprint(get(v, "name"))] {
			continue
		}
		c := claims[claim]
		if c == nil {
			t.Errorf("VirtualMachine %s: cdrom claim %s is not an example", o.Name, claim)
			continue
		}
		found = true
		for _, m := range c.Spec.AccessModes {
			if m != corev1.ReadWriteMany && m != corev1.ReadOnlyMany {
				t.Errorf("VirtualMachine claim %s: access mode %s; use ReadWriteMany (live migration) or ReadOnlyMany", claim, m)
			}
		}
	}
	if !found {
		t.Errorf("VirtualMachine %s has no cdrom backed by a viso claim", o.Name)
	}
}
