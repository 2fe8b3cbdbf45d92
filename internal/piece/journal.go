// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package piece

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/pollen-dev/pollen/internal/core"
)

// The journal is a sequence of records. A record is framed as
//
//	length  uint32 BE  bytes of payload (kind + body), 1..maxRecordLen
//	crc     uint32 BE  CRC-32C (Castagnoli) of payload
//	payload kind uint8, then the body of that kind
//
// The first record is always a header; the others follow in the order the
// store appended them. A record is valid only if its frame is complete and
// its checksum matches; replay stops at the first invalid record (a write
// torn by a crash) and the store truncates the journal there. Record bodies
// are laid out beside their types below; docs/design/0002-piece-store.md
// repeats them.
const (
	frameLen      = 8       // length + crc
	maxRecordLen  = 1 << 28 // bounds any allocation a journal can cause
	maxURLLen     = 1<<16 - 1
	maxHashState  = 255
	kindHeader    = 1
	kindPiece     = 2
	kindHash      = 3
	kindComplete  = 4
	journalFormat = 1 // header version; bump on any layout change
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// record is a journal record: one of *header, pieceRecord, hashRecord,
// completeRecord (a sealed sum type).
type record interface {
	kind() byte
	appendBody(b []byte) []byte
}

// header describes the task; it is the first record and written once.
//
//	version      uint8  journalFormat
//	id len       uint8, then the TaskID (64 hex digits)
//	size         uint64
//	piece size   uint64
//	digest       [32]byte  expected whole-file SHA-256, zero if unknown
//	url len      uint16, then the URL
//	digests      uint32 count (0 or the piece count), then count x [32]byte
type header struct {
	id           core.TaskID
	layout       core.Layout
	digest       core.Digest
	url          string
	pieceDigests []core.Digest
}

// pieceRecord says piece index is verified and durable.
//
//	index  uint32
//	digest [32]byte  SHA-256 of the piece
type pieceRecord struct {
	index  core.PieceIndex
	digest core.Digest
}

// hashRecord checkpoints the whole-file hash over pieces [0, prefix).
//
//	prefix uint32  pieces hashed
//	len    uint8, then the sha256 state from encoding.BinaryMarshaler
type hashRecord struct {
	prefix uint32
	state  []byte
}

// completeRecord says the task is complete and its whole-file SHA-256 is
// digest (checked against the expected one, if any).
//
//	digest [32]byte
type completeRecord struct {
	digest core.Digest
}

func (*header) kind() byte        { return kindHeader }
func (pieceRecord) kind() byte    { return kindPiece }
func (hashRecord) kind() byte     { return kindHash }
func (completeRecord) kind() byte { return kindComplete }

func (h *header) appendBody(b []byte) []byte {
	b = append(b, journalFormat, byte(len(h.id)))
	b = append(b, h.id...)
	b = binary.BigEndian.AppendUint64(b, uint64(h.layout.Size))
	b = binary.BigEndian.AppendUint64(b, uint64(h.layout.PieceSize))
	b = append(b, h.digest[:]...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(h.url)))
	b = append(b, h.url...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(h.pieceDigests)))
	for _, d := range h.pieceDigests {
		b = append(b, d[:]...)
	}
	return b
}

func (r pieceRecord) appendBody(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(r.index))
	return append(b, r.digest[:]...)
}

func (r hashRecord) appendBody(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, r.prefix)
	b = append(b, byte(len(r.state)))
	return append(b, r.state...)
}

func (r completeRecord) appendBody(b []byte) []byte { return append(b, r.digest[:]...) }

// validate checks the header's own consistency; encoding an invalid header
// would produce a journal that replay refuses.
func (h *header) validate() error {
	if !h.id.Valid() {
		return fmt.Errorf("task id %q: %w", h.id, core.ErrBadID)
	}
	if err := h.layout.Validate(); err != nil {
		return err
	}
	if len(h.url) > maxURLLen {
		return fmt.Errorf("url of %d bytes is longer than %d", len(h.url), maxURLLen)
	}
	if n := len(h.pieceDigests); n != 0 && n != h.layout.Pieces() {
		return fmt.Errorf("%d piece digests for %d pieces", n, h.layout.Pieces())
	}
	return nil
}

// appendRecord appends r, framed, to b.
func appendRecord(b []byte, r record) []byte {
	start := len(b)
	b = append(b, make([]byte, frameLen)...)
	b = append(b, r.kind())
	b = r.appendBody(b)
	payload := b[start+frameLen:]
	binary.BigEndian.PutUint32(b[start:], uint32(len(payload)))
	binary.BigEndian.PutUint32(b[start+4:], crc32.Checksum(payload, castagnoli))
	return b
}

// parseRecord decodes the record at the head of b and returns it with the
// number of bytes it used. A frame cut short gives io.ErrUnexpectedEOF; a
// bad checksum or body gives an error wrapping ErrCorrupt.
func parseRecord(b []byte) (record, int, error) {
	if len(b) < frameLen {
		return nil, 0, io.ErrUnexpectedEOF
	}
	n := binary.BigEndian.Uint32(b)
	if n == 0 || n > maxRecordLen {
		return nil, 0, fmt.Errorf("%w: record length %d", ErrCorrupt, n)
	}
	if uint64(len(b)-frameLen) < uint64(n) {
		return nil, 0, io.ErrUnexpectedEOF
	}
	payload := b[frameLen : frameLen+int(n)]
	if got, want := crc32.Checksum(payload, castagnoli), binary.BigEndian.Uint32(b[4:]); got != want {
		return nil, 0, fmt.Errorf("%w: record checksum %08x, want %08x", ErrCorrupt, got, want)
	}
	var (
		r   record
		err error
	)
	body := payload[1:]
	switch payload[0] {
	case kindHeader:
		r, err = parseHeader(body)
	case kindPiece:
		r, err = parsePieceRecord(body)
	case kindHash:
		r, err = parseHashRecord(body)
	case kindComplete:
		r, err = parseCompleteRecord(body)
	default:
		err = fmt.Errorf("%w: unknown record kind %d", ErrCorrupt, payload[0])
	}
	if err != nil {
		return nil, 0, err
	}
	return r, frameLen + int(n), nil
}

