// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package proto

import (
	"fmt"

	"github.com/pollen-dev/pollen/internal/core"
)

// Join adds the sending peer to a task, creating the task on first use. The
// first Join fixes the task's layout; a later Join with another layout is
// refused. Have lists the pieces the peer already holds (a restarted
// daemon, or a seed): empty, or exactly Layout.Pieces() bits, piece 0 in the
// most significant bit of the first byte, unused bits zero. Window > 0 asks
// for stream mode: the scheduler hands out only pieces in the peer's window
// [una, una+Window), where una is the first piece the peer has not
// acknowledged with [PieceDone]. Answered with [TaskInfo].
//
//	Join: peer [16] | task [32] | size u64 | pieceSize u32 | window u16 |
//	      urlLen u16 | url [urlLen] | haveLen u32 | have [haveLen]
type Join struct {
	Peer   core.PeerID
	Task   core.TaskID // never empty
	Layout core.Layout // must be valid
	Window uint16      // 0: file mode; otherwise the stream window in pieces, at most MaxWindow
	URL    string      // the source; at most MaxURLLen bytes
	Have   []byte      // bitmap of held pieces, or empty
}

func (*Join) message() {}

// Type returns [TypeJoin].
func (*Join) Type() Type { return TypeJoin }

// Len returns the encoded length.
func (m *Join) Len() int { return HeaderLen + 16 + 32 + 8 + 4 + 2 + 2 + len(m.URL) + 4 + len(m.Have) }

// validate checks the fields both codecs depend on.
func (m *Join) validate() error {
	if m.Peer.IsZero() {
		return fmt.Errorf("%w: zero peer id", ErrMalformed)
	}
	if m.Task == "" {
		return fmt.Errorf("%w: empty task id", ErrMalformed)
	}
	if err := m.Layout.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrLimit, err)
	}
	if m.Window > MaxWindow {
		return fmt.Errorf("%w: window %d, limit %d", ErrLimit, m.Window, MaxWindow)
	}
	return checkBitmap(m.Have, m.Layout.Pieces())
}

// Append appends the encoding of m to b.
func (m *Join) Append(b []byte) ([]byte, error) {
	if err := m.validate(); err != nil {
		return b, fmt.Errorf("join: %w", err)
	}
	b = appendHeader(b, TypeJoin)
	b = append(b, m.Peer[:]...)
	b, err := format.AppendTask(b, m.Task)
	if err != nil {
		return b, err
	}
	b = appendU64(b, uint64(m.Layout.Size))
	b = appendU32(b, uint32(m.Layout.PieceSize))
	b = appendU16(b, m.Window)
	if b, err = format.AppendStr(b, 2, m.URL, MaxURLLen, "url"); err != nil {
		return b, err
	}
	b = appendU32(b, uint32(len(m.Have)))
	return append(b, m.Have...), nil
}

func parseJoin(b []byte) (Join, int, error) {
	d := format.Decoder(b)
	var m Join
	m.Peer = d.Peer()
	m.Task = d.Task()
	m.Layout.Size = int64(d.U64())
	m.Layout.PieceSize = int64(d.U32())
	m.Window = d.U16()
	m.URL = d.Str(2, MaxURLLen, "url")
	if k := d.Count(4, 0, core.MaxPieces/8, 1, "bitmap bytes"); k > 0 {
		m.Have = append([]byte(nil), d.Take(k)...)
	}
	if d.Err() == nil {
		d.Fail(m.validate())
	}
	n, err := d.Done()
	return m, n, err
}

// checkBitmap checks that bm is empty or a canonical bitmap of n bits.
func checkBitmap(bm []byte, n int) error {
	if len(bm) == 0 {
		return nil
	}
	if len(bm) != (n+7)/8 {
		return fmt.Errorf("%w: bitmap of %d bytes for %d pieces", ErrMalformed, len(bm), n)
	}
	if r := n % 8; r != 0 && bm[len(bm)-1]&(0xff>>r) != 0 {
		return fmt.Errorf("%w: bitmap has bits set past piece %d", ErrMalformed, n-1)
	}
	return nil
}

// BitmapHas reports whether piece i is set in bitmap bm (most significant
// bit first); pieces past the bitmap are not set.
func BitmapHas(bm []byte, i core.PieceIndex) bool {
	return int(i/8) < len(bm) && bm[i/8]&(0x80>>(i%8)) != 0
}

// BitmapSet sets piece i in bm, which must be long enough.
func BitmapSet(bm []byte, i core.PieceIndex) { bm[i/8] |= 0x80 >> (i % 8) }
