package chart

import (
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"

	"github.com/csi-viso/csi-viso/pkg/driver"
)

const (
	nodeName       = "csi-viso-node"
	controllerName = "csi-viso-controller"
)

func TestHelmLint(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"defaults", nil},
		{"everything on", []string{"--set", "sidecars.upstream.enabled=true,metrics.enabled=true,metrics.serviceMonitor.enabled=true,unattendedInstall.enabled=true,controller.replicas=2"}},
		{"e2e values", []string{"--values", filepath.Join(repoRoot, "test", "e2e", "values-e2e.yaml")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := helm(t, append([]string{"lint", "--strict", chartDir}, tc.args...)...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			// INFO lines (e.g. "icon is recommended") are advice; warnings and errors are not.
			for _, l := range strings.Split(out, "\n") {
				if strings.HasPrefix(l, "[WARNING]") || strings.HasPrefix(l, "[ERROR]") {
					t.Errorf("helm lint: %s", l)
				}
			}
		})
	}
}

func TestCSIDriver(t *testing.T) {
	objs := render(t, nil)
	d := objs.CSIDriver(driver.DriverName)
	if d == nil {
		t.Fatalf("no CSIDriver %s", driver.DriverName)
	}
	s := d.Spec
	if s.AttachRequired == nil || *s.AttachRequired {
		t.Errorf("attachRequired = %v, want false", s.AttachRequired)
	}
	if s.PodInfoOnMount == nil || !*s.PodInfoOnMount {
		t.Errorf("podInfoOnMount = %v, want true", s.PodInfoOnMount)
	}
	if s.RequiresRepublish == nil || *s.RequiresRepublish {
		t.Errorf("requiresRepublish = %v, want false", s.RequiresRepublish)
	}
	if s.FSGroupPolicy == nil || *s.FSGroupPolicy != storagev1.NoneFSGroupPolicy {
		t.Errorf("fsGroupPolicy = %v, want None", s.FSGroupPolicy)
	}
	want := []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecyclePersistent, storagev1.VolumeLifecycleEphemeral}
	if !reflect.DeepEqual(s.VolumeLifecycleModes, want) {
		t.Errorf("volumeLifecycleModes = %v, want %v", s.VolumeLifecycleModes, want)
	}
}

