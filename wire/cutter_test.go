// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wire

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// refCut is a deliberately simple reference stream cutter for pollen frames:
// it returns the complete messages at the head of stream and how the stream
// ends: nil (cleanly between messages), ErrMessageTooLarge, or
// ErrTruncatedMessage.
func refCut(stream []byte, maxSize int) ([][]byte, error) {
	var msgs [][]byte
	for len(stream) > 0 {
		if len(stream) < 4 {
			return msgs, ErrTruncatedMessage
		}
		n := int(binary.BigEndian.Uint32(stream)) + FrameHeaderLen
		if n > maxSize {
			return msgs, ErrMessageTooLarge
		}
		if n > len(stream) {
			return msgs, ErrTruncatedMessage
		}
		msgs = append(msgs, stream[:n])
		stream = stream[n:]
	}
	return msgs, nil
}

// cutThroughMux writes stream into a mux over a pipe in chunks of the sizes
// given by chunks (cycled), and returns the messages the mux delivers and
// how the connection ended.
func cutThroughMux(t *testing.T, stream, chunks []byte, cfg Config) ([][]byte, error) {
	aborts := make(chan error, 1)
	cfg.OnAbort = func(e *AbortError) { aborts <- e.Err }
	m, err := NewMux(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	x, y := net.Pipe()
	defer x.Close()
	if err := m.Attach(y); err != nil {
		t.Fatal(err)
	}
	s := m.NewSocket()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		mu   sync.Mutex
		msgs [][]byte
		wg   sync.WaitGroup
	)
	wg.Go(func() {
		for {
			msg, err := s.Receive(ctx)
			if err != nil {
				return
			}
			b, err := io.ReadAll(msg)
			msg.Release()
			if err == nil {
				mu.Lock()
				msgs = append(msgs, b)
				mu.Unlock()
			}
		}
	})
	wg.Go(func() {
		rest := stream
		for i := 0; len(rest) > 0; i++ {
			n := len(rest)
			if len(chunks) > 0 {
				n = min(n, int(chunks[i%len(chunks)])+1)
			}
			if _, err := x.Write(rest[:n]); err != nil {
				return // aborted
			}
			rest = rest[n:]
		}
		x.Close()
	})
	deadline := time.Now().Add(10 * time.Second)
	for m.Stats().Mux.Detaches == 0 {
		if time.Now().After(deadline) {
			t.Fatal("connection never ended")
		}
		time.Sleep(100 * time.Microsecond)
	}
	for m.Stats().Mux.ReadyQueue > 0 {
		time.Sleep(100 * time.Microsecond)
	}
	cancel()
	wg.Wait()
	// The mux counts a detach (and an abort) before it calls OnAbort: an
	// abort counted is one to wait for.
	if m.Stats().Mux.Aborts > 0 {
		select {
		case err = <-aborts:
		case <-time.After(10 * time.Second):
			t.Fatal("abort counted but never reported")
		}
	}
	return msgs, err
}

// FuzzStreamCutter feeds a random stream cut at random points through the
// real reader path (small buffer, large-message and streamed paths
// included) and compares with the reference cutter.
func FuzzStreamCutter(f *testing.F) {
	var two []byte
	two = append(two, frame(1, 8)...)
	two = append(two, frame(2, 1000)...)
	f.Add(two, []byte{0})                                                                     // two frames, byte by byte
	f.Add(two, []byte{3, 200, 7})                                                             // two frames, odd chunks
	f.Add(append(frame(3, 3000), 0, 0), []byte{255})                                          // streamed frame, then a cut header
	f.Add(append(append(frame(6, 3000), frame(7, 2500)...), frame(8, 9)...), []byte{255, 17}) // streamed, streamed, small
	f.Add([]byte{0, 0, 0x20, 0, 1, 0, 0, 0}, []byte{})                                        // too large
	f.Add(append(frame(4, 20), frame(5, 600)[:300]...), []byte{100})                          // truncated
	f.Fuzz(func(t *testing.T, stream, chunks []byte) {
		cfg := Config{ReadBufferSize: 512, StreamThreshold: 2048, MaxMessageSize: 4096}
		want, wantErr := refCut(stream, cfg.MaxMessageSize)
		got, gotErr := cutThroughMux(t, stream, chunks, cfg)
		if len(got) != len(want) {
			t.Fatalf("got %d messages, want %d (errors %v, %v)", len(got), len(want), gotErr, wantErr)
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("message %d differs", i)
			}
		}
		if !errors.Is(gotErr, wantErr) && (gotErr != nil || wantErr != nil) {
			t.Fatalf("ended with %v, want %v", gotErr, wantErr)
		}
	})
}
