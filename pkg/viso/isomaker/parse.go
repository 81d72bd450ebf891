// Package isomaker implements the IPRT ISO maker as used by VirtualBox VISO
// files. This file and its siblings turn the argument vector of a VISO into a
// typed, validated, ordered Plan; building an image from a Plan is the
// executor's job. The parser never opens a source file: everything it reports
// is knowable from the text alone (response files are read through a callback
// supplied by the caller).
package isomaker

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/csi-viso/csi-viso/pkg/viso/argv"
)

// Limits of the 7.0/7.1 ISO maker.
const (
	// MaxPushes is the number of --push-iso* that may be open at once (5 stack
	// slots, one of which is the VISO directory).
	MaxPushes = 4
	// MaxNamePositions is the most positions --name-setup accepts.
	MaxNamePositions = 8
	// MaxResponseFileDepth is how deeply @response files may nest.
	MaxResponseFileDepth = 3
	// MaxResponseFileSize is the exclusive upper bound on a response file's size (2 MiB).
	MaxResponseFileSize = 2 << 20
	// MaxResponseBytesTotal bounds the bytes read from all response files of
	// one parse together. IPRT has no such bound; without it a few small files
	// that include each other many times would make parsing take forever
	// (each level multiplies the work), which a CSI driver must not allow.
	MaxResponseBytesTotal = 32 << 20
	// MaxNameLength is RTPATH_MAX: a file-spec piece must be shorter.
	MaxNameLength = 4096
)

// Options configures Parse.
type Options struct {
	File string // the VISO name used in errors
	// ReadResponseFile returns the bytes of an @file (path exactly as written after '@').
	// The caller confines it; nil means response files are refused with a clear error.
	ReadResponseFile func(path string) ([]byte, error)
}

// Parse turns args (argv[1:] of a VISO: the marker is normally the first
// argument and is an ordinary option whose value is ignored) into a Plan. Every
// error is an *argv.Error naming the file, line and argument at fault and
// wrapping one of this package's sentinel errors.
func Parse(args []argv.Arg, opts Options) (*Plan, error) {
	p := &parser{opts: opts, positions: 1, isoLevel: 3, plan: &Plan{Operations: []Operation{}}}
	top := &source{file: opts.File}
	if err := p.run(args, top); err != nil {
		return nil, err
	}
	if err := p.finish(); err != nil {
		return nil, err
	}
	return p.plan, nil
}

// source is the argument vector being parsed: the VISO itself or a response file.
type source struct {
	file     string   // name for errors: Options.File or the response file path
	response bool     // true for @files; their operations record File
	depth    int      // 0 for the VISO, 1.. for nested response files
	via      []string // the @arguments that included this file, innermost first
}

// parser holds the state that survives across response files: the maker's
// state is global, only GetOpt's "--" is per argument vector.
type parser struct {
	opts       Options
	plan       *Plan
	positions  int      // positions of the current name setup
	isoLevel   int      // tracked for -l, which lowers 3 to 2 but never raises 1
	pushes     []string // option and path of each open --push-iso*
	hasContent bool     // an add, import or --eltorito-add-image was seen
	hasImport  bool     // an --import-iso (not skipping El Torito) was seen
	boot       bootBuilder
	rspBytes   int // bytes read from response files so far
}

// fail wraps err as an *argv.Error for argument a of src.
func (p *parser) fail(src *source, a argv.Arg, err error) error {
	if len(src.via) > 0 {
		err = fmt.Errorf("%w (included by %s)", err, strings.Join(src.via, ", by "))
	}
	return &argv.Error{File: src.file, Line: a.Line, Arg: a.Text, Err: err}
}

// emit appends op, stamped with the argument it came from, and returns its index.
func (p *parser) emit(src *source, a argv.Arg, op Operation) int {
	if src.response {
		op.File = src.file
	}
	op.Line, op.Arg = a.Line, a.Text
	p.plan.Operations = append(p.plan.Operations, op)
	return len(p.plan.Operations) - 1
}

// run parses one argument vector left to right.
func (p *parser) run(args []argv.Arg, src *source) error {
	optionsEnded := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !optionsEnded {
			if a.Text == "--" {
				optionsEnded = true
				continue
			}
			matches, isOption := matchOption(a.Text)
			if isOption {
				if matches == nil {
					return p.fail(src, a, fmt.Errorf("%w: '%s'", ErrUnknownOption, a.Text))
				}
				for _, m := range matches {
					valArg := a
					if m.def.takesValue() && !m.inline {
						if i+1 >= len(args) {
							return p.fail(src, a, fmt.Errorf("%s: %w", m.def.name(), ErrMissingValue))
						}
						i++
						valArg = args[i]
						m.value = valArg.Text
					}
					if err := p.option(src, a, valArg, m); err != nil {
						return err
					}
				}
				continue
			}
		}
		if strings.HasPrefix(a.Text, "@") && !strings.Contains(a.Text, "=") {
			if err := p.responseFile(src, a); err != nil {
				return err
			}
			continue
		}
		if err := p.fileSpec(src, a); err != nil {
			return err
		}
	}
	return nil
}

