package boottest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// Where the payload must sit inside a bootable image: isolinux.cfg and the
// GRUB config embedded in efiboot.img name these paths.
const (
	ImageIsolinuxBin = "isolinux/isolinux.bin"
	ImageLdlinux     = "isolinux/ldlinux.c32"
	ImageIsolinuxCfg = "isolinux/isolinux.cfg"
	ImageBootCatalog = "isolinux/boot.cat" // conventional; any free path works
	ImageKernel      = "boot/vmlinuz"
	ImageInitrd      = "boot/initrd.img"
	ImageEFIBootImg  = "boot/efiboot.img"
)

// ScriptsEnv names an environment variable that overrides the directory
// holding prepare.sh and boot-iso.sh (needed only for -trimpath builds).
const ScriptsEnv = "CSI_VISO_BOOT_SCRIPTS"

// ErrNoScripts: prepare.sh/boot-iso.sh cannot be located.
var ErrNoScripts = errors.New("boot-test scripts not found")

// PayloadFiles are the host paths of the boot payload built by prepare.sh.
type PayloadFiles struct {
	Dir         string
	Kernel      string // vmlinuz
	Initrd      string // initrd.img
	IsolinuxBin string
	Ldlinux     string // ldlinux.c32
	IsolinuxCfg string
	EFIBootImg  string // FAT image with EFI/BOOT/BOOTX64.EFI (GRUB)
}

// Tree maps each in-image path (Image* constants) to its host file, ready to
// be laid out in a source tree or a .viso file.
func (p PayloadFiles) Tree() map[string]string {
	return map[string]string{
		ImageIsolinuxBin: p.IsolinuxBin,
		ImageLdlinux:     p.Ldlinux,
		ImageIsolinuxCfg: p.IsolinuxCfg,
		ImageKernel:      p.Kernel,
		ImageInitrd:      p.Initrd,
		ImageEFIBootImg:  p.EFIBootImg,
	}
}

// ScriptsDir returns the directory of prepare.sh and boot-iso.sh: $ScriptsEnv
// if set, else the parent of this package's source directory.
func ScriptsDir() (string, error) {
	dir := os.Getenv(ScriptsEnv)
	if dir == "" {
		_, file, _, ok := runtime.Caller(0)
		if !ok {
			return "", fmt.Errorf("%w: no caller information; set %s", ErrNoScripts, ScriptsEnv)
		}
		dir = filepath.Dir(filepath.Dir(file))
	}
	for _, s := range []string{"prepare.sh", "boot-iso.sh", "init.sh"} {
		if _, err := os.Stat(filepath.Join(dir, s)); err != nil {
			return "", fmt.Errorf("%w: %v (set %s)", ErrNoScripts, err, ScriptsEnv)
		}
	}
	return dir, nil
}

// PreparePayload runs prepare.sh (installing packages when root, building
// into the cache on the first run) and returns the payload's files.
func PreparePayload(ctx context.Context) (PayloadFiles, error) {
	scripts, err := ScriptsDir()
	if err != nil {
		return PayloadFiles{}, err
	}
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(scripts, "prepare.sh"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return PayloadFiles{}, fmt.Errorf("prepare.sh: %w\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	dir := strings.TrimSpace(lines[len(lines)-1])
	if dir == "" {
		return PayloadFiles{}, fmt.Errorf("prepare.sh printed no payload directory\n%s", stderr.String())
	}
	p := PayloadFiles{
		Dir:         dir,
		Kernel:      filepath.Join(dir, "vmlinuz"),
		Initrd:      filepath.Join(dir, "initrd.img"),
		IsolinuxBin: filepath.Join(dir, "isolinux.bin"),
		Ldlinux:     filepath.Join(dir, "ldlinux.c32"),
		IsolinuxCfg: filepath.Join(dir, "isolinux.cfg"),
		EFIBootImg:  filepath.Join(dir, "efiboot.img"),
	}
	for _, f := range p.Tree() {
		if fi, err := os.Stat(f); err != nil || fi.Size() == 0 {
			return PayloadFiles{}, fmt.Errorf("payload file %s missing or empty after prepare.sh: %v", f, err)
		}
	}
	return p, nil
}

var payloadOnce struct {
	sync.Once
	files PayloadFiles
	err   error
}

// Payload prepares the boot payload once per process and returns it, failing
// the test with prepare.sh's reason if it cannot be built.
func Payload(tb testing.TB) PayloadFiles {
	tb.Helper()
	payloadOnce.Do(func() {
		payloadOnce.files, payloadOnce.err = PreparePayload(context.Background())
	})
	if payloadOnce.err != nil {
		tb.Fatalf("boot payload: %v", payloadOnce.err)
	}
	return payloadOnce.files
}
