// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"fmt"
	"io"
	"os"
)

// Access is the set of rights a Send grants on its segment.
type Access uint8

// Access rights. Any other bit is invalid.
const (
	// Read lets the receiver copy from the segment ([Request.MoveFrom]).
	Read Access = 1 << iota
	// Write lets the receiver copy into the segment ([Request.MoveTo],
	// [Request.ReplyWithSegment]).
	Write
)

func (a Access) valid() bool { return a&^(Read|Write) == 0 }

// String returns "r", "w", "rw" or "-".
func (a Access) String() string {
	switch a {
	case Read:
		return "r"
	case Write:
		return "w"
	case Read | Write:
		return "rw"
	case 0:
		return "-"
	}
	return fmt.Sprintf("Access(%#x)", uint8(a))
}

// A Segment is memory or file data: the sender's segment granted with a
// Send, or the local side of a move. It is [Bytes] or [FileRange]; no other
// types implement it.
type Segment interface {
	// Len returns the segment's length in bytes.
	Len() int64
	segment()
}

// Bytes is a segment in memory.
type Bytes []byte

// Len returns len(b).
func (b Bytes) Len() int64 { return int64(len(b)) }
func (Bytes) segment()     {}

// A FileRange is a segment of Length bytes of File starting at Offset. File
// segments travel with sendfile(2) and are received with splice(2) where the
// platform has them. The file position is never used or changed.
type FileRange struct {
	File   *os.File
	Offset int64
	Length int64
}

// Len returns r.Length.
func (r FileRange) Len() int64 { return r.Length }
func (FileRange) segment()     {}

// checkSegment validates a segment given to Send or to a move: a file range
// must lie inside its file as it is now.
func checkSegment(s Segment) error {
	switch s := s.(type) {
	case nil, Bytes:
		return nil
	case FileRange:
		if s.File == nil || s.Offset < 0 || s.Length < 0 {
			return fmt.Errorf("file segment off %d len %d: %w", s.Offset, s.Length, ErrOutOfRange)
		}
		fi, err := s.File.Stat()
		if err != nil {
			return fmt.Errorf("file segment: %w", err)
		}
		if fi.Mode().IsRegular() && s.Offset+s.Length > fi.Size() {
			return fmt.Errorf("file segment [%d, %d) of a %d-byte file: %w",
				s.Offset, s.Offset+s.Length, fi.Size(), ErrSegmentBeyondFile)
		}
		return nil
	}
	return fmt.Errorf("segment type %T: %w", s, ErrAccess)
}

// segLen returns the length of s, 0 for nil.
func segLen(s Segment) int64 {
	if s == nil {
		return 0
	}
	return s.Len()
}

// inRange reports whether [off, off+n) lies inside [0, size).
func inRange(off, n, size int64) bool {
	return off >= 0 && n >= 0 && off <= size && n <= size-off
}

// checkGrant checks that rights include want and [off, off+n) lies inside
// a segment of size bytes.
func checkGrant(rights, want Access, size, off, n int64) error {
	if rights&want != want {
		return fmt.Errorf("%v access on a %v grant: %w", want, rights, ErrAccess)
	}
	if !inRange(off, n, size) {
		return fmt.Errorf("[%d, %d) in a %d-byte segment: %w", off, off+n, size, ErrOutOfRange)
	}
	return nil
}

// readSeg copies len(p) bytes at off of s into p. The range is checked.
func readSeg(s Segment, off int64, p []byte) error {
	switch s := s.(type) {
	case Bytes:
		copy(p, s[off:])
		return nil
	case FileRange:
		_, err := s.File.ReadAt(p, s.Offset+off)
		if err == io.EOF {
			return fmt.Errorf("read file segment: %w", ErrSegmentBeyondFile)
		}
		return err
	}
	return ErrAccess
}

// writeSeg copies p into s at off. The range is checked.
func writeSeg(s Segment, off int64, p []byte) error {
	switch s := s.(type) {
	case Bytes:
		copy(s[off:], p)
		return nil
	case FileRange:
		_, err := s.File.WriteAt(p, s.Offset+off)
		return err
	}
	return ErrAccess
}

// copySeg copies n bytes from src at srcOff to dst at dstOff, both local.
// Ranges are checked by the caller. File to file uses copy_file_range or
// splice through os.File.ReadFrom where the kernel allows it.
func copySeg(dst Segment, dstOff int64, src Segment, srcOff, n int64) error {
	switch d := dst.(type) {
	case Bytes:
		return readSeg(src, srcOff, d[dstOff:dstOff+n])
	case FileRange:
		switch s := src.(type) {
		case Bytes:
			return writeSeg(d, dstOff, s[srcOff:srcOff+n])
		case FileRange:
			w := io.NewOffsetWriter(d.File, d.Offset+dstOff)
			got, err := io.Copy(w, io.NewSectionReader(s.File, s.Offset+srcOff, n))
			if err == nil && got < n {
				err = fmt.Errorf("copy file segment: %w", ErrSegmentBeyondFile)
			}
			return err
		}
	}
	return ErrAccess
}
