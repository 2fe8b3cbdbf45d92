// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package interop

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"

	"github.com/pollen-dev/pollen/wire"
)

// rawCodec carries []byte messages as they are, so the test knows every
// message's exact bytes without generated protobuf code. gRPC's framing
// (1-byte flag, 4-byte length, message) is the same for any codec.
type rawCodec struct{}

func (rawCodec) Name() string { return "pollen-raw" }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	b, ok := v.(*[]byte)
	if !ok {
		return nil, fmt.Errorf("rawCodec: marshal %T", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(*b)}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	b, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawCodec: unmarshal into %T", v)
	}
	*b = data.Materialize()
	return nil
}

// chat is a bidirectional streaming RPC: every request is answered by a
// reply of a different length.
var chatDesc = grpc.ServiceDesc{
	ServiceName: "pollen.interop.Echo",
	HandlerType: (*any)(nil),
	Streams: []grpc.StreamDesc{{
		StreamName:    "Chat",
		ServerStreams: true,
		ClientStreams: true,
	}},
}

func reply(req []byte) []byte {
	return append(bytes.Repeat([]byte{'r'}, len(req)%1000), req...)
}

// messageSizes covers the empty message, small ones, messages spanning many
// 16 KiB DATA frames and one longer than wire's 1 MiB stream threshold.
var messageSizes = []int{0, 1, 5, 100, 4096, 16379, 16384, 70000, 300000, 1<<20 + 123, 7}

func TestGRPCMessages(t *testing.T) {
	var (
		mu       sync.Mutex // guards received
		received [][]byte
	)
	desc := chatDesc
	desc.Streams = []grpc.StreamDesc{desc.Streams[0]}
	desc.Streams[0].Handler = func(_ any, stream grpc.ServerStream) error {
		for {
			var b []byte
			err := stream.RecvMsg(&b)
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			mu.Lock()
			received = append(received, bytes.Clone(b))
			mu.Unlock()
			out := reply(b)
			if err := stream.SendMsg(&out); err != nil {
				return err
			}
		}
	}
	srv := grpc.NewServer(grpc.ForceServerCodecV2(rawCodec{}))
	srv.RegisterService(&desc, struct{}{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = srv.Serve(ln) })
	defer wg.Wait()
	defer srv.Stop()

	rec := newRecorder(t, ln.Addr().String())
	conn, err := grpc.NewClient("passthrough:///"+rec.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	stream, err := conn.NewStream(t.Context(), &desc.Streams[0], "/pollen.interop.Echo/Chat", grpc.ForceCodecV2(rawCodec{}))
	if err != nil {
		t.Fatal(err)
	}
	var sent, replies [][]byte
	for i, n := range messageSizes {
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(i*31 + j)
		}
		if err := stream.SendMsg(&b); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		sent = append(sent, b)
		var r []byte
		if err := stream.RecvMsg(&r); err != nil {
			t.Fatalf("receive %d: %v", i, err)
		}
		replies = append(replies, r)
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	var none []byte
	if err := stream.RecvMsg(&none); !errors.Is(err, io.EOF) {
		t.Fatalf("end of stream: %v", err)
	}
	_ = conn.Close()
	conns := rec.wait(t)
	if len(conns) != 1 {
		t.Fatalf("gRPC used %d connections, want 1", len(conns))
	}
	toServer, toClient := conns[0].toServer.Bytes(), conns[0].toClient.Bytes()

	mu.Lock()
	got := received
	mu.Unlock()
	if len(got) != len(sent) {
		t.Fatalf("server received %d messages, client sent %d", len(got), len(sent))
	}
	if !bytes.HasPrefix(toServer, []byte(http2.ClientPreface)) {
		t.Fatal("client did not start with the HTTP/2 preface")
	}
	checkGRPC(t, "client->server", toServer[len(http2.ClientPreface):], got)
	checkGRPC(t, "server->client", toClient, replies)
}

// checkGRPC reassembles the DATA payloads of the one stream that carries
// data, cuts them with wire.GRPCMessages() and compares the messages with
// what the receiving gRPC side got.
func checkGRPC(t *testing.T, dir string, h2 []byte, want [][]byte) {
	t.Helper()
	fr := http2.NewFramer(io.Discard, bytes.NewReader(h2))
	fr.SetMaxReadFrameSize(1<<24 - 1)
	data := map[uint32]*bytes.Buffer{}
	for {
		f, err := fr.ReadFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: http2 framer: %v", dir, err)
		}
		if df, ok := f.(*http2.DataFrame); ok && len(df.Data()) > 0 {
			if data[df.StreamID] == nil {
				data[df.StreamID] = &bytes.Buffer{}
			}
			data[df.StreamID].Write(df.Data())
		}
	}
	if len(data) != 1 {
		t.Fatalf("%s: DATA on %d streams, want the one RPC", dir, len(data))
	}
	var payload []byte
	for _, b := range data {
		payload = b.Bytes()
	}
	msgs := cut(t, wire.GRPCMessages(), payload, len(want))
	for i, m := range msgs {
		if len(m) < 5 || m[0] != 0 {
			t.Fatalf("%s message %d: bad gRPC prefix % x", dir, i, m[:min(len(m), 5)])
		}
		if !bytes.Equal(m[5:], want[i]) {
			t.Fatalf("%s message %d: %d payload bytes, gRPC delivered %d (or different bytes)", dir, i, len(m)-5, len(want[i]))
		}
	}
}
