// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package piece

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/pollen-dev/pollen/internal/core"
)

// Section is a verified piece opened for serving. It reads the task's
// shared data file at the piece's offset (pread, or sendfile with an
// offset), so opening one costs no system call, and it keeps the task
// pinned until [Section.Close].
//
// To upload with sendfile, copy the section to the connection with io.Copy:
// [Section.WriteTo] hands a descriptor of its own, positioned at the piece,
// to the connection's ReadFrom. Or take [Section.File], [Section.Offset]
// and [Section.Len] and send the range without using the file's position.
// A Section is used by one goroutine.
type Section struct {
	t      *Task
	f      File
	r      core.Range
	pos    int64 // bytes consumed by Read/WriteTo
	closed bool
}

// OpenPiece opens piece i for serving. It fails with [ErrPieceMissing] if
// the piece is not present and verified.
func (t *Task) OpenPiece(i core.PieceIndex) (*Section, error) {
	if !t.hdr.layout.Contains(i) {
		return nil, fmt.Errorf("%w: %d of %d", ErrRange, i, t.hdr.layout.Pieces())
	}
	t.mu.Lock()
	ok, closed, d := t.present.has(int(i)), t.closed, t.digests[i]
	t.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if !ok {
		return nil, fmt.Errorf("%w: piece %d of %s", ErrPieceMissing, i, t.hdr.id.Short())
	}
	r := t.hdr.layout.Piece(i)
	if invariants {
		if err := checkPiece(t.data, r, d); err != nil {
			return nil, fmt.Errorf("piece: invariant: piece %d of %s: %w", i, t.hdr.id.Short(), err)
		}
	}
	if err := t.st.repin(t); err != nil {
		return nil, err
	}
	return &Section{t: t, f: t.data, r: r}, nil
}

// File returns the task's data file, shared by every section and writer of
// the task: read it with ReadAt, or send [Section.Offset] and [Section.Len]
// of it with sendfile given an offset; never use or move its position. On
// the [OS] file system it is an *os.File. It stays open until the section
// is closed.
func (s *Section) File() File { return s.f }

// Offset returns the piece's offset in the data file.
func (s *Section) Offset() int64 { return s.r.Off }

// Len returns the piece's length.
func (s *Section) Len() int64 { return s.r.Len }

// Read reads the next bytes of the piece.
func (s *Section) Read(p []byte) (int, error) {
	if s.pos >= s.r.Len {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), s.r.Len-s.pos)]
	n, err := s.f.ReadAt(p, s.r.Off+s.pos)
	s.pos += int64(n)
	if errors.Is(err, io.EOF) && s.pos < s.r.Len {
		err = io.ErrUnexpectedEOF // the data file is shorter than the task
	} else if errors.Is(err, io.EOF) {
		err = nil
	}
	return n, err
}

// WriteTo writes the rest of the piece to w. When the data file is an
// *os.File and w implements io.ReaderFrom (a *net.TCPConn does) this is one
// sendfile loop in the kernel, from a descriptor of the section's own
// (opened here: sendfile through ReadFrom starts at the file's position,
// which the shared descriptor must keep); other writers get pread copies.
func (s *Section) WriteTo(w io.Writer) (int64, error) {
	rest := s.r.Len - s.pos
	if rest <= 0 {
		return 0, nil
	}
	var n int64
	var err error
	_, isFile := s.f.(*os.File)
	if _, ok := w.(io.ReaderFrom); ok && isFile {
		n, err = s.sendfile(w, rest)
	} else {
		n, err = io.Copy(w, io.NewSectionReader(s.f, s.r.Off+s.pos, rest))
	}
	s.pos += n
	if err == nil && n < rest {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// sendfile copies rest bytes from the section's position to w through a
// descriptor of its own.
func (s *Section) sendfile(w io.Writer, rest int64) (int64, error) {
	f, err := s.t.st.fs.OpenFile(filepath.Join(s.t.dir, dataName), os.O_RDONLY, 0)
	if err != nil {
		return 0, fmt.Errorf("piece: open piece of %s: %w", s.t.hdr.id.Short(), err)
	}
	defer func() { _ = f.Close() }() // read-only: nothing to flush
	if _, err := f.Seek(s.r.Off+s.pos, io.SeekStart); err != nil {
		return 0, err
	}
	of, ok := f.(*os.File)
	if !ok { // an FS whose data file is an *os.File but its reopen is not
		return io.Copy(w, io.NewSectionReader(f, s.r.Off+s.pos, rest))
	}
	return io.Copy(w, &io.LimitedReader{R: of, N: rest})
}

// Close releases the task. It is idempotent. The shared data file stays
// open: it belongs to the task.
func (s *Section) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	s.t.Release()
	return nil
}

// checkPiece rereads r from f and compares its digest to want.
func checkPiece(f io.ReaderAt, r core.Range, want core.Digest) error {
	h := newSHA256()
	if err := copyRange(h, f, r, make([]byte, 64<<10)); err != nil {
		return err
	}
	var got core.Digest
	h.Sum(got[:0])
	if got != want {
		return fmt.Errorf("digest %s on disk, %s recorded", got, want)
	}
	return nil
}
