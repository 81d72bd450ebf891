package isoread

import (
	"fmt"
	"io"
)

// File reads a regular file's data through its extents in the source.
type File struct {
	r       io.ReaderAt
	extents []Extent
	size    int64
}

// Open returns a reader for the data of the regular file e.
func (v *Volume) Open(e *Entry) (*File, error) {
	if e.Kind != KindFile {
		return nil, fmt.Errorf("open '%s': %s: %w", e.Path(), e.Kind, ErrNotFile)
	}
	return &File{r: v.r, extents: e.Extents, size: int64(e.Size)}, nil
}

// Size returns the file size.
func (f *File) Size() int64 { return f.size }

// Reader returns a sequential reader over the whole file.
func (f *File) Reader() *io.SectionReader { return io.NewSectionReader(f, 0, f.size) }

// ReadAt implements io.ReaderAt across the file's extents.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read at negative offset %d: %w", off, io.ErrUnexpectedEOF)
	}
	n := 0
	base := int64(0) // file offset of the current extent
	for _, x := range f.extents {
		if len(p) == 0 {
			break
		}
		xl := int64(x.Length)
		if off >= base+xl {
			base += xl
			continue
		}
		within := off - base
		chunk := min(int64(len(p)), xl-within)
		m, err := f.r.ReadAt(p[:chunk], int64(x.LBA)*SectorSize+within)
		n += m
		if int64(m) < chunk {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return n, fmt.Errorf("reading extent at LBA %d: %w", x.LBA, err)
		}
		p = p[chunk:]
		off += chunk
		base += xl
	}
	if len(p) > 0 {
		return n, io.EOF
	}
	return n, nil
}