// match is one recognised option in an argument (a cluster yields several).
type match struct {
	def    *optDef
	value  string
	inline bool // the value was part of the argument (--x=v, --x:v, -xv, -x=v)
}

// matchOption applies IPRT GetOpt's rules (§2.1) to one argument. isOption is
// false for arguments that are not options (they are file specs or response
// files). For an option-like argument that matches nothing, isOption is true
// and matches nil, except that an argument introduced by a Unicode dash is then
// not an option at all.
func matchOption(text string) (matches []match, isOption bool) {
	first, size := utf8.DecodeRuneInString(text)
	if text == "" || !isDash(first) {
		return nil, false
	}
	ascii := first == '-'

	// Long options (including mkisofs-style single-dash ones) come first. The
	// name ends at the first '=' or ':'; a value-less option must be the whole
	// argument.
	head, value, hasSep := text, "", false
	if k := strings.IndexAny(text, "=:"); k >= 0 {
		head, value, hasSep = text[:k], text[k+1:], true
	}
	norm, _ := normaliseDashes(head)
	if d := longOptions[norm]; d != nil && (d.takesValue() || !hasSep) {
		return []match{{def: d, value: value, inline: hasSep}}, true
	}

	// Short options: -x, -xVALUE, -x=VALUE, -x:VALUE, -x VALUE, and clusters of
	// value-less ones (-JR). A value-taking letter inside a cluster takes the
	// rest of the argument, as POSIX getopt does.
	rest := text[size:]
	for j := 0; j < len(rest); j++ {
		c := rest[j]
		var d *optDef
		if c < utf8.RuneSelf {
			d = shortOptions[c]
		}
		if d == nil {
			matches = nil
			break
		}
		if d.takesValue() {
			v := rest[j+1:]
			if v == "" {
				matches = append(matches, match{def: d})
			} else {
				if v[0] == '=' || v[0] == ':' {
					v = v[1:]
				}
				matches = append(matches, match{def: d, value: v, inline: true})
			}
			return matches, true
		}
		matches = append(matches, match{def: d})
	}
	if matches != nil {
		return matches, true
	}
	if !ascii {
		return nil, false
	}
	return nil, true
}

// responseFile handles an "@path" argument (§1.11).
func (p *parser) responseFile(src *source, a argv.Arg) error {
	path := a.Text[1:]
	if path == "" {
		return p.fail(src, a, fmt.Errorf("%w: empty response file name", ErrResponseFile))
	}
	if p.opts.ReadResponseFile == nil {
		return p.fail(src, a, fmt.Errorf("%w: %s: response files are not allowed here", ErrResponseFile, path))
	}
	if strings.HasPrefix(path, vfsChainPrefix) {
		return p.fail(src, a, fmt.Errorf("%w: response file %s", ErrVFSChain, path))
	}
	if src.depth+1 > MaxResponseFileDepth {
		return p.fail(src, a, fmt.Errorf("%w: Too many nested argument files! (at most %d levels)", ErrResponseFile, MaxResponseFileDepth))
	}
	data, err := p.opts.ReadResponseFile(path)
	if err != nil {
		return p.fail(src, a, fmt.Errorf("%w: %s: %w", ErrResponseFile, path, err))
	}
	if len(data) >= MaxResponseFileSize {
		return p.fail(src, a, fmt.Errorf("%w: %s: file is too big: %d bytes, max 2MB", ErrResponseFile, path, len(data)))
	}
	p.rspBytes += len(data)
	if p.rspBytes > MaxResponseBytesTotal {
		return p.fail(src, a, fmt.Errorf("%w: %s: response files read in total exceed %d bytes", ErrResponseFile, path, MaxResponseBytesTotal))
	}
	if err := argv.ValidateUTF8(data); err != nil {
		return p.fail(src, a, fmt.Errorf("%w: %s: invalid encoding: %w", ErrResponseFile, path, err))
	}
	text := string(data)
	quoting := argv.Bourne
	if strings.Contains(text, "--iprt-iso-maker-file-marker-ms") {
		quoting = argv.MSCRT
	}
	args := argv.Split(text, quoting)
	inner := &source{
		file:     path,
		response: true,
		depth:    src.depth + 1,
		via:      append([]string{fmt.Sprintf("%q at %s:%d", a.Text, src.file, a.Line)}, src.via...),
	}
	return p.run(args, inner)
}
