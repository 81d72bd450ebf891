package viso

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/csi-viso/csi-viso/pkg/backend"
	"github.com/csi-viso/csi-viso/pkg/viso/argv"
)

const (
	// Marker is the prefix every VISO must begin with after leading whitespace.
	Marker = "--iprt-iso-maker-file-marker"
	// ProbeSize is how many leading bytes VirtualBox reads to recognise a VISO; the
	// marker and the whole UUID must lie within them.
	ProbeSize = 1023
	// MaxFileSize is the largest VISO accepted (VirtualBox's 64-bit host limit).
	MaxFileSize = 32 << 20

	// msMarkerPrefix selects MS CRT splitting when the marker starts with it.
	msMarkerPrefix = Marker + "-ms"
)

// MarkerSpelling is one marker option the ISO-maker option parser knows, with the
// splitting dialect a VISO starting with it is read in.
type MarkerSpelling struct {
	Option  string
	Quoting argv.Quoting
}

// KnownMarkers lists the five marker spellings IPRT's option parser accepts (spec §1.4).
// Other spellings with the Marker prefix pass Probe but are unknown options.
var KnownMarkers = []MarkerSpelling{
	{Marker, argv.Bourne},
	{Marker + "-bourne", argv.Bourne},
	{Marker + "-bourne-sh", argv.Bourne},
	{Marker + "-ms", argv.MSCRT},
	{Marker + "-ms-crt", argv.MSCRT},
}

// IsMarkerOption reports whether name is exactly one of the KnownMarkers options.
func IsMarkerOption(name string) bool {
	for _, m := range KnownMarkers {
		if m.Option == name {
			return true
		}
	}
	return false
}

// ProbeResult is what Probe learns from the head of a VISO.
type ProbeResult struct {
	UUID    uuid.UUID    // the medium UUID written after the marker
	Marker  string       // the marker token as written, e.g. "--iprt-iso-maker-file-marker-bourne-sh"
	Quoting argv.Quoting // MSCRT iff the marker starts with "--iprt-iso-maker-file-marker-ms"
}

// lineError carries the 1-based line a Probe error refers to, so that ParseEnvelope
// can report it in its *argv.Error without repeating it in the message.
type lineError struct {
	line int
	err  error
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %v", e.line, e.err) }
func (e *lineError) Unwrap() error { return e.err }

// isCSpace is C's isspace in the "C" locale. A UTF-8 BOM is not whitespace.
func isCSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// Probe recognises a VISO from its first bytes the way VirtualBox's probe does (spec
// §1.2–1.4). Only the first ProbeSize bytes of head are looked at, and a NUL byte ends
// the text there, because VirtualBox reads that much into a C string.
//
// Errors wrap backend.ErrInvalidHeader when the text is not a VISO at all, and
// backend.ErrImageCorrupted when the marker is there but the UUID is missing or
// malformed (including a UUID cut off by the end of the probe window).
func Probe(head []byte) (ProbeResult, error) {
	truncated := len(head) > ProbeSize
	if truncated {
		head = head[:ProbeSize]
	}
	cutAtNUL := false
	if i := bytes.IndexByte(head, 0); i >= 0 {
		head, cutAtNUL = head[:i], true
	}
	line := 1
	pos := 0
	skipSpace := func() {
		for pos < len(head) && isCSpace(head[pos]) {
			if head[pos] == '\n' {
				line++
			}
			pos++
		}
	}

	skipSpace()
	if !bytes.HasPrefix(head[pos:], []byte(Marker)) {
		rest := head[pos:]
		var why string
		switch {
		case len(rest) == 0 && cutAtNUL:
			why = "a NUL byte comes before the marker"
		case len(rest) == 0:
			// Nothing but blanks in the window: no line to point at.
			return ProbeResult{}, notVISO(fmt.Sprintf("no %s within the first %d bytes", Marker, ProbeSize))
		case truncated && !cutAtNUL && strings.HasPrefix(Marker, string(rest)):
			why = fmt.Sprintf("the marker must lie within the first %d bytes", ProbeSize)
		case bytes.HasPrefix(rest, []byte("\xef\xbb\xbf")):
			why = "the file starts with a UTF-8 byte order mark"
		case (rest[0] == '"' || rest[0] == '\'') && bytes.HasPrefix(rest[1:], []byte(Marker)):
			why = "the marker must not be quoted"
		default:
			why = fmt.Sprintf("the first non-blank text does not start with %s", Marker)
		}
		return ProbeResult{}, &lineError{line, notVISO(why)}
	}
	start := pos
	for pos < len(head) && !isCSpace(head[pos]) && head[pos] != ':' && head[pos] != '=' {
		pos++
	}
	res := ProbeResult{Marker: string(head[start:pos])}
	if strings.HasPrefix(res.Marker, msMarkerPrefix) {
		res.Quoting = argv.MSCRT
	}

	// After ':' or '=' the UUID follows at once; otherwise whitespace (including line
	// ends) may come first.
	if pos < len(head) && (head[pos] == ':' || head[pos] == '=') {
		pos++
	} else {
		skipSpace()
	}
	tokStart := pos
	for pos < len(head) && !isCSpace(head[pos]) {
		pos++
	}
	token := string(head[tokStart:pos])
	if token == "" {
		return ProbeResult{}, &lineError{line, fmt.Errorf("empty or missing UUID after %s: %w", res.Marker, backend.ErrImageCorrupted)}
	}
	id, ok := parseIPRTUUID(token)
	if !ok {
		hint := ""
		if truncated && pos == ProbeSize {
			hint = fmt.Sprintf(" (cut off: the UUID must end within the first %d bytes)", ProbeSize)
		}
		return ProbeResult{}, &lineError{line, fmt.Errorf("malformed UUID %s%s: %w", quoteToken(token), hint, backend.ErrImageCorrupted)}
	}
	res.UUID = id
	return res, nil
}

// quoteToken shows a UUID token in single quotes as VirtualBox's log does, falling back
// to Go quoting for unprintable text and shortening very long tokens.
func quoteToken(tok string) string {
	const maxShown = 64
	short := tok
	if len(short) > maxShown {
		short = short[:maxShown]
		for !utf8.ValidString(short) && len(short) > maxShown-utf8.UTFMax {
			short = short[:len(short)-1]
		}
	}
	ellipsis := ""
	if len(short) < len(tok) {
		ellipsis = "..."
	}
	printable := utf8.ValidString(short)
	for _, r := range short {
		if !unicode.IsPrint(r) {
			printable = false
			break
		}
	}
	if printable {
		return "'" + short + "'" + ellipsis
	}
	return strconv.Quote(short) + ellipsis
}

// notVISO wraps the reason a text is not a VISO; reasons name the common mistakes.
func notVISO(why string) error {
	return fmt.Errorf("not a VISO file: %s: %w", why, backend.ErrInvalidHeader)
}

// parseIPRTUUID accepts exactly what IPRT's UUID parser accepts: 8-4-4-4-12 hex digits in
// either case, optionally wrapped in braces. uuid.Parse is not used for the syntax check
// because it also takes urn:uuid: prefixes and dash-less forms, which IPRT refuses.
func parseIPRTUUID(s string) (uuid.UUID, bool) {
	if len(s) == 38 && s[0] == '{' && s[37] == '}' {
		s = s[1:37]
	}
	if len(s) != 36 {
		return uuid.UUID{}, false
	}
	var id uuid.UUID
	j := 0
	for i := 0; i < 36; {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return uuid.UUID{}, false
			}
			i++
			continue
		}
		hi, ok1 := hexVal(s[i])
		lo, ok2 := hexVal(s[i+1])
		if !ok1 || !ok2 {
			return uuid.UUID{}, false
		}
		id[j] = hi<<4 | lo
		j++
		i += 2
	}
	return id, true
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// Envelope is a VISO file taken apart: its identity and its argument vector.
type Envelope struct {
	UUID    uuid.UUID
	Marker  string       // the marker token as written
	Quoting argv.Quoting // the dialect Args were split with
	// Args is argv[1:] as VirtualBox sees it: the split of the whole file text, starting
	// with the marker token. (VirtualBox prepends "VBox-Iso-Maker ", which ends in a
	// separator, so splitting the file alone yields the same arguments.) If the file starts
	// with \v or \f, the first argument keeps that byte, exactly as in VirtualBox.
	Args []argv.Arg
}

