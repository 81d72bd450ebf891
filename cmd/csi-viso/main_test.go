package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testUUID = "4a7d0e65-58f2-4f0b-8f0b-1a2b3c4d5e6f"

// writeVISO writes a VISO (marker line + body) and the named side files into a
// fresh folder and returns the VISO path.
func writeVISO(t *testing.T, body string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, "test.viso")
	text := "--iprt-iso-maker-file-marker-bourne-sh " + testUUID + "\n" + body
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestExitCodesAndFlagPlacement(t *testing.T) {
	good := writeVISO(t, "--volume-id=DEMO\n/a.txt=a.txt\n", map[string]string{"a.txt": "hello"})
	bad := writeVISO(t, "/a.txt=a.txt\n--iso-level=4\n", map[string]string{"a.txt": "hello"})
	notVISO := filepath.Join(t.TempDir(), "plain.txt")
	os.WriteFile(notVISO, []byte("hello\n"), 0o644)
	root := t.TempDir()

	tests := []struct {
		name       string
		args       []string
		code       int
		stdoutHas  []string
		stderrHas  []string
		jsonOutput bool
	}{
		{name: "no command", args: nil, code: 2, stderrHas: []string{"usage"}},
		{name: "unknown command", args: []string{"frobnicate"}, code: 2, stderrHas: []string{"unknown command"}},
		{name: "version", args: []string{"version"}, code: 0, stdoutHas: []string{"csi-viso "}},
		{name: "version with argument", args: []string{"version", "x"}, code: 2},
		{name: "inspect text", args: []string{"inspect", good}, code: 0,
			stdoutHas: []string{testUUID, "bourne-sh", "line 2", "volume-id = \"DEMO\"", "/a.txt <- a.txt"}},
		{name: "inspect json flag before", args: []string{"inspect", "--json", good}, code: 0, jsonOutput: true},
		{name: "inspect json flag after", args: []string{"inspect", good, "--json"}, code: 0, jsonOutput: true},
		{name: "inspect media-root equals form", args: []string{"inspect", "--media-root=" + root, good, "--json"}, code: 0, jsonOutput: true},
		{name: "inspect media-root space form", args: []string{"inspect", good, "--media-root", root}, code: 0},
		{name: "inspect unknown flag", args: []string{"inspect", good, "--frob"}, code: 2},
		{name: "inspect two files", args: []string{"inspect", good, good}, code: 2},
		{name: "inspect missing file", args: []string{"inspect", filepath.Join(root, "nope.viso")}, code: 1, stderrHas: []string{"nope.viso"}},
		{name: "inspect not a VISO", args: []string{"inspect", notVISO}, code: 1, stderrHas: []string{"plain.txt", "not a VISO"}},
		{name: "inspect plan error names file line argument", args: []string{"inspect", bad}, code: 1,
			stdoutHas: []string{testUUID}, stderrHas: []string{"test.viso:3", "--iso-level=4"}},
		{name: "rm needs a file", args: []string{"rm"}, code: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
			}
			for _, s := range tc.stdoutHas {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tc.stderrHas {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr lacks %q:\n%s", s, errOut)
				}
			}
			if tc.jsonOutput {
				var m map[string]json.RawMessage
				if err := json.Unmarshal([]byte(out), &m); err != nil {
					t.Fatalf("not JSON: %v\n%s", err, out)
				}
				for _, k := range []string{"uuid", "quoting", "args", "operations"} {
					if _, ok := m[k]; !ok {
						t.Errorf("JSON lacks key %q", k)
					}
				}
			}
		})
	}
}

