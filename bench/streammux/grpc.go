// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package streammux

import (
	"context"
	"fmt"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"

	"github.com/pollen-dev/pollen/internal/wirebench"
)

// GRPC returns gRPC unary calls over one client connection shared by all
// senders: one call per request/response transaction, and, for streaming,
// one call per message (each waits for its empty response, as a unary API
// does). Messages travel as raw bytes (no protobuf), so the figures are
// gRPC's transport cost alone.
func GRPC() wirebench.Transport { return grpcTransport{} }

type grpcTransport struct{}

const grpcMethod = "/pollen.bench.Bench/Call"

// rawCodec carries *[]byte messages as they are.
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

func (grpcTransport) Name() string { return "grpc" }

func (grpcTransport) Serve(ctx context.Context, ln net.Listener) error {
	h := wirebench.NewHandler()
	desc := grpc.ServiceDesc{
		ServiceName: "pollen.bench.Bench",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "Call",
			Handler: func(_ any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				var req []byte
				if err := dec(&req); err != nil {
					return nil, err
				}
				out := []byte{}
				err := h.Handle(req, func(b []byte) error { out = b; return nil })
				return &out, err
			},
		}},
	}
	srv := grpc.NewServer(grpc.ForceServerCodecV2(rawCodec{}))
	srv.RegisterService(&desc, struct{}{})
	stop := context.AfterFunc(ctx, srv.Stop)
	defer stop()
	err := srv.Serve(ln)
	srv.Stop()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (grpcTransport) Dial(_ context.Context, addr string, n int) (wirebench.Client, error) {
	cc, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(rawCodec{})))
	if err != nil {
		return nil, fmt.Errorf("grpc client %s: %w", addr, err)
	}
	cl := &grpcClient{cc: cc}
	for range n {
		cl.conns = append(cl.conns, &grpcConn{cc: cc})
	}
	return cl, nil
}

type grpcClient struct {
	cc    *grpc.ClientConn
	conns []wirebench.Conn
}

func (c *grpcClient) Conns() []wirebench.Conn { return c.conns }
func (c *grpcClient) Close() error            { return c.cc.Close() }

// grpcConn maps the benchmark's Send/Recv onto unary calls: a message
// that expects an answer is held until Recv makes the call; one that does
// not (streamed data) is a call of its own at once.
type grpcConn struct {
	cc      *grpc.ClientConn
	pending []byte
}

func (c *grpcConn) Send(ctx context.Context, msg []byte) error {
	if wirebench.ExpectsReply(msg) {
		c.pending = msg
		return nil
	}
	var out []byte
	return c.cc.Invoke(ctx, grpcMethod, &msg, &out)
}

func (c *grpcConn) Recv(ctx context.Context, buf []byte) (int, error) {
	if c.pending == nil {
		return 0, fmt.Errorf("grpc: receive without a request")
	}
	req := c.pending
	c.pending = nil
	var out []byte
	if err := c.cc.Invoke(ctx, grpcMethod, &req, &out); err != nil {
		return 0, err
	}
	if len(out) > len(buf) {
		return 0, fmt.Errorf("grpc: %d-byte reply, %d-byte buffer", len(out), len(buf))
	}
	return copy(buf, out), nil
}
