// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg_test

import (
	"context"
	"fmt"

	"github.com/pollen-dev/pollen/msg"
)

// A file server answers a page read with ReplyWithSegment: the request and
// the page travel in one round trip. The same code works with "unix://" and
// "tcp://" addresses.
func Example() {
	ctx := context.Background()
	server, _ := msg.NewNode(msg.Config{})
	defer func() { _ = server.Close() }()
	_ = server.Listen(ctx, "inproc://pages")
	go func() {
		_ = server.Serve(ctx, func(ctx context.Context, r *msg.Request) {
			page := msg.Bytes("page 7 contents")
			if err := r.ReplyWithSegment([]byte("ok"), 0, page); err != nil {
				_ = r.Reply([]byte(err.Error()))
			}
		})
	}()

	client, _ := msg.NewNode(msg.Config{})
	defer func() { _ = client.Close() }()
	buf := make([]byte, 15)
	reply, err := client.SendWithSegment(ctx, "inproc://pages", []byte("read 7"), msg.Bytes(buf), msg.Write)
	fmt.Println(string(reply), err, string(buf))
	// Output: ok <nil> page 7 contents
}
