package boottest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Boot modes of boot-iso.sh.
const (
	ModeBIOS    = "bios"     // SeaBIOS, image as CD-ROM (El Torito BIOS entry, isolinux)
	ModeUEFI    = "uefi"     // OVMF, image as CD-ROM (El Torito 0xEF entry, GRUB)
	ModeBIOSHDD = "bios-hdd" // SeaBIOS, image as raw hard disk (isohybrid MBR)
	ModeUEFIHDD = "uefi-hdd" // OVMF, image as raw hard disk (isohybrid ESP)
	// ModeDirect: QEMU loads the payload's kernel and initrd (-kernel), the
	// image is a CD-ROM. Tests content only; the image needs no boot files.
	ModeDirect = "direct"
)

// ErrBootFailed: boot-iso.sh failed (QEMU error, timeout, guest error).
var ErrBootFailed = errors.New("boot test failed")

// bootGrace is added to the script's own QEMU timeout before the Go side
// gives up, so the script can report what it saw.
const bootGrace = 30 * time.Second

// Result is a finished boot: the parsed listing plus what it took.
type Result struct {
	Listing
	Log     string        // path of the serial log
	Elapsed time.Duration // wall time of boot-iso.sh
}

// BootISO boots iso in the given mode with boot-iso.sh, writing the serial
// console to logPath, and parses the guest's listing. The error wraps
// ErrBootFailed and, when the log says why, ErrGuest/ErrIncomplete/ErrMalformed.
// The packages must be present (PreparePayload installs them).
func BootISO(ctx context.Context, mode, iso, logPath string) (Result, error) {
	res := Result{Log: logPath}
	scripts, err := ScriptsDir()
	if err != nil {
		return res, err
	}
	ctx, cancel := context.WithTimeout(ctx, scriptTimeout()+bootGrace)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(scripts, "boot-iso.sh"), mode, iso, logPath)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	start := time.Now()
	runErr := cmd.Run()
	res.Elapsed = time.Since(start)

	f, err := os.Open(logPath)
	if err != nil {
		return res, fmt.Errorf("%w: %s %s: no serial log: %v (boot-iso.sh: %v)\n%s",
			ErrBootFailed, mode, iso, err, runErr, stderr.String())
	}
	defer f.Close()
	listing, parseErr := ParseSerial(f)
	res.Listing = listing
	switch {
	case parseErr != nil:
		return res, fmt.Errorf("%w: %s %s: %w (boot-iso.sh: %v)\n%s", ErrBootFailed, mode, iso, parseErr, runErr, stderr.String())
	case runErr != nil:
		return res, fmt.Errorf("%w: %s %s: boot-iso.sh: %v\n%s", ErrBootFailed, mode, iso, runErr, stderr.String())
	}
	return res, nil
}

// scriptTimeout mirrors boot-iso.sh's CSI_VISO_BOOT_TIMEOUT default.
func scriptTimeout() time.Duration {
	if s := os.Getenv("CSI_VISO_BOOT_TIMEOUT"); s != "" {
		if d, err := time.ParseDuration(s + "s"); err == nil && d > 0 {
			return d
		}
	}
	return 240 * time.Second
}

// Boot prepares the payload (once per process), boots iso in mode and
// returns the guest's listing, failing the test with the reason and the tail
// of the serial log if the boot or the guest's listing failed.
func Boot(tb testing.TB, mode, iso string) Result {
	tb.Helper()
	Payload(tb)
	logPath := filepath.Join(tb.TempDir(), "serial-"+mode+".log")
	res, err := BootISO(context.Background(), mode, iso, logPath)
	if err != nil {
		tb.Fatalf("boot %s: %v\nserial log tail:\n%s", mode, err, logTail(logPath, 30))
	}
	tb.Logf("boot %s: %s, device %s, guest done", mode, res.Elapsed.Round(10*time.Millisecond), res.Device)
	return res
}

// logTail returns the last n lines of a log, with control characters made
// visible so escape sequences cannot garble the test output.
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, l := range lines {
		lines[i] = strings.Map(func(r rune) rune {
			if r < 0x20 && r != '\t' {
				return '?'
			}
			return r
		}, l)
	}
	return strings.Join(lines, "\n")
}
