package isoimage

import (
	"strings"
	"unsafe"
)

// Names live in an append-only arena instead of one heap string each: a node
// then holds 8-byte references, the names of a directory's children sit next
// to each other (fewer cache misses when a directory sector is rendered), and
// nothing keeps the executor's path strings alive.

const (
	arenaMaxChunk = 1 << 20 // bytes; positions fit 20 bits
	arenaMinChunk = 4 << 10
	maxNameLen    = 1<<16 - 1
)

// strRef points at a name in the arena: chunk<<20 | position, and a length.
type strRef struct {
	at uint32
	n  uint16
}

type arena struct {
	chunks [][]byte
}

// add copies s into the arena. len(s) must be ≤ maxNameLen (callers check).
func (a *arena) add(s string) strRef {
	if len(s) == 0 {
		return strRef{}
	}
	last := len(a.chunks) - 1
	if last < 0 || cap(a.chunks[last])-len(a.chunks[last]) < len(s) {
		size := arenaMinChunk
		if last >= 0 {
			size = min(2*cap(a.chunks[last]), arenaMaxChunk)
		}
		a.chunks = append(a.chunks, make([]byte, 0, max(size, len(s))))
		last++
	}
	c := a.chunks[last]
	pos := len(c)
	a.chunks[last] = append(c, s...)
	return strRef{at: uint32(last)<<20 | uint32(pos), n: uint16(len(s))}
}

// get returns the name without copying. The arena never rewrites bytes it
// has handed out, so the string stays immutable as Go requires.
func (a *arena) get(r strRef) string {
	if r.n == 0 {
		return ""
	}
	c := a.chunks[r.at>>20]
	pos := r.at & (1<<20 - 1)
	return unsafe.String(&c[pos], int(r.n))
}

// store is the object table shared by Tree and Image.
type store struct {
	nodes   []node
	srcs    []Source     // by ID; nil for everything but files
	parents [][2]ID      // by ID: parent in the primary and in the Joliet namespace
	times   [][4]isoTime // deduplicated birth/modify/access/change times; [0] is the epoch
	str     *arena
}

func (s *store) name(id ID) string  { return s.str.get(s.nodes[id].nameRef) }
func (s *store) iso(id ID) string   { return s.str.get(s.nodes[id].isoRef) }
func (s *store) jname(id ID) string { return s.str.get(s.nodes[id].jnameRef) }

// path returns the primary (or, failing that, Joliet) path of an object, for
// messages and listings; "" when it has no name.
func (s *store) path(id ID) string {
	if int(id) >= len(s.nodes) {
		return ""
	}
	if id == RootID {
		return "/"
	}
	n := &s.nodes[id]
	var parts []string
	switch {
	case n.flags&flagPrimary != 0:
		for cur := id; cur != RootID; cur = s.parents[cur][0] {
			parts = append(parts, s.name(cur))
		}
	case n.flags&flagJoliet != 0:
		for cur := id; cur != RootID; cur = s.parents[cur][1] {
			parts = append(parts, s.jname(cur))
		}
	default:
		return ""
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteByte('/')
		b.WriteString(parts[i])
	}
	return b.String()
}