func TestNodeDefaults(t *testing.T) {
	objs := render(t, nil)
	ds := objs.DaemonSet(nodeName)
	if ds == nil {
		t.Fatal("no node DaemonSet")
	}
	spec := &ds.Spec.Template.Spec
	if got := containerNames(spec); got != "csi-viso,fuse-holder" {
		t.Errorf("containers = %s, want csi-viso (built-in registration and health) and fuse-holder", got)
	}
	h := container(spec, "fuse-holder")
	if h == nil || !slices.Equal(h.Args, []string{"fuse-holder", "--socket=/var/lib/csi-viso/fuse-holder.sock"}) {
		t.Errorf("fuse-holder container: %+v", h)
	} else if h.SecurityContext != nil && h.SecurityContext.Privileged != nil && *h.SecurityContext.Privileged {
		t.Error("fuse-holder needs no privileges, but is privileged")
	}
	c := container(spec, "csi-viso")
	if c == nil {
		t.Fatal("no csi-viso container")
	}
	if c.SecurityContext == nil || c.SecurityContext.Privileged == nil || !*c.SecurityContext.Privileged {
		t.Error("node plugin is not privileged")
	}
	for _, a := range []string{"driver", "--mode=node", "--endpoint=unix:///csi/csi.sock", "--node-id=$(NODE_NAME)",
		"--state-dir=/var/lib/csi-viso", "--kubelet-dir=/var/lib/kubelet", "--health-address=:9808", "--v=2",
		"--serve-mode=auto", "--fuse-holder=/var/lib/csi-viso/fuse-holder.sock"} {
		if !hasArg(c, a) {
			t.Errorf("node args %q lack %s", c.Args, a)
		}
	}
	if a := argsWithPrefix(c, "--kubelet-registration"); len(a) != 0 {
		t.Errorf("registration must be on by default (the flag's default), got %q", a)
	}
	if a := argsWithPrefix(c, "--media-root"); len(a) != 0 {
		t.Errorf("no media roots by default, got %q", a)
	}
	if a := argsWithPrefix(c, "--metrics-address"); len(a) != 0 {
		t.Errorf("metrics are off by default, got %q", a)
	}
	if len(c.Env) != 1 || c.Env[0].Name != "NODE_NAME" || c.Env[0].ValueFrom == nil ||
		c.Env[0].ValueFrom.FieldRef == nil || c.Env[0].ValueFrom.FieldRef.FieldPath != "spec.nodeName" {
		t.Errorf("NODE_NAME env = %+v, want spec.nodeName", c.Env)
	}
	checkLiveness(t, c, 9808)

	km := mount(c, "kubelet-dir")
	if km == nil || km.MountPath != "/var/lib/kubelet" || km.MountPropagation == nil ||
		*km.MountPropagation != corev1.MountPropagationBidirectional {
		t.Errorf("kubelet-dir mount = %+v, want /var/lib/kubelet Bidirectional", km)
	}
	checkHostPath(t, spec, "kubelet-dir", "/var/lib/kubelet")
	checkHostPath(t, spec, "plugin-dir", "/var/lib/kubelet/plugins/"+driver.DriverName)
	checkHostPath(t, spec, "dev", "/dev")
	checkHostPath(t, spec, "state-dir", "/var/lib/csi-viso")
	if m := mount(c, "dev"); m == nil || m.MountPath != "/dev" {
		t.Errorf("dev mount = %+v", m)
	}
	if m := mount(c, "plugin-dir"); m == nil || m.MountPath != "/csi" {
		t.Errorf("plugin-dir mount = %+v, want /csi (the endpoint's folder)", m)
	}
	if m := mount(c, "state-dir"); m == nil || m.MountPath != "/var/lib/csi-viso" {
		t.Errorf("state-dir mount = %+v", m)
	}

	if spec.PriorityClassName != "system-node-critical" {
		t.Errorf("priorityClassName = %q", spec.PriorityClassName)
	}
	if want := []corev1.Toleration{{Operator: corev1.TolerationOpExists}}; !reflect.DeepEqual(spec.Tolerations, want) {
		t.Errorf("tolerations = %+v, want tolerate-all", spec.Tolerations)
	}
	if spec.ServiceAccountName != nodeName || objs.find("ServiceAccount", nodeName) == nil {
		t.Errorf("service account %q not rendered", spec.ServiceAccountName)
	}
}

func TestControllerDefaults(t *testing.T) {
	objs := render(t, nil)
	dep := objs.Deployment(controllerName)
	if dep == nil {
		t.Fatal("no controller Deployment")
	}
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 1 {
		t.Errorf("replicas = %v, want 1", dep.Spec.Replicas)
	}
	spec := &dep.Spec.Template.Spec
	if got := containerNames(spec); got != "csi-viso,csi-provisioner" {
		t.Errorf("containers = %s", got)
	}
	c := container(spec, "csi-viso")
	for _, a := range []string{"driver", "--mode=controller", "--endpoint=unix:///csi/csi.sock", "--health-address=:9808"} {
		if !hasArg(c, a) {
			t.Errorf("controller args %q lack %s", c.Args, a)
		}
	}
	checkLiveness(t, c, 9808)
	p := container(spec, "csi-provisioner")
	for _, a := range []string{"--csi-address=/csi/csi.sock", "--extra-create-metadata"} {
		if !hasArg(p, a) {
			t.Errorf("provisioner args %q lack %s", p.Args, a)
		}
	}
	if a := argsWithPrefix(p, "--leader-election"); len(a) != 0 {
		t.Errorf("one replica needs no leader election, got %q", a)
	}
	if p.Image != "registry.k8s.io/sig-storage/csi-provisioner:v6.4.0" {
		t.Errorf("provisioner image = %s", p.Image)
	}
	if c.Image != "csi-viso:0.1.0" {
		t.Errorf("csi-viso image = %s, want the chart's appVersion as tag", c.Image)
	}
	if spec.SecurityContext == nil || spec.SecurityContext.RunAsNonRoot == nil || !*spec.SecurityContext.RunAsNonRoot {
		t.Error("controller pod does not run as non-root")
	}
	if objs.find("Role", controllerName+"-leader-election") != nil {
		t.Error("leader-election Role rendered for one replica")
	}
	sc := objs.StorageClass("viso")
	if sc == nil || sc.Provisioner != driver.DriverName || sc.ReclaimPolicy == nil || *sc.ReclaimPolicy != corev1.PersistentVolumeReclaimDelete {
		t.Errorf("StorageClass viso = %+v", sc)
	}
	for _, k := range []string{"Service", "ServiceMonitor"} {
		if l := objs.kinds(k); len(l) != 0 {
			t.Errorf("%s rendered with metrics off: %v", k, l[0].Key())
		}
	}
}