// ParseEnvelope checks and splits the complete content of a VISO named name, in the order
// VirtualBox does: marker and UUID (Probe), size limit, encoding, then splitting with the
// dialect the marker selects. Checking the header before the size means a huge file that is
// not a VISO is reported as not a VISO.
//
// Every error is an *argv.Error naming the file (and the line when known) and wrapping
// backend.ErrInvalidHeader, backend.ErrImageCorrupted, backend.ErrInvalidSize or
// argv.ErrEncoding.
func ParseEnvelope(name string, data []byte) (*Envelope, error) {
	res, err := probeFile(name, data)
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, sizeError(name, fmt.Sprintf("%d bytes", len(data)))
	}
	if err := argv.ValidateUTF8(data); err != nil {
		var ee *argv.EncodingError
		if errors.As(err, &ee) {
			return nil, &argv.Error{File: name, Line: ee.Line, Err: err}
		}
		return nil, &argv.Error{File: name, Err: err}
	}
	return &Envelope{
		UUID:    res.UUID,
		Marker:  res.Marker,
		Quoting: res.Quoting,
		Args:    argv.Split(string(data), res.Quoting),
	}, nil
}

// probeFile runs Probe and turns its error into an *argv.Error for the file.
func probeFile(name string, data []byte) (ProbeResult, error) {
	res, err := Probe(data)
	if err != nil {
		var le *lineError
		if errors.As(err, &le) {
			return res, &argv.Error{File: name, Line: le.line, Err: le.err}
		}
		return res, &argv.Error{File: name, Err: err}
	}
	return res, nil
}

func sizeError(name, size string) error {
	return &argv.Error{File: name, Err: fmt.Errorf(
		"file size %s exceeds the VISO limit of %d bytes (32 MiB): %w", size, MaxFileSize, backend.ErrInvalidSize)}
}

// ReadEnvelope reads a VISO from r and parses it with ParseEnvelope. It reads at most
// MaxFileSize+1 bytes, so an oversized file is refused without being read whole.
func ReadEnvelope(name string, r io.Reader) (*Envelope, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, &argv.Error{File: name, Err: fmt.Errorf("reading file failed: %w", err)}
	}
	if len(data) <= MaxFileSize {
		return ParseEnvelope(name, data)
	}
	// Too big: keep VirtualBox's order (header first), then name the real size if the
	// reader can tell it, since only MaxFileSize+1 bytes were read.
	if _, err := probeFile(name, data); err != nil {
		return nil, err
	}
	size := fmt.Sprintf("of more than %d bytes", MaxFileSize)
	if st, ok := r.(interface{ Stat() (fs.FileInfo, error) }); ok {
		if fi, err := st.Stat(); err == nil && fi.Size() > MaxFileSize {
			size = fmt.Sprintf("%d bytes", fi.Size())
		}
	}
	return nil, sizeError(name, size)
}
