// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package proto

// Registered answers [Register]. It tells the daemon how often to send a
// [Heartbeat] and how long the scheduler waits for a piece it assigned
// before it gives the piece to someone else.
//
//	Registered: heartbeatMillis u32 | assignTimeoutMillis u32
type Registered struct {
	HeartbeatMillis     uint32 // send a Heartbeat at least this often
	AssignTimeoutMillis uint32 // an assignment not reported done by then is re-scheduled
}

func (*Registered) message() {}

// Type returns [TypeRegistered].
func (*Registered) Type() Type { return TypeRegistered }

// Len returns the encoded length.
func (*Registered) Len() int { return HeaderLen + 8 }

// Append appends the encoding of m to b.
func (m *Registered) Append(b []byte) ([]byte, error) {
	b = appendHeader(b, TypeRegistered)
	b = appendU32(b, m.HeartbeatMillis)
	return appendU32(b, m.AssignTimeoutMillis), nil
}

func parseRegistered(b []byte) (Registered, int, error) {
	d := format.Decoder(b)
	m := Registered{HeartbeatMillis: d.U32(), AssignTimeoutMillis: d.U32()}
	n, err := d.Done()
	return m, n, err
}
