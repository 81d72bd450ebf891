package cluster

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrLeftover reports that a teardown left something of the cluster behind.
var ErrLeftover = errors.New("cluster teardown left state behind")

// Runtime paths and names up.sh uses (lib.sh); kept in step by hand, checked by the e2e test.
const (
	kubeletDir     = "/var/lib/kubelet"
	containerdRun  = "/run/containerd"
	containerdSock = containerdRun + "/containerd.sock"
	cniBridge      = "cviso0"
	netnsDir       = "/run/netns"
)

// clusterPorts are the TCP ports the cluster's components listen on.
var clusterPorts = []int{2379, 2380, 6443, 10250, 10256, 10257, 10259}

// Leftovers inspects the machine, without trusting down.sh, for anything of a cluster whose
// state folder is state: recorded processes still running, containerd shims, mounts and
// loop devices under the kubelet, containerd and state folders, CNI network namespaces, the
// CNI bridge, CNI-/KUBE- iptables chains and listeners on the cluster's ports. It returns
// one line per thing found.
func Leftovers(state string) ([]string, error) {
	var left []string
	prefixes := []string{kubeletDir, containerdRun, state}

	for _, f := range []string{"pids", "pids.done"} {
		procs, err := liveRecorded(filepath.Join(state, f))
		if err != nil {
			return nil, err
		}
		left = append(left, procs...)
	}
	shims, err := shimsOf(containerdSock)
	if err != nil {
		return nil, err
	}
	left = append(left, shims...)

	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	for _, m := range mountPoints(mi) {
		if underAny(m, prefixes) || strings.HasPrefix(m, netnsDir+"/cni-") {
			left = append(left, "mount "+m)
		}
	}
	loops, err := filepath.Glob("/sys/block/loop*/loop/backing_file")
	if err != nil {
		return nil, fmt.Errorf("list loop devices: %w", err)
	}
	for _, bf := range loops {
		b, err := os.ReadFile(bf)
		if err != nil {
			continue // detached between the glob and the read
		}
		file := strings.TrimSuffix(strings.TrimSpace(string(b)), " (deleted)")
		if underAny(file, prefixes) {
			left = append(left, fmt.Sprintf("loop device %s backed by %s", filepath.Base(filepath.Dir(filepath.Dir(bf))), file))
		}
	}
	if ns, err := filepath.Glob(netnsDir + "/cni-*"); err == nil {
		for _, n := range ns {
			left = append(left, "netns "+filepath.Base(n))
		}
	}
	if _, err := net.InterfaceByName(cniBridge); err == nil {
		left = append(left, "bridge "+cniBridge)
	}
	chains, err := iptablesChains()
	if err != nil {
		return nil, err
	}
	left = append(left, chains...)
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // no IPv6
		}
		for _, port := range listeningPorts(b) {
			for _, p := range clusterPorts {
				if port == p {
					left = append(left, fmt.Sprintf("listener on port %d", p))
				}
			}
		}
	}
	return left, nil
}

// liveRecorded returns the processes of a "NAME PID" file that still run NAME.
func liveRecorded(pidsFile string) ([]string, error) {
	b, err := os.ReadFile(pidsFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", pidsFile, err)
	}
	var left []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", f[1], "cmdline"))
		if err == nil && bytes.Contains(cmdline, []byte(f[0])) {
			left = append(left, fmt.Sprintf("process %s (pid %s)", f[0], f[1]))
		}
	}
	return left, nil
}

// shimsOf returns containerd shims serving the containerd at sock.
func shimsOf(sock string) ([]string, error) {
	procs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var left []string
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // exited
		}
		args := strings.Split(string(b), "\x00")
		if !strings.HasPrefix(filepath.Base(args[0]), "containerd-shim") {
			continue
		}
		for i := 0; i+1 < len(args); i++ {
			if args[i] == "-address" && args[i+1] == sock {
				left = append(left, "containerd shim pid "+filepath.Base(filepath.Dir(p)))
				break
			}
		}
	}
	return left, nil
}

// iptablesChains lists CNI-* and KUBE-* chains in every table of iptables and ip6tables.
// A missing binary means no chain can exist.
func iptablesChains() ([]string, error) {
	var left []string
	for _, tool := range []string{"iptables", "ip6tables"} {
		if _, err := exec.LookPath(tool); err != nil {
			continue
		}
		for _, table := range []string{"nat", "filter", "mangle", "raw"} {
			out, err := exec.Command(tool, "-t", table, "-S").Output()
			if err != nil {
				continue // table not present in this kernel
			}
			for _, c := range ourChains(out) {
				left = append(left, fmt.Sprintf("%s -t %s chain %s", tool, table, c))
			}
		}
	}
	return left, nil
}

// ourChains picks the CNI-* and KUBE-* chain names out of `iptables -S` output.
func ourChains(rules []byte) []string {
	var chains []string
	sc := bufio.NewScanner(bytes.NewReader(rules))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == "-N" && (strings.HasPrefix(f[1], "CNI-") || strings.HasPrefix(f[1], "KUBE-")) {
			chains = append(chains, f[1])
		}
	}
	return chains
}

// mountPoints returns the mount point field of each /proc/*/mountinfo line, with the
// kernel's octal escapes (\040 for a space, …) decoded.
func mountPoints(mountinfo []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(mountinfo))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 5 {
			out = append(out, unescapeOctal(f[4]))
		}
	}
	return out
}

func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// listeningPorts returns the local ports of LISTEN sockets in /proc/net/tcp{,6} text.
func listeningPorts(table []byte) []int {
	var ports []int
	sc := bufio.NewScanner(bytes.NewReader(table))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || f[3] != "0A" { // 0A = TCP_LISTEN
			continue
		}
		_, hexPort, ok := strings.Cut(f[1], ":")
		if !ok {
			continue
		}
		if p, err := strconv.ParseUint(hexPort, 16, 16); err == nil {
			ports = append(ports, int(p))
		}
	}
	return ports
}

// underAny reports whether p is one of prefixes or below one.
func underAny(p string, prefixes []string) bool {
	for _, x := range prefixes {
		if x != "" && (p == x || strings.HasPrefix(p, strings.TrimSuffix(x, "/")+"/")) {
			return true
		}
	}
	return false
}
