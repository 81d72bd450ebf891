package isomaker

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/csi-viso/csi-viso/pkg/viso/argv"
)

const testVISO = "test.viso"

// split turns text (Bourne quoting) into arguments with line numbers.
func split(text string) []argv.Arg { return argv.Split(text, argv.Bourne) }

// parseText parses text with no response-file support unless files is given.
func parseText(text string, files map[string]string) (*Plan, error) {
	opts := Options{File: testVISO}
	if files != nil {
		opts.ReadResponseFile = func(path string) ([]byte, error) {
			s, ok := files[path]
			if !ok {
				return nil, errors.New("no such file")
			}
			return []byte(s), nil
		}
	}
	return Parse(split(text), opts)
}

// brief renders an operation as JSON without its location, for compact expectations.
func brief(t *testing.T, op Operation) string {
	t.Helper()
	op.File, op.Line, op.Arg = "", 0, ""
	b, err := json.Marshal(op)
	if err != nil {
		t.Fatalf("marshal %+v: %v", op, err)
	}
	s := string(b)
	// Drop the zero location fields that Marshal still writes.
	s = strings.Replace(s, `"line":0,"arg":"",`, "", 1)
	s = strings.Replace(s, `,"line":0,"arg":""`, "", 1)
	return s
}

func briefAll(t *testing.T, ops []Operation) []string {
	t.Helper()
	out := make([]string, len(ops))
	for i, op := range ops {
		out[i] = brief(t, op)
	}
	return out
}

// optionOps parses text followed by a filler file spec (so the image is not
// empty) and returns the operations before the filler.
func optionOps(t *testing.T, text string) []string {
	t.Helper()
	plan, err := parseText(text+" /zz=zz", nil)
	if err != nil {
		t.Fatalf("Parse(%q): %v", text, err)
	}
	ops := briefAll(t, plan.Operations)
	if last := plan.Operations[len(ops)-1]; last.Kind != OpAdd || last.Source != "zz" {
		t.Fatalf("Parse(%q): filler missing, last op %s", text, ops[len(ops)-1])
	}
	return ops[:len(ops)-1]
}

// wantError parses text and checks the error is an *argv.Error wrapping
// sentinel whose message contains every fragment.
func wantError(t *testing.T, text string, files map[string]string, sentinel error, fragments ...string) *argv.Error {
	t.Helper()
	plan, err := parseText(text, files)
	if err == nil {
		t.Fatalf("Parse(%q) = %+v, want error %v", text, plan, sentinel)
	}
	var ae *argv.Error
	if !errors.As(err, &ae) {
		t.Fatalf("Parse(%q) error %T %v is not *argv.Error", text, err, err)
	}
	if !errors.Is(err, sentinel) {
		t.Fatalf("Parse(%q) error %q does not wrap %q", text, err, sentinel)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("Parse(%q) error %q lacks %q", text, err, f)
		}
	}
	return ae
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
