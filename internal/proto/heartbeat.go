// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package proto

import "github.com/pollen-dev/pollen/internal/core"

// Heartbeat keeps a peer registered and reports its load. A peer that sends
// nothing for the scheduler's peer timeout is dropped as if it had left.
// Answered with [Ack].
//
//	Heartbeat: peer [16] | uploads u16 | downloads u16 | uploadRate u64 | downloadRate u64
type Heartbeat struct {
	Peer         core.PeerID
	Uploads      uint16 // pieces being uploaded now
	Downloads    uint16 // pieces being downloaded now
	UploadRate   uint64 // measured over the last interval, bytes per second
	DownloadRate uint64
}

func (*Heartbeat) message() {}

// Type returns [TypeHeartbeat].
func (*Heartbeat) Type() Type { return TypeHeartbeat }

// Len returns the encoded length.
func (*Heartbeat) Len() int { return HeaderLen + 16 + 2 + 2 + 8 + 8 }

// Append appends the encoding of m to b.
func (m *Heartbeat) Append(b []byte) ([]byte, error) {
	b = appendHeader(b, TypeHeartbeat)
	b = append(b, m.Peer[:]...)
	b = appendU16(b, m.Uploads)
	b = appendU16(b, m.Downloads)
	b = appendU64(b, m.UploadRate)
	return appendU64(b, m.DownloadRate), nil
}

func parseHeartbeat(b []byte) (Heartbeat, int, error) {
	d := format.Decoder(b)
	m := Heartbeat{Peer: d.Peer(), Uploads: d.U16(), Downloads: d.U16(), UploadRate: d.U64(), DownloadRate: d.U64()}
	n, err := d.Done()
	return m, n, err
}
