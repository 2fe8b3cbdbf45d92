// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package datapath

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// streamSize is small enough that every datagram fits the receiver's
// buffer, so loopback drops nothing and every header can be checked.
const streamSize = 1<<20 + 777

// receiveAll runs send against a receiver on loopback UDP and returns
// every datagram that arrived.
func receiveAll(t *testing.T, want int, send func(dst *net.UDPConn) error) [][]byte {
	t.Helper()
	recv, conn, err := udpPair()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = recv.Close() }()
	defer func() { _ = conn.Close() }()
	var got [][]byte
	var rerr error
	var wg sync.WaitGroup
	wg.Go(func() {
		var c Counts
		rerr = ReceiveDatagrams(recv, int64(want), func(b []byte) error {
			got = append(got, bytes.Clone(b))
			return nil
		}, &c)
	})
	if err := send(conn); err != nil {
		t.Fatal(err)
	}
	_ = recv.SetReadDeadline(time.Now().Add(5 * time.Second))
	wg.Wait()
	if rerr != nil {
		t.Fatalf("receiver after %d of %d datagrams: %v", len(got), want, rerr)
	}
	return got
}

// checkDatagrams checks that got is data cut into headed datagrams in
// order, numbered from seq 10 of stream 3 with FlagEnd on the last.
func checkDatagrams(t *testing.T, got [][]byte, data []byte) {
	t.Helper()
	want := packets(len(data))
	if len(got) != want {
		t.Fatalf("%d datagrams, want %d", len(got), want)
	}
	for i, d := range got {
		h, n, err := ParseHeader(d)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		lo := i * PayloadSize
		hi := min(lo+PayloadSize, len(data))
		end := uint8(0)
		if i == want-1 {
			end = FlagEnd
		}
		if h != (Header{Flags: end, PayloadLen: uint16(hi - lo), Seq: uint32(10 + i), Stream: 3}) {
			t.Fatalf("datagram %d: header %+v", i, h)
		}
		if !bytes.Equal(d[n:], data[lo:hi]) {
			t.Fatalf("datagram %d: payload differs", i)
		}
	}
}

func TestStreams(t *testing.T) {
	linuxOnly(t)
	src, data := source(t, streamSize)
	first := Header{Stream: 3, Seq: 10, Flags: FlagEnd}
	want := packets(streamSize)
	for _, st := range Streams() {
		t.Run(st.Name, func(t *testing.T) {
			var c Counts
			got := receiveAll(t, want, func(dst *net.UDPConn) error {
				_, err := st.Send(dst, src, 0, streamSize, first, &c)
				return err
			})
			if c.Bytes != streamSize || c.Packets != int64(want) {
				t.Errorf("counts %+v, want %d bytes in %d datagrams", c, streamSize, want)
			}
			if !st.Header {
				// Bare payload: every datagram is a PayloadSize cut.
				if !bytes.Equal(bytes.Join(got, nil), data) || len(got) != want {
					t.Fatalf("%d bare datagrams do not rebuild the source", len(got))
				}
				for i, d := range got[:len(got)-1] {
					if len(d) != PayloadSize {
						t.Fatalf("datagram %d has %d bytes", i, len(d))
					}
				}
			} else {
				checkDatagrams(t, got, data)
			}
			t.Logf("%d datagrams, %d system calls", c.Packets, c.Syscalls)
			perCall := map[string]int{"sendfile": 1, "sendfile-header": 2, "copy": 1, "writev": 1}
			switch st.Name {
			case "sendmmsg", "gso":
				// One call per batch, two more for mmap and munmap; a few
				// retries after EAGAIN at most.
				if c.Syscalls > int64(want/30) {
					t.Errorf("%d calls for %d datagrams: not batched", c.Syscalls, want)
				}
			default:
				if c.Syscalls < int64(perCall[st.Name]*want) {
					t.Errorf("%d calls for %d datagrams, want at least %d each", c.Syscalls, want, perCall[st.Name])
				}
			}
		})
	}
}

// TestStreamSendFallback checks that StreamSend delivers the same
// datagrams with sendmmsg when UDP GSO is refused, and with GSO otherwise.
func TestStreamSendFallback(t *testing.T) {
	linuxOnly(t)
	_, data := source(t, streamSize)
	first := Header{Stream: 3, Seq: 10, Flags: FlagEnd}
	for _, gso := range []bool{true, false} {
		t.Run(fmt.Sprint("gso=", gso), func(t *testing.T) {
			if !gso {
				defer DisableGSOForTest()()
			}
			var c Counts
			got := receiveAll(t, packets(len(data)), func(dst *net.UDPConn) error {
				_, err := StreamSend(dst, data, first, &c)
				return err
			})
			checkDatagrams(t, got, data)
			if batches := (packets(len(data)) + mmsgBatch - 1) / mmsgBatch; !gso && c.Syscalls < int64(batches) {
				t.Errorf("fallback made %d calls, sendmmsg needs %d", c.Syscalls, batches)
			}
		})
	}
}

func TestReceiveDeadline(t *testing.T) {
	linuxOnly(t)
	recv, conn, err := udpPair()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = recv.Close() }()
	defer func() { _ = conn.Close() }()
	_ = recv.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	var c Counts
	err = ReceiveDatagrams(recv, 0, func([]byte) error { return nil }, &c)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("err %v, want a deadline error", err)
	}
}
