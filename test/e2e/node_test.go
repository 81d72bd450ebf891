//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The tests run on the node itself (a single-node cluster on this machine), so they look
// at the node's kernel state directly: mounts, loop devices and processes.

const kubeletDir = "/var/lib/kubelet"

// mount is one /proc/self/mountinfo entry.
type mount struct {
	Point, FSType, Source string
}

func (m mount) String() string { return fmt.Sprintf("%s (%s from %s)", m.Point, m.FSType, m.Source) }

// mounts parses /proc/self/mountinfo (the tests run in the host's mount namespace).
func mounts() ([]mount, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	var out []mount
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 2 {
			continue
		}
		out = append(out, mount{Point: unescape(f[4]), FSType: g[0], Source: unescape(g[1])})
	}
	return out, sc.Err()
}

// unescape undoes mountinfo's octal escapes of space, tab, newline and backslash.
func unescape(s string) string {
	return strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(s)
}

// podCSIMounts lists the mounts of one pod's CSI volumes (its service account token and
// other volumes are not ours).
func podCSIMounts(uid string) ([]mount, error) {
	all, err := mounts()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(kubeletDir, "pods", uid, "volumes", "kubernetes.io~csi") + "/"
	var out []mount
	for _, m := range all {
		if strings.HasPrefix(m.Point, dir) {
			out = append(out, m)
		}
	}
	return out, nil
}

// driverMounts lists what csi-viso may have left: FUSE mounts of csi-viso anywhere,
// mounts of CSI volumes under the kubelet's pods folder and staging folder, and mounts
// under the node plugin's state folder.
func (e *env) driverMounts() ([]mount, error) {
	all, err := mounts()
	if err != nil {
		return nil, err
	}
	var out []mount
	for _, m := range all {
		switch {
		case m.FSType == "fuse.csi-viso" && (strings.HasPrefix(m.Point, kubeletDir+"/") || strings.HasPrefix(m.Point, e.csiState+"/")):
			out = append(out, m)
		case strings.HasPrefix(m.Point, kubeletDir+"/pods/") && strings.Contains(m.Point, "/kubernetes.io~csi/"):
			out = append(out, m)
		case strings.HasPrefix(m.Point, kubeletDir+"/plugins/kubernetes.io/csi/"):
			out = append(out, m)
		case strings.HasPrefix(m.Point, e.csiState+"/"), strings.HasPrefix(m.Point, e.media+"/"):
			out = append(out, m)
		}
	}
	return out, nil
}

// driverLoops lists loop devices whose backing file lies under the kubelet dir, the
// plugin's state folder or the media root.
func (e *env) driverLoops() ([]string, error) {
	files, err := filepath.Glob("/sys/block/loop*/loop/backing_file")
	if err != nil {
		return nil, fmt.Errorf("list loop devices: %w", err)
	}
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // detached meanwhile
		}
		back := strings.TrimSuffix(strings.TrimSpace(string(b)), " (deleted)")
		for _, p := range []string{kubeletDir + "/", e.csiState + "/", e.media + "/"} {
			if strings.HasPrefix(back, p) {
				out = append(out, filepath.Base(filepath.Dir(filepath.Dir(f)))+" over "+back)
				break
			}
		}
	}
	return out, nil
}

// driverProcesses lists running csi-viso driver processes of the chart: their command
// line names `driver` and the plugin socket /csi/csi.sock the chart gives them. Driver
// unit tests that other people run on the machine use other sockets.
func driverProcesses() ([]string, error) {
	procs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var out []string
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || len(b) == 0 {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if filepath.Base(args[0]) != "csi-viso" || len(args) < 2 || args[1] != "driver" {
			continue
		}
		if strings.Contains(string(b), "unix:///csi/csi.sock") {
			out = append(out, "pid "+filepath.Base(filepath.Dir(p))+": "+strings.Join(args, " "))
		}
	}
	return out, nil
}
