// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/http2"

	"github.com/pollen-dev/pollen/wire"
)

// serveH2C serves HTTP/2 with prior knowledge (h2c) on a loopback listener:
// /echo returns the request body, /big?n=N returns N bytes. x/net/http2's
// server and transport are deprecated in favour of net/http, which bundles
// the same code; x/net/http2's Framer stays the reference reader.
func serveH2C(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			w.Header().Set("X-Echo", strings.Repeat("h", 300))
			_, _ = io.Copy(w, r.Body)
		case "/big":
			var n int
			_, _ = fmt.Sscan(r.URL.Query().Get("n"), &n)
			_, _ = w.Write(bytes.Repeat([]byte("pollen "), n/7+1)[:n])
		default:
			http.NotFound(w, r)
		}
	})
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: h, Protocols: &protos}
	var wg sync.WaitGroup
	wg.Go(func() { _ = srv.Serve(ln) })
	t.Cleanup(func() {
		_ = srv.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

// frameInfo is what http2's Framer reads about one frame.
type frameInfo struct {
	off, len int
	hdr      http2.FrameHeader
}

func (f frameInfo) String() string {
	return fmt.Sprintf("%v at %d (%d bytes)", f.hdr, f.off, f.len)
}

// readFrames reads stream with http2's own Framer.
func readFrames(t *testing.T, stream []byte) []frameInfo {
	t.Helper()
	r := bytes.NewReader(stream)
	fr := http2.NewFramer(io.Discard, r)
	fr.SetMaxReadFrameSize(1<<24 - 1)
	var out []frameInfo
	for {
		off := len(stream) - r.Len()
		f, err := fr.ReadFrame()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("http2 framer at byte %d: %v", off, err)
		}
		h := f.Header()
		out = append(out, frameInfo{off: off, len: 9 + int(h.Length), hdr: h})
	}
}

// checkHTTP2 cuts stream with wire.HTTP2Frames() and compares every message
// with the frame http2's Framer read at the same place.
func checkHTTP2(t *testing.T, dir string, stream []byte) map[http2.FrameType]int {
	t.Helper()
	want := readFrames(t, stream)
	if len(want) == 0 {
		t.Fatalf("%s: no frames recorded", dir)
	}
	got := cut(t, wire.HTTP2Frames(), stream, len(want))
	types := map[http2.FrameType]int{}
	for i, f := range want {
		m := got[i]
		if !bytes.Equal(m, stream[f.off:f.off+f.len]) {
			t.Fatalf("%s message %d: %d bytes differ from the framer's frame %v", dir, i, len(m), f)
		}
		// The message alone is exactly one frame to a fresh Framer.
		fr := http2.NewFramer(io.Discard, bytes.NewReader(m))
		fr.SetMaxReadFrameSize(1<<24 - 1)
		one, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("%s message %d: framer: %v", dir, i, err)
		}
		if h := one.Header(); h.Type != f.hdr.Type || h.Flags != f.hdr.Flags || h.StreamID != f.hdr.StreamID || h.Length != f.hdr.Length {
			t.Fatalf("%s message %d: framer reads %v alone, %v in the stream", dir, i, h, f.hdr)
		}
		if _, err := fr.ReadFrame(); !errors.Is(err, io.EOF) {
			t.Fatalf("%s message %d: bytes after the frame: %v", dir, i, err)
		}
		types[f.hdr.Type]++
	}
	return types
}

func TestHTTP2Frames(t *testing.T) {
	rec := newRecorder(t, serveH2C(t))
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	tr := &http.Transport{
		Protocols: &protos,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, rec.Addr())
		},
	}
	client := &http.Client{Transport: tr}
	base := "http://" + rec.Addr()
	// Concurrent requests interleave their frames on the one connection;
	// large bodies exercise flow control (WINDOW_UPDATE) and full frames.
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 12 {
		wg.Go(func() {
			var (
				resp *http.Response
				err  error
				want int
			)
			switch i % 3 {
			case 0:
				body := bytes.Repeat([]byte{byte(i)}, i*9000+1)
				want = len(body)
				resp, err = client.Post(base+"/echo", "application/octet-stream", bytes.NewReader(body))
			case 1:
				want = 150000 + i
				resp, err = client.Get(fmt.Sprintf("%s/big?n=%d", base, want))
			default:
				resp, err = client.Get(base + "/missing")
				want = -1
			}
			if err != nil {
				errs <- err
				return
			}
			defer func() { _ = resp.Body.Close() }()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				errs <- err
			} else if want >= 0 && len(b) != want {
				errs <- fmt.Errorf("request %d: %d bytes, want %d", i, len(b), want)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	tr.CloseIdleConnections()
	// net/http may dial more than one connection for concurrent requests
	// (and close unused ones at once); each is checked on its own.
	up, down := map[http2.FrameType]int{}, map[http2.FrameType]int{}
	conns := rec.wait(t)
	used := 0
	for i, c := range conns {
		toServer, toClient := c.toServer.Bytes(), c.toClient.Bytes()
		if len(toServer) == 0 && len(toClient) == 0 {
			continue // dialed, never used
		}
		used++
		if !bytes.HasPrefix(toServer, []byte(http2.ClientPreface)) {
			t.Fatalf("conn %d: client did not start with the HTTP/2 preface: %q", i, toServer[:min(len(toServer), 24)])
		}
		for typ, n := range checkHTTP2(t, fmt.Sprintf("conn %d client->server", i), toServer[len(http2.ClientPreface):]) {
			up[typ] += n
		}
		for typ, n := range checkHTTP2(t, fmt.Sprintf("conn %d server->client", i), toClient) {
			down[typ] += n
		}
	}
	if used == 0 {
		t.Fatal("no connection carried anything")
	}
	for _, typ := range []http2.FrameType{http2.FrameSettings, http2.FrameHeaders, http2.FrameData} {
		if up[typ] == 0 || down[typ] == 0 {
			t.Errorf("no %v frames in one direction: up %v, down %v", typ, up, down)
		}
	}
	if up[http2.FrameWindowUpdate]+down[http2.FrameWindowUpdate] == 0 {
		t.Errorf("no WINDOW_UPDATE frames: up %v, down %v", up, down)
	}
	t.Logf("%d connections used; frames client->server %v, server->client %v", used, up, down)
}
