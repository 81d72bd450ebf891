package serve

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
	"k8s.io/klog/v2"
)

// minPipeMaxSize lets one pipe hold a 1 MiB read reply, its header and the
// spare page go-fuse adds.
const minPipeMaxSize = 2 << 20

// Paths of the kernel knobs, variables so tests can see what was written.
var (
	pipeMaxSizePath = "/proc/sys/fs/pipe-max-size"
	bdiDir          = "/sys/class/bdi"
)

var pipeOnce sync.Once

// raisePipeMaxSize raises fs.pipe-max-size to minPipeMaxSize when it is lower
// and we are root; it never lowers it. It runs once per process.
func raisePipeMaxSize() {
	pipeOnce.Do(func() {
		if os.Geteuid() != 0 {
			return
		}
		cur, err := readIntFile(pipeMaxSizePath)
		if err != nil {
			klog.InfoS("Cannot read pipe-max-size", "err", err)
			return
		}
		if cur >= minPipeMaxSize {
			return
		}
		if err := os.WriteFile(pipeMaxSizePath, []byte(strconv.Itoa(minPipeMaxSize)), 0); err != nil {
			klog.InfoS("Cannot raise pipe-max-size; 1 MiB splice reads are trimmed", "from", cur, "err", err)
			return
		}
		// go-fuse read the old value when the process started; the new one
		// helps the next start.
		klog.InfoS("Raised pipe-max-size for splice reads", "from", cur, "to", minPipeMaxSize)
	})
}

// setReadAhead writes kb to the read_ahead_kb of the backing device info of
// the filesystem with device number dev. FUSE's INIT reply can only lower
// readahead below the 128 KiB default, so raising it happens here, afterwards.
func setReadAhead(dev uint64, kb int) error {
	p := fmt.Sprintf("%s/%d:%d/read_ahead_kb", bdiDir, unix.Major(dev), unix.Minor(dev))
	if err := os.WriteFile(p, []byte(strconv.Itoa(kb)), 0); err != nil {
		return fmt.Errorf("set readahead: %w", err)
	}
	return nil
}

func readIntFile(p string) (int, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", p, err)
	}
	return n, nil
}
