package isomaker

import (
	"fmt"
	"strings"
)

// chmodSpec is a parsed --chmod value: either a replacement mode or bits to add.
type chmodSpec struct {
	mode    *Mode
	addBits *Mode
	path    string
}

// The symbolic forms --chmod understands; anything else symbolic is refused.
var chmodAddForms = map[string]Mode{"a+x": 0o111, "a+r": 0o444, "a+rx": 0o555}

// parseChmod parses "MODE:/path" (§2.6).
func parseChmod(value string) (chmodSpec, error) {
	var spec chmodSpec
	var rest string
	if value != "" && value[0] >= '0' && value[0] <= '9' {
		v, r, ok := leadingOctal(value)
		if !ok {
			return spec, fmt.Errorf("%w: Malformed --chmod, octal mode parse failed: %s", ErrAttrSpec, value)
		}
		if v > 0o7777 {
			return spec, fmt.Errorf("%w: Malformed --chmod, invalid mode mask: 0%o, max 07777", ErrAttrSpec, v)
		}
		if !strings.HasPrefix(r, ":") {
			return spec, fmt.Errorf("%w: Malformed --chmod, expected colon after mode: %s", ErrAttrSpec, value)
		}
		m := Mode(v)
		spec.mode, rest = &m, r[1:]
	} else {
		sym, r, found := strings.Cut(value, ":")
		bits, known := chmodAddForms[sym]
		if !found {
			// No colon: a known form followed by junk lacks its colon; anything
			// else is a mode expression we do not understand.
			for form := range chmodAddForms {
				if strings.HasPrefix(value, form) {
					return spec, fmt.Errorf("%w: Malformed --chmod, expected colon after mode: %s", ErrAttrSpec, value)
				}
			}
		}
		if !known || !found {
			return spec, fmt.Errorf("%w: Sorry, --chmod doesn't understand complicated mode expressions: %s", ErrAttrSpec, value)
		}
		spec.addBits, rest = &bits, r
	}
	if !strings.HasPrefix(rest, "/") {
		return spec, fmt.Errorf("%w: Malformed --chmod, path must start with a slash: %s", ErrAttrSpec, value)
	}
	spec.path = rest
	return spec, nil
}

// parseOwner parses the "ID:/path" value of --chown or --chgrp (option is the
// option name for messages). The id uses C base detection: decimal, 0x hex or
// 0-prefixed octal.
func parseOwner(option, value string) (id uint32, path string, err error) {
	id, rest, ok := leadingAutoBase(value)
	if !ok {
		return 0, "", fmt.Errorf("%w: Malformed %s, numeric ID parse failed: %s", ErrAttrSpec, option, value)
	}
	if !strings.HasPrefix(rest, ":") {
		return 0, "", fmt.Errorf("%w: Malformed %s, expected colon after ID: %s", ErrAttrSpec, option, value)
	}
	if !strings.HasPrefix(rest[1:], "/") {
		return 0, "", fmt.Errorf("%w: Malformed %s, path must start with a slash: %s", ErrAttrSpec, option, value)
	}
	return id, rest[1:], nil
}
