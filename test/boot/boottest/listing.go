package boottest

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
)

// Sentinel errors of ParseSerial; callers branch on them with errors.Is.
var (
	// ErrMalformed: a record line does not follow the protocol of init.sh
	// (a corrupted console line or a harness/guest version mismatch).
	ErrMalformed = errors.New("malformed boot-test record")
	// ErrGuest: the guest reported @@VISO-ERROR (mount, read or readdir
	// failures of the image under test).
	ErrGuest = errors.New("guest reported errors")
	// ErrIncomplete: the log ends before @@VISO-DONE or inside a view.
	ErrIncomplete = errors.New("boot-test output incomplete")
)

// View names: how the guest mounted the medium.
const (
	ViewRockRidge = "rr"     // default mount: Rock Ridge names and modes
	ViewJoliet    = "joliet" // -o norock
	ViewPlain     = "plain"  // -o norock,nojoliet: ISO 9660 names
)

// EntryType is the kind of node the guest saw.
type EntryType byte

// Entry types, as printed by the guest.
const (
	TypeFile    EntryType = 'f'
	TypeDir     EntryType = 'd'
	TypeSymlink EntryType = 'l'
	TypeOther   EntryType = 'o'
)

func (t EntryType) String() string { return string(rune(t)) }

// Entry is one node of a view as the guest kernel reported it.
type Entry struct {
	Type   EntryType
	Mode   fs.FileMode // type and permission bits (RR PX in the rr view, isofs defaults elsewhere)
	UID    uint32
	GID    uint32
	NLink  uint32
	MTime  int64  // seconds since the epoch
	Size   int64  // st_size; for directories the extent length
	SHA256 string // hex digest of the content for files, "" otherwise
	Path   string // absolute path inside the image; "/" is the root
	Target string // symlink target, "" otherwise
}

// View is one mount of the medium.
type View struct {
	Name         string
	MountOptions string // options column of /proc/mounts, e.g. "ro,relatime,nojoliet,..."
	Entries      []Entry
}

// Lookup finds the entry with the given image path.
func (v *View) Lookup(path string) (Entry, bool) {
	for _, e := range v.Entries {
		if e.Path == path {
			return e, true
		}
	}
	return Entry{}, false
}

// Listing is everything the guest printed.
type Listing struct {
	Device    string           // block device the guest mounted, e.g. /dev/sr0
	Views     map[string]*View // by view name; a view whose mount failed is absent
	Errors    []string         // decoded @@VISO-ERROR messages, "view: message"
	KernelLog []string         // kernel log lines the guest replayed
	Done      bool             // @@VISO-DONE seen
}

// View returns the named view or nil.
func (l *Listing) View(name string) *View { return l.Views[name] }

const recordPrefix = "@@VISO-"

// ParseSerial reads a serial console log and extracts the records of init.sh.
// Records may be preceded on their line by console noise (firmware escape
// sequences), so the prefix is searched anywhere in a line. The returned
// Listing holds whatever was parsed; the error (wrapping ErrMalformed,
// ErrGuest or ErrIncomplete) says why it cannot be trusted.
func ParseSerial(r io.Reader) (Listing, error) {
	l := Listing{Views: map[string]*View{}}
	var open *View
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimRight(sc.Text(), "\r")
		i := strings.Index(line, recordPrefix)
		if i < 0 {
			continue
		}
		rec := line[i+len(recordPrefix):]
		tag, rest, _ := strings.Cut(rec, " ")
		var err error
		switch tag {
		case "START":
		case "DEVICE":
			l.Device = rest
		case "BEGIN":
			open, err = l.begin(open, rest)
		case "E":
			err = parseEntryInto(open, rest)
		case "END":
			err = endView(open, rest)
			open = nil
		case "ERROR":
			err = l.guestError(rest)
		case "KMSG":
			l.KernelLog = append(l.KernelLog, rest)
		case "DONE":
			l.Done = true
		default:
			err = fmt.Errorf("unknown record %q", tag)
		}
		if err != nil {
			return l, fmt.Errorf("%w: line %d: %v: %q", ErrMalformed, lineNo, err, line)
		}
	}
	if err := sc.Err(); err != nil {
		return l, fmt.Errorf("reading serial log: %w", err)
	}
	if open != nil {
		return l, fmt.Errorf("%w: view %s has no END record", ErrIncomplete, open.Name)
	}
	if len(l.Errors) > 0 {
		return l, fmt.Errorf("%w: %s", ErrGuest, strings.Join(l.Errors, "; "))
	}
	if !l.Done {
		return l, fmt.Errorf("%w: no DONE record", ErrIncomplete)
	}
	return l, nil
}

func (l *Listing) begin(open *View, rest string) (*View, error) {
	if open != nil {
		return nil, fmt.Errorf("BEGIN inside view %s", open.Name)
	}
	f := strings.Fields(rest)
	if len(f) != 2 {
		return nil, fmt.Errorf("BEGIN wants 2 fields, got %d", len(f))
	}
	if _, dup := l.Views[f[0]]; dup {
		return nil, fmt.Errorf("view %s listed twice", f[0])
	}
	opts, err := decodeHex(f[1])
	if err != nil {
		return nil, fmt.Errorf("mount options: %w", err)
	}
	v := &View{Name: f[0], MountOptions: opts}
	l.Views[v.Name] = v
	return v, nil
}

