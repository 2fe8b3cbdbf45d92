// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wire

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// patternFile creates a file of n bytes with a position-dependent pattern.
func patternFile(t *testing.T, n int) (*os.File, []byte) {
	t.Helper()
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>9)
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "data"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	return f, b
}

// TestSendFile sends a header and a file range as one message: with
// sendfile(2) over TCP, by copying over a pipe.
func TestSendFile(t *testing.T) {
	testConnTypes(t, func(t *testing.T, pair pairFunc) {
		p := newMuxPair(t, Config{}, 1, pair)
		f, data := patternFile(t, 3<<20)
		if _, err := f.Seek(12345, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		const off, n = 1000, 2 << 20
		hdr := FrameHeader{Length: n, Version: ProtocolVersion, Type: 9}.Append(nil)
		errc := make(chan error, 1)
		go func() { errc <- p.sa.SendFile(ctxT(t), hdr, f, off, n) }()
		msg, err := p.sb.Receive(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(msg)
		msg.Release()
		if err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if want := append(hdr, data[off:off+n]...); !bytes.Equal(got, want) {
			t.Fatalf("received %d bytes, differ from the %d sent", len(got), len(want))
		}
		if pos, _ := f.Seek(0, io.SeekCurrent); pos != 12345 {
			t.Errorf("SendFile moved the file offset to %d", pos)
		}
		st := p.a.Stats()
		tcp := st.Conns[0].LocalAddr != "pipe"
		if tcp != (st.Mux.TxFiles == 1) {
			t.Errorf("TxFiles %d over %s", st.Mux.TxFiles, st.Conns[0].LocalAddr)
		}
		if st.Mux.TxMsgs != 1 || st.Mux.TxBytes != uint64(len(got)) {
			t.Errorf("TxMsgs %d TxBytes %d", st.Mux.TxMsgs, st.Mux.TxBytes)
		}
	})
}

// TestSendFileShort asks for more than the file has: a file error, the
// connection (whose framing is lost) aborted, nothing retried.
func TestSendFileShort(t *testing.T) {
	testConnTypes(t, func(t *testing.T, pair pairFunc) {
		p := newMuxPair(t, Config{StreamThreshold: 1 << 30}, 1, pair)
		f, _ := patternFile(t, 1000)
		hdr := FrameHeader{Length: 5000, Version: ProtocolVersion}.Append(nil)
		err := p.sa.SendFile(ctxT(t), hdr, f, 0, 5000)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("SendFile = %v", err)
		}
		if e := waitAbort(t, p.abortsA); !errors.Is(e.Err, io.ErrUnexpectedEOF) {
			t.Fatalf("abort %v", e)
		}
		if e := waitAbort(t, p.aborts); !errors.Is(e.Err, ErrTruncatedMessage) {
			t.Fatalf("receiver abort %v", e)
		}
	})
}

// TestWriteToFile receives messages into a file: a streamed one with
// splice(2) over TCP (copying over a pipe), and a buffered one.
func TestWriteToFile(t *testing.T) {
	testConnTypes(t, func(t *testing.T, pair pairFunc) {
		p := newMuxPair(t, Config{StreamThreshold: 64 << 10}, 1, pair)
		big, small := frame(1, 3<<20), frame(2, 1000)
		go func() {
			_ = p.sa.Send(ctxT(t), big)
			_ = p.sa.Send(ctxT(t), small)
			_ = p.sa.Send(ctxT(t), big)
		}()
		f, err := os.Create(filepath.Join(t.TempDir(), "out"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var off int64 = 100
		// Streamed: the first 10 bytes by Read, the rest spliced.
		msg, err := p.sb.Receive(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		if msg.Bytes() != nil {
			t.Fatal("large message was buffered")
		}
		head := make([]byte, 10)
		if _, err := io.ReadFull(msg, head); err != nil {
			t.Fatal(err)
		}
		n, err := msg.WriteToFile(f, off)
		msg.Release()
		if err != nil || n != int64(len(big))-10 {
			t.Fatalf("WriteToFile = %d, %v", n, err)
		}
		// Buffered.
		msg, err = p.sb.Receive(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		n2, err := msg.WriteToFile(f, off+n)
		msg.Release()
		if err != nil || n2 != int64(len(small)) {
			t.Fatalf("WriteToFile = %d, %v", n2, err)
		}
		got := make([]byte, n+n2)
		if _, err := f.ReadAt(got, off); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(head, big[:10]) || !bytes.Equal(got[:n], big[10:]) || !bytes.Equal(got[n:], small) {
			t.Fatal("file content differs")
		}
		// Streamed, with WriteTo to an *os.File (splice through os.File.ReadFrom)
		// and the file's own offset.
		msg, err = p.sb.Receive(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		g, err := os.Create(filepath.Join(t.TempDir(), "out2"))
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		n3, err := msg.WriteTo(g)
		msg.Release()
		if err != nil || n3 != int64(len(big)) {
			t.Fatalf("WriteTo = %d, %v", n3, err)
		}
		got3, _ := os.ReadFile(g.Name())
		if !bytes.Equal(got3, big) {
			t.Fatal("WriteTo file content differs")
		}
	})
}