// reader walks a record body; the first short read sets err and later
// reads return zero values, so a parser checks once at the end.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil || n > len(r.b) {
		r.err = fmt.Errorf("%w: record body too short", ErrCorrupt)
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() byte {
	if v := r.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if v := r.take(2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if v := r.take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if v := r.take(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (r *reader) digest() (d core.Digest) {
	copy(d[:], r.take(len(d)))
	return d
}

// done reports the first error, or trailing bytes the body should not have.
func (r *reader) done() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%w: %d trailing bytes in record", ErrCorrupt, len(r.b))
	}
	return r.err
}

func parseHeader(b []byte) (*header, error) {
	r := reader{b: b}
	if v := r.u8(); r.err == nil && v != journalFormat {
		return nil, fmt.Errorf("%w: journal format %d, want %d", ErrCorrupt, v, journalFormat)
	}
	h := &header{}
	h.id = core.TaskID(r.take(int(r.u8())))
	h.layout.Size = int64(r.u64())
	h.layout.PieceSize = int64(r.u64())
	h.digest = r.digest()
	h.url = string(r.take(int(r.u16())))
	n := r.u32()
	if r.err == nil && uint64(n)*32 > uint64(len(r.b)) {
		return nil, fmt.Errorf("%w: %d piece digests in %d bytes", ErrCorrupt, n, len(r.b))
	}
	if n > 0 {
		h.pieceDigests = make([]core.Digest, n)
		for i := range h.pieceDigests {
			h.pieceDigests[i] = r.digest()
		}
	}
	if err := r.done(); err != nil {
		return nil, err
	}
	if err := h.validate(); err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrCorrupt, err)
	}
	return h, nil
}

func parsePieceRecord(b []byte) (pieceRecord, error) {
	r := reader{b: b}
	p := pieceRecord{index: core.PieceIndex(r.u32()), digest: r.digest()}
	return p, r.done()
}

func parseHashRecord(b []byte) (hashRecord, error) {
	r := reader{b: b}
	h := hashRecord{prefix: r.u32()}
	h.state = r.take(int(r.u8()))
	return h, r.done()
}

func parseCompleteRecord(b []byte) (completeRecord, error) {
	r := reader{b: b}
	c := completeRecord{digest: r.digest()}
	return c, r.done()
}

// journalState is what replaying a journal yields.
type journalState struct {
	hdr      *header
	present  bitmap
	digests  []core.Digest // per piece, as recorded when verified
	hashed   hashRecord    // latest checkpoint; prefix 0 and no state if none
	complete bool
	sum      core.Digest // whole-file digest, if complete
}

// replay decodes a journal. It returns the state, the length of the valid
// prefix of b, and the error that ended replay early (nil if all of b was
// valid). A journal whose header is missing or invalid has no state: st is
// nil and err wraps ErrCorrupt or is io.ErrUnexpectedEOF. A later record
// that is torn, fails its checksum or contradicts the header ends replay;
// the records before it stand.
func replay(b []byte) (st *journalState, good int, err error) {
	r, n, err := parseRecord(b)
	if err != nil {
		return nil, 0, err
	}
	hdr, ok := r.(*header)
	if !ok {
		return nil, 0, fmt.Errorf("%w: first record is kind %d, not a header", ErrCorrupt, r.kind())
	}
	pieces := hdr.layout.Pieces()
	st = &journalState{hdr: hdr, present: newBitmap(pieces), digests: make([]core.Digest, pieces)}
	good = n
	for good < len(b) {
		r, n, err := parseRecord(b[good:])
		if err != nil {
			return st, good, err
		}
		if err := st.apply(r); err != nil {
			return st, good, err
		}
		good += n
	}
	return st, good, nil
}

// apply adds one record to st, refusing records that contradict it.
func (st *journalState) apply(r record) error {
	pieces := st.hdr.layout.Pieces()
	switch r := r.(type) {
	case pieceRecord:
		if int64(r.index) >= int64(pieces) {
			return fmt.Errorf("%w: piece %d of %d", ErrCorrupt, r.index, pieces)
		}
		if len(st.hdr.pieceDigests) > 0 && st.hdr.pieceDigests[r.index] != r.digest {
			return fmt.Errorf("%w: piece %d recorded with a digest the header does not expect", ErrCorrupt, r.index)
		}
		st.present.set(int(r.index))
		st.digests[r.index] = r.digest
	case hashRecord:
		if int(r.prefix) > st.present.prefix() {
			return fmt.Errorf("%w: hash checkpoint over %d pieces, only %d present", ErrCorrupt, r.prefix, st.present.prefix())
		}
		if len(r.state) == 0 {
			r.state = nil // one spelling of "no state"
		}
		st.hashed = r
	case completeRecord:
		if st.present.count() != pieces {
			return fmt.Errorf("%w: complete with %d of %d pieces", ErrCorrupt, st.present.count(), pieces)
		}
		if !st.hdr.digest.IsZero() && st.hdr.digest != r.digest {
			return fmt.Errorf("%w: complete with digest %s, header expects %s", ErrCorrupt, r.digest, st.hdr.digest)
		}
		st.complete, st.sum = true, r.digest
	default: // a second header
		return fmt.Errorf("%w: record kind %d after the header", ErrCorrupt, r.kind())
	}
	return nil
}