func endView(open *View, rest string) error {
	f := strings.Fields(rest)
	if len(f) != 2 {
		return fmt.Errorf("END wants 2 fields, got %d", len(f))
	}
	if open == nil || open.Name != f[0] {
		return fmt.Errorf("END of view %s that is not open", f[0])
	}
	n, err := strconv.Atoi(f[1])
	if err != nil {
		return fmt.Errorf("END count: %w", err)
	}
	// The count guards against records lost on the console.
	if n != len(open.Entries) {
		return fmt.Errorf("view %s: guest counted %d entries, log holds %d", f[0], n, len(open.Entries))
	}
	return nil
}

func (l *Listing) guestError(rest string) error {
	view, msgHex, ok := strings.Cut(rest, " ")
	if !ok {
		return errors.New("ERROR wants 2 fields")
	}
	msg, err := decodeHex(msgHex)
	if err != nil {
		return fmt.Errorf("ERROR message: %w", err)
	}
	l.Errors = append(l.Errors, view+": "+strings.TrimSpace(msg))
	return nil
}

// parseEntryInto decodes
// "<view> <type> <st_mode hex> <uid> <gid> <nlink> <mtime> <size> <sha256|-> <hex path> <hex target|->".
func parseEntryInto(open *View, rest string) error {
	f := strings.Fields(rest)
	if len(f) != 11 {
		return fmt.Errorf("entry record wants 11 fields, got %d", len(f))
	}
	if open == nil || open.Name != f[0] {
		return fmt.Errorf("entry of view %s outside its BEGIN/END", f[0])
	}
	var e Entry
	if len(f[1]) != 1 || !strings.Contains("fdlo", f[1]) {
		return fmt.Errorf("bad entry type %q", f[1])
	}
	e.Type = EntryType(f[1][0])
	raw, err := strconv.ParseUint(f[2], 16, 32)
	if err != nil {
		return fmt.Errorf("mode: %w", err)
	}
	e.Mode = fileMode(uint32(raw))
	if err := checkType(e.Type, e.Mode); err != nil {
		return err
	}
	ids := [3]*uint32{&e.UID, &e.GID, &e.NLink}
	for i, p := range ids {
		v, err := strconv.ParseUint(f[3+i], 10, 32)
		if err != nil {
			return fmt.Errorf("field %d: %w", 3+i, err)
		}
		*p = uint32(v)
	}
	if e.MTime, err = strconv.ParseInt(f[6], 10, 64); err != nil {
		return fmt.Errorf("mtime: %w", err)
	}
	if e.Size, err = strconv.ParseInt(f[7], 10, 64); err != nil || e.Size < 0 {
		return fmt.Errorf("size %q: %v", f[7], err)
	}
	switch {
	case f[8] == "-" && e.Type != TypeFile:
	case e.Type == TypeFile && len(f[8]) == 64 && isLowerHex(f[8]):
		e.SHA256 = f[8]
	default:
		return fmt.Errorf("bad sha256 %q for type %s", f[8], e.Type)
	}
	if e.Path, err = decodeHex(f[9]); err != nil {
		return fmt.Errorf("path: %w", err)
	}
	if !strings.HasPrefix(e.Path, "/") {
		return fmt.Errorf("path %q is not absolute", e.Path)
	}
	if f[10] != "-" {
		if e.Type != TypeSymlink {
			return fmt.Errorf("target on a non-symlink %q", e.Path)
		}
		if e.Target, err = decodeHex(f[10]); err != nil {
			return fmt.Errorf("target: %w", err)
		}
	}
	open.Entries = append(open.Entries, e)
	return nil
}

// fileMode converts a Linux st_mode to an fs.FileMode.
func fileMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		mode |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	switch m & 0o170000 {
	case 0o040000:
		mode |= fs.ModeDir
	case 0o120000:
		mode |= fs.ModeSymlink
	case 0o020000:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case 0o060000:
		mode |= fs.ModeDevice
	case 0o010000:
		mode |= fs.ModeNamedPipe
	case 0o140000:
		mode |= fs.ModeSocket
	}
	return mode
}

func checkType(t EntryType, m fs.FileMode) error {
	ok := false
	switch t {
	case TypeFile:
		ok = m.IsRegular()
	case TypeDir:
		ok = m.IsDir()
	case TypeSymlink:
		ok = m&fs.ModeSymlink != 0
	case TypeOther:
		ok = !m.IsRegular() && !m.IsDir() && m&fs.ModeSymlink == 0
	}
	if !ok {
		return fmt.Errorf("type %s disagrees with mode %v", t, m)
	}
	return nil
}

func decodeHex(s string) (string, error) {
	b, err := hex.DecodeString(s)
	if err != nil {
		return "", fmt.Errorf("hex %q: %w", s, err)
	}
	return string(b), nil
}

func isLowerHex(s string) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
