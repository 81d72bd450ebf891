package argv

import "strings"

// The generators below are the inverse of the splitters: for every string s,
// Split(Join(args, q), q) yields args again, byte for byte. They follow the rules
// VirtualBox's own argv-to-string converter uses (spec §1.10) so that files we write
// look like files VirtualBox writes, with one deliberate fix: an empty argument is
// written as '' (Bourne) or "" (MS CRT) instead of vanishing.

// bourneSpecial lists the printable ASCII characters that make QuoteBourne quote.
const bourneSpecial = "!\"$&()*;<>?[\\'`|~"

// msSpecial lists the printable ASCII characters that make QuoteMSCRT quote.
const msSpecial = "\"&<>|%"

// needsQuoting reports whether arg contains a control byte (< 0x20), a space or one
// of the special characters. Bytes >= 0x7F (DEL, UTF-8 sequences) never do.
func needsQuoting(arg, special string) bool {
	for i := 0; i < len(arg); i++ {
		c := arg[i]
		if c < 0x20 || c == ' ' || strings.IndexByte(special, c) >= 0 {
			return true
		}
	}
	return false
}

// QuoteBourne returns arg as one Bourne-dialect word: raw when it holds nothing
// special, otherwise in single quotes with each ' written as '"'"'. The empty
// argument is written as a pair of single quotes (VirtualBox writes nothing, which
// loses the argument).
func QuoteBourne(arg string) string {
	if arg == "" {
		return "''"
	}
	if !needsQuoting(arg, bourneSpecial) {
		return arg
	}
	return "'" + strings.ReplaceAll(arg, "'", `'"'"'`) + "'"
}

// JoinBourne quotes each argument with QuoteBourne and separates them by one space.
func JoinBourne(args []string) string {
	return join(args, QuoteBourne)
}

// QuoteMSCRT returns arg as one MS-CRT-dialect word: raw when it holds nothing special,
// otherwise in double quotes, where " becomes \" and a run of backslashes is doubled
// when a quote or the closing quote follows it. The empty argument is written as "".
func QuoteMSCRT(arg string) string {
	if arg == "" {
		return `""`
	}
	if !needsQuoting(arg, msSpecial) {
		return arg
	}
	var b strings.Builder
	b.Grow(len(arg) + 2)
	b.WriteByte('"')
	run := 0 // backslashes seen since the last other character
	for i := 0; i < len(arg); i++ {
		switch c := arg[i]; c {
		case '\\':
			run++
		case '"':
			// n backslashes before a quote become 2n+1: n pairs plus the escape.
			b.WriteString(strings.Repeat(`\`, 2*run+1))
			b.WriteByte('"')
			run = 0
		default:
			b.WriteString(strings.Repeat(`\`, run))
			b.WriteByte(c)
			run = 0
		}
	}
	// Trailing backslashes precede the closing quote, so they are doubled.
	b.WriteString(strings.Repeat(`\`, 2*run))
	b.WriteByte('"')
	return b.String()
}

// JoinMSCRT quotes each argument with QuoteMSCRT and separates them by one space.
func JoinMSCRT(args []string) string {
	return join(args, QuoteMSCRT)
}

// Join joins args with the generator of the given dialect (Bourne unless MSCRT).
func Join(args []string, q Quoting) string {
	if q == MSCRT {
		return JoinMSCRT(args)
	}
	return JoinBourne(args)
}

func join(args []string, quote func(string) string) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(quote(a))
	}
	return b.String()
}