func checkLiveness(t *testing.T, c *corev1.Container, port int32) {
	t.Helper()
	p := c.LivenessProbe
	if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" || p.HTTPGet.Port.IntVal != port {
		t.Errorf("%s liveness probe = %+v, want GET /healthz on %d", c.Name, p, port)
	}
}

func checkHostPath(t *testing.T, spec *corev1.PodSpec, name, path string) {
	t.Helper()
	v := volume(spec, name)
	if v == nil || v.HostPath == nil || v.HostPath.Path != path {
		t.Errorf("volume %s = %+v, want hostPath %s", name, v, path)
	}
}

func TestMediaRoots(t *testing.T) {
	values := writeValues(t, `
mediaRoots:
  - name: isos
    hostPath: /srv/isos
  - name: installers
    volume:
      persistentVolumeClaim:
        claimName: installer-isos
        readOnly: true
`)
	objs := render(t, []string{values})
	spec := &objs.DaemonSet(nodeName).Spec.Template.Spec
	c := container(spec, "csi-viso")
	if got, want := argsWithPrefix(c, "--media-root"), []string{"--media-root=/media/isos", "--media-root=/media/installers"}; !slices.Equal(got, want) {
		t.Errorf("media root args = %q, want %q", got, want)
	}
	for _, name := range []string{"isos", "installers"} {
		m := mount(c, "media-"+name)
		if m == nil || m.MountPath != "/media/"+name || !m.ReadOnly {
			t.Errorf("media root %s mount = %+v, want read-only at /media/%s", name, m, name)
		}
	}
	checkHostPath(t, spec, "media-isos", "/srv/isos")
	if v := volume(spec, "media-installers"); v == nil || v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != "installer-isos" {
		t.Errorf("media-installers volume = %+v, want the PVC source as given", v)
	}
	// The controller gets no media roots: the node decides (see the chart README).
	if a := argsWithPrefix(container(&objs.Deployment(controllerName).Spec.Template.Spec, "csi-viso"), "--media-root"); len(a) != 0 {
		t.Errorf("controller media roots %q", a)
	}
}

// TestServeModeValues: serveMode reaches the plugin, a bad one is refused
// by the schema, and without the holder the plugin is not told of one.
func TestServeModeValues(t *testing.T) {
	objs := render(t, nil, "serveMode=reflink", "fuseHolder.enabled=false")
	spec := &objs.DaemonSet(nodeName).Spec.Template.Spec
	c := container(spec, "csi-viso")
	if !hasArg(c, "--serve-mode=reflink") || len(argsWithPrefix(c, "--fuse-holder")) != 0 || container(spec, "fuse-holder") != nil {
		t.Errorf("serveMode=reflink without holder: containers %s, args %q", containerNames(spec), c.Args)
	}
	if _, err := renderRaw(t, nil, "serveMode=fast"); err == nil {
		t.Error("serveMode=fast accepted")
	}
}

func TestUpstreamSidecars(t *testing.T) {
	objs := render(t, nil, "sidecars.upstream.enabled=true", "kubeletDir=/var/snap/k8s/kubelet")
	spec := &objs.DaemonSet(nodeName).Spec.Template.Spec
	if got := containerNames(spec); got != "csi-viso,fuse-holder,node-driver-registrar,liveness-probe" {
		t.Fatalf("node containers = %s", got)
	}
	c := container(spec, "csi-viso")
	if !hasArg(c, "--kubelet-registration=false") {
		t.Errorf("built-in registration still on next to node-driver-registrar: %q", c.Args)
	}
	if a := argsWithPrefix(c, "--health-address"); len(a) != 0 {
		t.Errorf("built-in health endpoint still on next to livenessprobe: %q", a)
	}
	if !hasArg(c, "--kubelet-dir=/var/snap/k8s/kubelet") {
		t.Errorf("kubeletDir not passed: %q", c.Args)
	}
	checkLiveness(t, c, 9808)
	r := container(spec, "node-driver-registrar")
	if !hasArg(r, "--kubelet-registration-path=/var/snap/k8s/kubelet/plugins/"+driver.DriverName+"/csi.sock") {
		t.Errorf("registrar args %q", r.Args)
	}
	checkHostPath(t, spec, "registration-dir", "/var/snap/k8s/kubelet/plugins_registry")
	checkHostPath(t, spec, "plugin-dir", "/var/snap/k8s/kubelet/plugins/"+driver.DriverName)
	if km := mount(c, "kubelet-dir"); km == nil || km.MountPath != "/var/snap/k8s/kubelet" {
		t.Errorf("kubelet-dir mount = %+v", km)
	}
	lp := container(spec, "liveness-probe")
	if !hasArg(lp, "--health-port=9808") || len(lp.Ports) != 1 || lp.Ports[0].ContainerPort != 9808 {
		t.Errorf("livenessprobe = args %q ports %+v", lp.Args, lp.Ports)
	}
	cspec := &objs.Deployment(controllerName).Spec.Template.Spec
	if got := containerNames(cspec); got != "csi-viso,csi-provisioner,liveness-probe" {
		t.Errorf("controller containers = %s", got)
	}
}

