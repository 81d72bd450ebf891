package serve

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// mountInfo is one line of /proc/self/mountinfo (only the fields used here).
type mountInfo struct {
	ID           int
	Major, Minor uint32
	MountPoint   string
	FSType       string
	Source       string
}

// Dev is the device number as stat(2) reports it for files on the mount.
func (m mountInfo) Dev() uint64 { return unix.Mkdev(m.Major, m.Minor) }

func isFUSE(m mountInfo) bool {
	return m.FSType == "fuse" || strings.HasPrefix(m.FSType, "fuse.")
}

func readMountInfo() ([]mountInfo, error) {
	// Read it whole first: the kernel builds the file while it is read, and
	// a short read loop over a changing table can see a line twice.
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mount table: %w", err)
	}
	return parseMountInfo(bytes.NewReader(data))
}

// parseMountInfo parses the format of proc(5):
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// with a variable number of optional fields ended by "-".
func parseMountInfo(r io.Reader) ([]mountInfo, error) {
	var out []mountInfo
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if len(f) < 7 || sep < 0 || sep+2 >= len(f) {
			return nil, fmt.Errorf("mountinfo line %d: malformed: %q", line, sc.Text())
		}
		id, err := strconv.Atoi(f[0])
		if err != nil {
			return nil, fmt.Errorf("mountinfo line %d: mount id: %w", line, err)
		}
		maj, min, ok := strings.Cut(f[2], ":")
		major, err1 := strconv.ParseUint(maj, 10, 32)
		minor, err2 := strconv.ParseUint(min, 10, 32)
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("mountinfo line %d: bad device %q", line, f[2])
		}
		out = append(out, mountInfo{
			ID:         id,
			Major:      uint32(major),
			Minor:      uint32(minor),
			MountPoint: unescapeOctal(f[4]),
			FSType:     unescapeOctal(f[sep+1]),
			Source:     unescapeOctal(f[sep+2]),
		})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("mountinfo: %w", err)
	}
	return out, nil
}

// unescapeOctal undoes the kernel's \ooo escaping of space, tab, newline and
// backslash in mountinfo paths.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			v := (s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0')
			b.WriteByte(v)
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// mountsAt returns the mounts whose mount point is dir, bottom first (the
// kernel lists a mount after the one it covers).
func mountsAt(infos []mountInfo, dir string) []mountInfo {
	var at []mountInfo
	for _, m := range infos {
		if m.MountPoint == dir {
			at = append(at, m)
		}
	}
	return at
}