func TestInspectJSONContent(t *testing.T) {
	p := writeVISO(t, "'/My File.txt=a.txt'\n", map[string]string{"a.txt": "x"})
	code, out, errOut := runCLI("inspect", "--json", p)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep struct {
		UUID    string `json:"uuid"`
		Quoting string `json:"quoting"`
		Args    []struct {
			Text string `json:"text"`
			Line int    `json:"line"`
		} `json:"args"`
		Operations []struct {
			Op     string   `json:"op"`
			Line   int      `json:"line"`
			Names  []string `json:"names"`
			Source string   `json:"source"`
		} `json:"operations"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.UUID != testUUID || rep.Quoting != "bourne-sh" {
		t.Fatalf("uuid/quoting = %q/%q", rep.UUID, rep.Quoting)
	}
	if len(rep.Args) != 3 || rep.Args[2].Text != "/My File.txt=a.txt" || rep.Args[2].Line != 2 {
		t.Fatalf("args = %+v", rep.Args)
	}
	if len(rep.Operations) != 1 || rep.Operations[0].Op != "add" || rep.Operations[0].Names[0] != "/My File.txt" ||
		rep.Operations[0].Source != "a.txt" || rep.Operations[0].Line != 2 {
		t.Fatalf("operations = %+v", rep.Operations)
	}
}

// TestInspectResponseFileConfined: an @file outside the VISO's folder is refused
// with an error naming the line and argument; one inside is read.
func TestInspectResponseFileConfined(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "evil.rsp")
	os.WriteFile(outside, []byte("/x=/etc/passwd\n"), 0o644)
	p := writeVISO(t, "@inner.rsp\n@"+outside+"\n", map[string]string{"inner.rsp": "/a=a.txt\n", "a.txt": "a"})
	code, _, errOut := runCLI("inspect", p)
	if code != 1 || !strings.Contains(errOut, "test.viso:3") || !strings.Contains(errOut, "evil.rsp") {
		t.Fatalf("exit %d, stderr: %s", code, errOut)
	}
	p2 := writeVISO(t, "@../escape.rsp\n", nil)
	code, _, errOut = runCLI("inspect", p2)
	if code != 1 || !strings.Contains(errOut, "test.viso:2") {
		t.Fatalf("exit %d, stderr: %s", code, errOut)
	}
}

func TestRm(t *testing.T) {
	t.Run("flag after file equals flag before", func(t *testing.T) {
		for _, order := range [][]string{{"--unattended-install", "F"}, {"F", "--unattended-install"}} {
			p := writeVISO(t, "/a.txt=Unattended-1-a.txt /b.txt=keep-b.txt\n",
				map[string]string{"Unattended-1-a.txt": "a", "keep-b.txt": "b", "Unattended-1-unref.txt": "u"})
			args := []string{"rm"}
			for _, a := range order {
				if a == "F" {
					a = p
				}
				args = append(args, a)
			}
			code, out, errOut := runCLI(args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			dir := filepath.Dir(p)
			for name, want := range map[string]bool{"test.viso": false, "Unattended-1-a.txt": false, "keep-b.txt": true, "Unattended-1-unref.txt": true} {
				_, err := os.Stat(filepath.Join(dir, name))
				if exists := err == nil; exists != want {
					t.Errorf("%v: %s exists=%v, want %v (stdout %s)", order, name, exists, want, out)
				}
			}
			if !strings.Contains(out, "removed "+filepath.Join(dir, "Unattended-1-a.txt")) {
				t.Errorf("stdout does not list the removed file: %s", out)
			}
		}
	})
	t.Run("without the flag only the VISO goes", func(t *testing.T) {
		p := writeVISO(t, "/a.txt=Unattended-1-a.txt\n", map[string]string{"Unattended-1-a.txt": "a"})
		if code, _, errOut := runCLI("rm", p); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), "Unattended-1-a.txt")); err != nil {
			t.Fatal("answer file deleted without --unattended-install")
		}
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatal("VISO not deleted")
		}
	})
	t.Run("a file that is not a VISO is never deleted", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "notes.viso")
		os.WriteFile(p, []byte("just text /a=Unattended-x\n"), 0o644)
		code, _, errOut := runCLI("rm", "--unattended-install", p)
		if code != 1 || !strings.Contains(errOut, "not removed") {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if _, err := os.Stat(p); err != nil {
			t.Fatal("non-VISO file was deleted")
		}
	})
}
