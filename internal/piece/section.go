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

// Section is a verified piece opened for serving. It has its own file
// descriptor positioned at the piece, so concurrent sections never share a
// file offset, and it keeps the task pinned until [Section.Close].
//
// To upload with sendfile, copy the section to the connection with io.Copy:
// [Section.WriteTo] hands the *os.File to the connection's ReadFrom. Or take
// [Section.File], [Section.Offset] and [Section.Len] directly.
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
	f, err := t.st.fs.OpenFile(filepath.Join(t.dir, dataName), os.O_RDONLY, 0)
	if err == nil {
		if _, err = f.Seek(r.Off, io.SeekStart); err != nil {
			_ = f.Close()
		}
	}
	if err != nil {
		t.Release()
		return nil, fmt.Errorf("piece: open piece %d of %s: %w", i, t.hdr.id.Short(), err)
	}
	return &Section{t: t, f: f, r: r}, nil
}

// File returns the section's own data file descriptor, positioned at the
// piece's offset when opened (Read does not move it; WriteTo does). On the
// [OS] file system it is an *os.File, for a caller that sendfiles
// [Section.Len] bytes itself.
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

// WriteTo writes the rest of the piece to w. When the file is an *os.File
// and w implements io.ReaderFrom (a *net.TCPConn does) this is one
// sendfile loop in the kernel.
func (s *Section) WriteTo(w io.Writer) (int64, error) {
	rest := s.r.Len - s.pos
	if rest <= 0 {
		return 0, nil
	}
	if _, err := s.f.Seek(s.r.Off+s.pos, io.SeekStart); err != nil {
		return 0, err
	}
	var n int64
	var err error
	if f, ok := s.f.(*os.File); ok {
		n, err = io.Copy(w, &io.LimitedReader{R: f, N: rest})
	} else {
		n, err = io.Copy(w, io.NewSectionReader(s.f, s.r.Off+s.pos, rest))
	}
	s.pos += n
	if err == nil && n < rest {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// Close closes the file and releases the task. It is idempotent.
func (s *Section) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.f.Close()
	s.t.Release()
	return err
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