// writeVerb reports whether a verb changes objects.
func writeVerb(v string) bool { return v != "get" && v != "list" && v != "watch" }

func TestRBAC(t *testing.T) {
	for _, tc := range []struct {
		name       string
		sets       []string
		wantWriter bool
	}{
		{"default", nil, false},
		{"unattendedInstall", []string{"unattendedInstall.enabled=true"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := render(t, nil, tc.sets...)
			writers := map[string][]string{} // role -> write verbs on configmaps/secrets
			for role, rules := range objs.rules() {
				for _, r := range rules {
					for _, res := range r.Resources {
						if res != "configmaps" && res != "secrets" && res != "*" {
							continue
						}
						for _, v := range r.Verbs {
							if writeVerb(v) {
								writers[role] = append(writers[role], res+":"+v)
							}
						}
					}
				}
			}
			if !tc.wantWriter {
				if len(writers) != 0 {
					t.Errorf("ConfigMap/Secret write verbs without unattendedInstall: %v", writers)
				}
				return
			}
			role := "ClusterRole/csi-viso-unattended-install"
			got := writers[role]
			slices.Sort(got)
			want := []string{"configmaps:delete", "configmaps:update", "secrets:delete", "secrets:update"}
			if !slices.Equal(got, want) || len(writers) != 1 {
				t.Errorf("write verbs = %v, want exactly %v in %s", writers, want, role)
			}
			b := objs.find("ClusterRoleBinding", "csi-viso-unattended-install")
			if b == nil {
				t.Fatal("no binding for the unattended-install role")
			}
			var subjects []string
			for _, s := range b.Typed.(*rbacv1.ClusterRoleBinding).Subjects {
				subjects = append(subjects, s.Namespace+"/"+s.Name)
			}
			slices.Sort(subjects)
			if want := []string{"csi-viso/" + controllerName, "csi-viso/" + nodeName}; !slices.Equal(subjects, want) {
				t.Errorf("unattended-install subjects = %v, want %v", subjects, want)
			}
		})
	}
}

// TestRBACBindings: every binding names a rendered role and service account, and each
// plugin's service account can do what the driver and the provisioner call.
func TestRBACBindings(t *testing.T) {
	objs := render(t, nil, "controller.replicas=2")
	can := map[string]map[string]bool{} // "ns/sa" -> "group/resource:verb"
	grant := func(sa string, rules []rbacv1.PolicyRule) {
		if can[sa] == nil {
			can[sa] = map[string]bool{}
		}
		for _, r := range rules {
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					for _, v := range r.Verbs {
						can[sa][g+"/"+res+":"+v] = true
					}
				}
			}
		}
	}
	roles := objs.rules()
	for _, o := range objs.List {
		var subjects []rbacv1.Subject
		var ref rbacv1.RoleRef
		switch b := o.Typed.(type) {
		case *rbacv1.ClusterRoleBinding:
			subjects, ref = b.Subjects, b.RoleRef
		case *rbacv1.RoleBinding:
			subjects, ref = b.Subjects, b.RoleRef
		default:
			continue
		}
		rules, ok := roles[ref.Kind+"/"+ref.Name]
		if !ok {
			t.Errorf("%s refers to missing %s %s", o.Key(), ref.Kind, ref.Name)
		}
		for _, s := range subjects {
			if objs.find("ServiceAccount", s.Name) == nil {
				t.Errorf("%s binds missing ServiceAccount %s", o.Key(), s.Name)
			}
			grant(s.Namespace+"/"+s.Name, rules)
		}
	}
	need := map[string][]string{
		"csi-viso/" + nodeName: {"/configmaps:get", "/secrets:get"},
		"csi-viso/" + controllerName: {
			"/persistentvolumes:create", "/persistentvolumes:delete", "/persistentvolumes:patch", "/persistentvolumes:watch",
			"/persistentvolumeclaims:get", "/persistentvolumeclaims:watch", "storage.k8s.io/storageclasses:watch",
			"/events:create", "/events:patch", "coordination.k8s.io/leases:update",
		},
	}
	for sa, perms := range need {
		for _, p := range perms {
			if !can[sa][p] {
				t.Errorf("%s cannot %s", sa, p)
			}
		}
	}
	dep := objs.Deployment(controllerName)
	if p := container(&dep.Spec.Template.Spec, "csi-provisioner"); !hasArg(p, "--leader-election") {
		t.Errorf("two replicas without leader election: %q", p.Args)
	}
}

