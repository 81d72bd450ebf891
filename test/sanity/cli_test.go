package sanity

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDriverAndMountCLI checks the exit codes and messages of the driver and
// mount subcommands' argument errors (2: usage, 1: failure).
func TestDriverAndMountCLI(t *testing.T) {
	work := t.TempDir()
	bin := buildBinary(t, work)
	state := filepath.Join(work, "state")
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"bad mode", []string{"driver", "--mode", "both", "--state-dir", state}, 2, `unknown mode "both"`},
		{"positional", []string{"driver", "extra"}, 2, "no positional arguments"},
		{"unknown flag", []string{"driver", "--no-such-flag"}, 2, "no-such-flag"},
		{"node without id", []string{"driver", "--mode", "node", "--state-dir", state, "--endpoint", "unix://" + filepath.Join(work, "s.sock")}, 1, "no node ID"},
		{"missing media root", []string{"driver", "--mode", "controller", "--state-dir", state, "--media-root", filepath.Join(work, "nope"), "--endpoint", "unix://" + filepath.Join(work, "s.sock")}, 1, "media root"},
		{"bad kubeconfig", []string{"driver", "--mode", "controller", "--state-dir", state, "--kubeconfig", filepath.Join(work, "nope.yaml")}, 1, "kubeconfig"},
		{"mount one argument", []string{"mount", "x.viso"}, 2, "mount takes FILE.viso and DIR"},
		{"mount missing VISO", []string{"mount", filepath.Join(work, "x.viso"), work}, 1, "x.viso"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, tc.args...)
			cmd.Env = append(os.Environ(), "KUBERNETES_SERVICE_HOST=")
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != tc.code {
				t.Fatalf("exit %v, want code %d; output:\n%s", err, tc.code, out)
			}
			if !strings.Contains(string(out), tc.msg) {
				t.Errorf("output %q does not mention %q", out, tc.msg)
			}
		})
	}
}
