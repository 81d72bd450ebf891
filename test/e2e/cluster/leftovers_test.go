package cluster

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
)

func TestMountPoints(t *testing.T) {
	info := []byte(`22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
97 22 254:0 /var/lib/kubelet /var/lib/kubelet rw,relatime shared:40 - ext4 /dev/vda rw
120 97 0:61 / /var/lib/kubelet/pods/u/volumes/kubernetes.io~csi/v\040x/mount ro - fuse.csi-viso csi-viso ro
short line
`)
	want := []string{"/", "/var/lib/kubelet", "/var/lib/kubelet/pods/u/volumes/kubernetes.io~csi/v x/mount"}
	if got := mountPoints(info); !reflect.DeepEqual(got, want) {
		t.Errorf("mountPoints = %q, want %q", got, want)
	}
}

func TestUnescapeOctal(t *testing.T) {
	for in, want := range map[string]string{
		`plain`: "plain", `a\040b`: "a b", `tab\011`: "tab\t", `end\04`: `end\04`, `\\`: `\\`, `x\999`: `x\999`,
	} {
		if got := unescapeOctal(in); got != want {
			t.Errorf("unescapeOctal(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestListeningPorts(t *testing.T) {
	table := []byte(`  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0950 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1
   1: 00000000:192B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1
   2: 0100007F:0950 0100007F:D2B4 01 00000000:00000000 00:00000000 00000000     0        0 3 1
`)
	if got, want := listeningPorts(table), []int{2384, 6443}; !reflect.DeepEqual(got, want) {
		t.Errorf("listeningPorts = %v, want %v", got, want)
	}
}

func TestOurChains(t *testing.T) {
	rules := []byte("-P PREROUTING ACCEPT\n-N CNI-HOSTPORT-DNAT\n-N KUBE-SERVICES\n-N DOCKER\n-A PREROUTING -j KUBE-SERVICES\n")
	if got, want := ourChains(rules), []string{"CNI-HOSTPORT-DNAT", "KUBE-SERVICES"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ourChains = %q, want %q", got, want)
	}
}

func TestUnderAny(t *testing.T) {
	prefixes := []string{"/var/lib/kubelet", "/tmp/state/", ""}
	tests := []struct {
		p    string
		want bool
	}{
		{"/var/lib/kubelet", true},
		{"/var/lib/kubelet/pods/x", true},
		{"/var/lib/kubelet-other", false},
		{"/tmp/state/data", true},
		{"/tmp/state", false}, // the prefix was given with a slash: only what is below it
		{"/", false},
	}
	for _, tc := range tests {
		if got := underAny(tc.p, prefixes); got != tc.want {
			t.Errorf("underAny(%q) = %v, want %v", tc.p, got, tc.want)
		}
	}
}

func TestLiveRecorded(t *testing.T) {
	dir := t.TempDir()
	self := os.Getpid()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// This test process is alive and its command line names its own binary; a PID that is
	// alive but runs something else, and a malformed line, are not reported.
	content := filepath.Base(exe) + " " + strconv.Itoa(self) + "\n" +
		"kube-apiserver " + strconv.Itoa(self) + "\n" +
		"garbage\n"
	f := filepath.Join(dir, "pids")
	if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := liveRecorded(f)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"process " + filepath.Base(exe) + " (pid " + strconv.Itoa(self) + ")"}; !reflect.DeepEqual(got, want) {
		t.Errorf("liveRecorded = %q, want %q", got, want)
	}
	if got, err := liveRecorded(filepath.Join(dir, "missing")); err != nil || got != nil {
		t.Errorf("missing file: %q, %v", got, err)
	}
}

func TestReadEnvFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "cluster.env")
	if err := os.WriteFile(f, []byte("# comment\nNODE=n1\n\nHELM=/x/helm\nBROKEN\nA=b=c\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := readEnvFile(f)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"NODE": "n1", "HELM": "/x/helm", "A": "b=c"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("readEnvFile = %v, want %v", got, want)
	}
}