func TestMetrics(t *testing.T) {
	objs := render(t, nil, "metrics.enabled=true", "metrics.port=9191", "metrics.serviceMonitor.enabled=true",
		"metrics.serviceMonitor.labels.release=prom")
	for _, w := range []struct {
		spec *corev1.PodSpec
		name string
	}{
		{&objs.DaemonSet(nodeName).Spec.Template.Spec, "node"},
		{&objs.Deployment(controllerName).Spec.Template.Spec, "controller"},
	} {
		c := container(w.spec, "csi-viso")
		if !hasArg(c, "--metrics-address=:9191") {
			t.Errorf("%s args %q lack the metrics address", w.name, c.Args)
		}
		svc := objs.find("Service", "csi-viso-"+w.name+"-metrics")
		if svc == nil {
			t.Errorf("no metrics Service for %s", w.name)
			continue
		}
		s := svc.Typed.(*corev1.Service)
		if s.Spec.Selector["app.kubernetes.io/component"] != w.name || s.Spec.Ports[0].Port != 9191 || s.Spec.Ports[0].TargetPort.StrVal != "metrics" {
			t.Errorf("%s metrics Service = %+v", w.name, s.Spec)
		}
		found := false
		for _, p := range c.Ports {
			found = found || (p.Name == "metrics" && p.ContainerPort == 9191)
		}
		if !found {
			t.Errorf("%s has no container port named metrics", w.name)
		}
	}
	sm := objs.find("ServiceMonitor", "csi-viso")
	if sm == nil {
		t.Fatal("no ServiceMonitor")
	}
	if sm.Raw["metadata"].(map[string]any)["labels"].(map[string]any)["release"] != "prom" {
		t.Errorf("ServiceMonitor labels = %v", sm.Raw["metadata"])
	}
	if _, err := renderRaw(t, nil, "metrics.serviceMonitor.enabled=true"); err == nil ||
		!strings.Contains(err.Error(), "needs metrics.enabled") {
		t.Errorf("ServiceMonitor without metrics: err = %v, want a clear failure", err)
	}
}

