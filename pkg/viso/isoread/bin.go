package isoread

import (
	"encoding/binary"
	"time"
)

// Both-endian fields are read from their little-endian half only: the spec
// (§4.6) notes writers that leave the big-endian copy stale, and readers such
// as Linux also trust the LE half.

func le16(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }
func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }

// recordTime decodes the 7-byte directory record / RR TF short form: years
// since 1900, month, day, hour, minute, second, GMT offset in 15-minute units.
// An all-zero field (month 0) means "not recorded" and yields the zero time.
func recordTime(b []byte) time.Time {
	if len(b) < 7 || b[1] == 0 {
		return time.Time{}
	}
	t := time.Date(1900+int(b[0]), time.Month(b[1]), int(b[2]), int(b[3]), int(b[4]), int(b[5]), 0, time.UTC)
	return t.Add(-offsetDuration(int8(b[6]))).UTC()
}

// decTime decodes the 17-byte volume descriptor / RR TF long form
// "YYYYMMDDHHMMSScc"+offset. Unspecified (all '0' or zero bytes) or
// non-digit fields yield the zero time: a bad timestamp is not worth failing
// an import over.
func decTime(b []byte) time.Time {
	if len(b) < 17 {
		return time.Time{}
	}
	var v [8]int
	widths := [8]int{4, 2, 2, 2, 2, 2, 2}
	pos := 0
	for i := range 7 {
		n := 0
		for j := range widths[i] {
			c := b[pos+j]
			if c < '0' || c > '9' {
				return time.Time{}
			}
			n = n*10 + int(c-'0')
		}
		v[i] = n
		pos += widths[i]
	}
	if v[0] == 0 && v[1] == 0 {
		return time.Time{}
	}
	t := time.Date(v[0], time.Month(v[1]), v[2], v[3], v[4], v[5], v[6]*10_000_000, time.UTC)
	return t.Add(-offsetDuration(int8(b[16]))).UTC()
}

// offsetDuration converts a GMT offset in 15-minute units; values outside the
// ECMA-119 range (-48..52) are treated as 0.
func offsetDuration(o int8) time.Duration {
	if o < -48 || o > 52 {
		return 0
	}
	return time.Duration(o) * 15 * time.Minute
}

// trimField trims trailing spaces and NULs of a fixed-width string field.
func trimField(b []byte) string {
	end := len(b)
	for end > 0 && (b[end-1] == ' ' || b[end-1] == 0) {
		end--
	}
	return string(b[:end])
}
