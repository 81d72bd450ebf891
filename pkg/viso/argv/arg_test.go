package argv

import (
	"errors"
	"testing"
)

func TestErrorFormat(t *testing.T) {
	cause := errors.New("boom")
	cases := []struct {
		name string
		err  *Error
		want string
	}{
		{"file line arg", &Error{File: "a.viso", Line: 3, Arg: "--x", Err: cause}, `a.viso:3: argument "--x": boom`},
		{"file line", &Error{File: "a.viso", Line: 3, Err: cause}, "a.viso:3: boom"},
		{"file only", &Error{File: "a.viso", Arg: "--x", Err: cause}, "a.viso: boom"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Fatalf("Error() = %q, want %q", got, tc.want)
			}
			if !errors.Is(tc.err, cause) {
				t.Fatal("Unwrap lost the cause")
			}
		})
	}
}