func TestNonDefaultValues(t *testing.T) {
	values := writeValues(t, `
image: {repository: example.org/csi-viso, tag: "9.9", pullPolicy: Always}
imagePullSecrets: [{name: regcred}]
logLevel: 5
stateDir: /data/csi-viso
node:
  priorityClassName: ""
  tolerations: []
  nodeSelector: {disk: fast}
  resources: {requests: {cpu: 10m, memory: 32Mi}}
controller:
  replicas: 3
  tolerations: [{key: infra, operator: Exists, effect: NoSchedule}]
storageClass:
  name: installers
  parameters: {configMap: windows, unattendedInstall: "true"}
`)
	objs := render(t, []string{values})
	ds := objs.DaemonSet(nodeName)
	spec := &ds.Spec.Template.Spec
	c := container(spec, "csi-viso")
	if c.Image != "example.org/csi-viso:9.9" || c.ImagePullPolicy != corev1.PullAlways {
		t.Errorf("image = %s %s", c.Image, c.ImagePullPolicy)
	}
	if !hasArg(c, "--v=5") || !hasArg(c, "--state-dir=/data/csi-viso") {
		t.Errorf("args %q", c.Args)
	}
	checkHostPath(t, spec, "state-dir", "/data/csi-viso")
	if spec.PriorityClassName != "" || len(spec.Tolerations) != 0 || spec.NodeSelector["disk"] != "fast" {
		t.Errorf("placement = %q %v %v", spec.PriorityClassName, spec.Tolerations, spec.NodeSelector)
	}
	if len(spec.ImagePullSecrets) != 1 || spec.ImagePullSecrets[0].Name != "regcred" {
		t.Errorf("imagePullSecrets = %v", spec.ImagePullSecrets)
	}
	if q := c.Resources.Requests[corev1.ResourceMemory]; q.String() != "32Mi" {
		t.Errorf("resources = %v", c.Resources)
	}
	dep := objs.Deployment(controllerName)
	if *dep.Spec.Replicas != 3 || len(dep.Spec.Template.Spec.Tolerations) != 1 {
		t.Errorf("controller replicas %d tolerations %v", *dep.Spec.Replicas, dep.Spec.Template.Spec.Tolerations)
	}
	for _, ctr := range dep.Spec.Template.Spec.Containers {
		if !hasArg(&ctr, "--v=5") {
			t.Errorf("%s args %q lack --v=5", ctr.Name, ctr.Args)
		}
	}
	if objs.StorageClass("viso") != nil {
		t.Error("default StorageClass name still rendered")
	}
	sc := objs.StorageClass("installers")
	if sc == nil || !reflect.DeepEqual(sc.Parameters, map[string]string{driver.AttrConfigMap: "windows", driver.AttrUnattendedInstall: "true"}) {
		t.Errorf("StorageClass installers = %+v", sc)
	}
	if objs := render(t, nil, "storageClass.create=false"); len(objs.kinds("StorageClass")) != 0 {
		t.Error("storageClass.create=false still renders a StorageClass")
	}
}

func TestSchemaRejects(t *testing.T) {
	for _, tc := range []struct {
		name, values, want string
	}{
		{"unknown top-level key", "imagee: {}\n", "imagee"},
		{"unknown key in node", "node: {tolerationz: []}\n", "tolerationz"},
		{"unknown key in metrics.serviceMonitor", "metrics: {serviceMonitor: {scrapeInterval: 1m}}\n", "scrapeInterval"},
		{"unknown key in an image", "provisioner: {image: {repository: x, tag: y, pullPolicy: Never, digest: z}}\n", "digest"},
		{"unknown key in sidecars.upstream", "sidecars: {upstream: {enable: true}}\n", "enable"},
		{"unknown key in a media root", "mediaRoots: [{name: a, hostPath: /a, readOnly: false}]\n", "readOnly"},
		{"media root with both sources", "mediaRoots: [{name: a, hostPath: /a, volume: {emptyDir: {}}}]\n", "oneOf"},
		{"media root with no source", "mediaRoots: [{name: a}]\n", "oneOf"},
		{"media root name not a DNS label", "mediaRoots: [{name: A_b, hostPath: /a}]\n", "name"},
		{"relative kubeletDir", "kubeletDir: var/lib/kubelet\n", "kubeletDir"},
		{"unknown StorageClass parameter", "storageClass: {parameters: {configmap: x}}\n", "configmap"},
		{"bad pull policy", "image: {repository: x, tag: y, pullPolicy: Sometimes}\n", "pullPolicy"},
		{"log level as string", "logLevel: \"5\"\n", "logLevel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := renderRaw(t, []string{writeValues(t, tc.values)})
			if err == nil {
				t.Fatalf("values %q accepted", tc.values)
			}
			if !strings.Contains(err.Error(), "schema") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v does not name the schema and %q", err, tc.want)
			}
		})
	}
}

func TestE2EValues(t *testing.T) {
	objs := render(t, []string{filepath.Join(repoRoot, "test", "e2e", "values-e2e.yaml")})
	for _, spec := range []*corev1.PodSpec{&objs.DaemonSet(nodeName).Spec.Template.Spec, &objs.Deployment(controllerName).Spec.Template.Spec} {
		for _, c := range spec.Containers {
			if c.ImagePullPolicy != corev1.PullNever || !strings.HasPrefix(c.Image, "csi-viso.local/") {
				t.Errorf("%s: image %s pull policy %s, want a local csi-viso.local/ image with Never", c.Name, c.Image, c.ImagePullPolicy)
			}
		}
	}
}
