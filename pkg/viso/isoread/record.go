package isoread

import (
	"fmt"
	"time"
)

// Directory record flag bits (ECMA-119 §9.1.6).
const (
	flagHidden      = 0x01
	flagDir         = 0x02
	flagAssociated  = 0x04
	flagMultiExtent = 0x80
)

const minRecordLen = 34 // 33 fixed bytes + a 1-byte identifier

// rawRecord is one decoded directory record.
type rawRecord struct {
	lba      uint32 // extent start (already past any extended attribute record)
	size     uint64
	time     time.Time
	flags    byte
	ident    string // identifier bytes verbatim (UTF-16BE for Joliet)
	sysUse   []byte // system use field
	unitSize byte
	gapSize  byte
}

func (r rawRecord) isDir() bool { return r.flags&flagDir != 0 }

// parseRecord decodes the record at the start of b; b must be at least the
// record's length (b[0]).
func parseRecord(b []byte) (rawRecord, error) {
	if len(b) < minRecordLen {
		return rawRecord{}, fmt.Errorf("directory record of %d bytes is shorter than %d: %w", len(b), minRecordLen, ErrCorrupt)
	}
	n := int(b[0])
	if n < minRecordLen || n > len(b) {
		return rawRecord{}, fmt.Errorf("directory record length %d out of range %d..%d: %w", n, minRecordLen, len(b), ErrCorrupt)
	}
	idLen := int(b[32])
	if idLen == 0 || 33+idLen > n {
		return rawRecord{}, fmt.Errorf("directory record identifier length %d does not fit a %d-byte record: %w", idLen, n, ErrCorrupt)
	}
	sysStart := 33 + idLen
	if idLen%2 == 0 {
		sysStart++ // padding byte after an even-length identifier
	}
	if sysStart > n {
		sysStart = n
	}
	rec := rawRecord{
		lba:      le32(b[2:]) + uint32(b[1]),
		size:     uint64(le32(b[10:])),
		time:     recordTime(b[18:25]),
		flags:    b[25],
		unitSize: b[26],
		gapSize:  b[27],
		ident:    string(b[33 : 33+idLen]),
		sysUse:   b[sysStart:n],
	}
	return rec, nil
}
