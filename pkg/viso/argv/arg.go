// Package argv turns the text of a VISO (or of an @response file) into an
// argument vector the way IPRT does, in either the Bourne-shell or the MS CRT
// dialect, and remembers the line each argument starts on so that every later
// error can point at the file, line and argument at fault.
package argv

import "fmt"

// Arg is one argument together with the 1-based line of the file it starts on.
type Arg struct {
	Text string `json:"text"`
	Line int    `json:"line"`
}

// Quoting selects the splitting dialect.
type Quoting int

const (
	// Bourne is IPRT's Bourne-shell dialect (the default, and what VirtualBox writes).
	Bourne Quoting = iota
	// MSCRT is IPRT's Microsoft C runtime dialect (selected by the -ms markers).
	MSCRT
)

// String returns the name used in CLI output and JSON ("bourne-sh" or "ms-crt").
func (q Quoting) String() string {
	if q == MSCRT {
		return "ms-crt"
	}
	return "bourne-sh"
}

// Error is an error tied to one argument of a VISO: it names the file, the line and
// the argument, and wraps the cause so callers can still use errors.Is.
type Error struct {
	File string // the .viso (or response file) path as the user gave it
	Line int    // 1-based; 0 when the error is not tied to a line
	Arg  string // the offending argument text ("" when none)
	Err  error
}

func (e *Error) Error() string {
	switch {
	case e.Line > 0 && e.Arg != "":
		return fmt.Sprintf("%s:%d: argument %q: %v", e.File, e.Line, e.Arg, e.Err)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	default:
		return fmt.Sprintf("%s: %v", e.File, e.Err)
	}
}

func (e *Error) Unwrap() error { return e.Err }
