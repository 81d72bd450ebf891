package isomaker

import (
	"fmt"
	"strings"
)

// majorNS is a major namespace word group, including the two that 7.0/7.1
// reject (udf, hfs) so that their minor words get the right message.
type majorNS int

const (
	majorPrimary majorNS = iota + 1
	majorJoliet
	majorUDF
	majorHFS
)

// messageName is how VirtualBox names the major in name-setup messages.
func (m majorNS) messageName() string {
	switch m {
	case majorPrimary:
		return "iso-9660"
	case majorJoliet:
		return "joliet"
	case majorUDF:
		return "udf"
	}
	return "hfs"
}

func (m majorNS) namespace() Namespace {
	if m == majorJoliet {
		return NSJoliet
	}
	return NSPrimary
}

// planName is the name used for the major in NamePosition.Minor.
func (m majorNS) planName() string {
	switch m {
	case majorPrimary:
		return "primary"
	case majorJoliet:
		return "joliet"
	case majorUDF:
		return "udf"
	}
	return "hfs"
}

type minorKind int

const (
	minorNone minorKind = iota
	minorRR
	minorTrans
)

func (k minorKind) String() string {
	if k == minorRR {
		return "rock-ridge"
	}
	return "trans-tbl"
}

// nameWord is the meaning of one --name-setup word.
type nameWord struct {
	major majorNS   // for a major word, or the qualifier of a qualified minor word
	minor minorKind // minorNone for a major word
}

var nameWords = buildNameWords()

func buildNameWords() map[string]nameWord {
	w := map[string]nameWord{
		"joliet":  {major: majorJoliet},
		"udf":     {major: majorUDF},
		"hfs":     {major: majorHFS},
		"hfsplus": {major: majorHFS},
		// Unqualified minors attach to the preceding major of the position.
		"rr": {minor: minorRR}, "rock": {minor: minorRR}, "rock-ridge": {minor: minorRR},
		"trans": {minor: minorTrans}, "trans-tbl": {minor: minorTrans},
	}
	primary := []string{"iso", "primary", "iso9660", "iso-9660", "primary-iso", "iso-primary"}
	for _, p := range primary {
		w[p] = nameWord{major: majorPrimary}
	}
	qualify := func(prefixes []string, m majorNS, kinds ...minorKind) {
		for _, p := range prefixes {
			for _, k := range kinds {
				suffixes := []string{"-trans", "-trans-tbl"}
				if k == minorRR {
					suffixes = []string{"-rr", "-rock", "-rock-ridge"}
				}
				for _, s := range suffixes {
					w[p+s] = nameWord{major: m, minor: k}
				}
			}
		}
	}
	qualify(append(primary, "primaryiso"), majorPrimary, minorRR, minorTrans)
	qualify([]string{"joliet"}, majorJoliet, minorRR, minorTrans)
	qualify([]string{"udf"}, majorUDF, minorTrans)
	qualify([]string{"hfs"}, majorHFS, minorTrans)
	return w
}

// parseNameSetup parses a --name-setup value (§3.3): positions separated by
// ',', each a set of words separated by ' ', '+' or '|'. Word matching is
// case-sensitive, like option names.
func parseNameSetup(value string) ([]NamePosition, error) {
	parts := strings.Split(value, ",")
	if len(parts) > MaxNamePositions {
		return nil, fmt.Errorf("%w: too many name specifiers (max %d)", ErrNameSetup, MaxNamePositions)
	}
	used := map[majorNS]bool{}
	positions := make([]NamePosition, 0, len(parts))
	for i, part := range parts {
		words := strings.FieldsFunc(part, func(r rune) bool { return r == ' ' || r == '+' || r == '|' })
		if len(words) == 0 {
			return nil, fmt.Errorf("%w: name specifier #%d (0-based) is empty", ErrNameSetup, i)
		}
		var pos NamePosition
		here := map[majorNS]bool{}
		var last majorNS
		for _, word := range words {
			nw, ok := nameWords[word]
			if !ok {
				return nil, fmt.Errorf("%w: unknown name specifier '%s'", ErrNameSetup, word)
			}
			if nw.minor == minorNone {
				switch nw.major {
				case majorUDF:
					return nil, fmt.Errorf("%w: UDF support is currently not implemented", ErrNameSetup)
				case majorHFS:
					return nil, fmt.Errorf("%w: Hybrid HFS+ support is currently not implemented", ErrNameSetup)
				}
				if used[nw.major] {
					return nil, fmt.Errorf("%w: repeating name specifier: %s", ErrNameSetup, nw.major.messageName())
				}
				if !here[nw.major] {
					here[nw.major] = true
					pos.Namespaces = append(pos.Namespaces, nw.major.namespace())
				}
				last = nw.major
				continue
			}
			owner := nw.major
			if owner == 0 {
				if last == 0 {
					return nil, fmt.Errorf("%w: unqualified %s name specifier", ErrNameSetup, nw.minor)
				}
				owner = last
			} else if !here[owner] {
				return nil, fmt.Errorf("%w: %s must come after the %s name specifier", ErrNameSetup, word, owner.messageName())
			}
			minor := owner.planName() + "-" + nw.minor.String()
			if !containsString(pos.Minor, minor) {
				pos.Minor = append(pos.Minor, minor)
			}
		}
		for m := range here {
			used[m] = true
		}
		positions = append(positions, pos)
	}
	return positions, nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
