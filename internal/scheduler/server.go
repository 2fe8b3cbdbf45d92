// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package scheduler

import (
	"context"
	"errors"
	"sync"

	"github.com/pollen-dev/pollen/internal/proto"
	"github.com/pollen-dev/pollen/msg"
)

// maxServing bounds the requests Serve handles at once (long polls park
// here), so that memory stays bounded whatever the peers send.
const maxServing = 8192

// Serve answers the scheduler requests that arrive on node, each with the
// reply [Scheduler.Handle] gives (an undecodable request gets an Error with
// [proto.CodeBadRequest]), until ctx is done or the node is closed. Each
// request is served on its own goroutine, at most maxServing at once, and
// Serve returns only after all of them have finished. The event loop must
// be running (Run) for requests to be answered.
func (s *Scheduler) Serve(ctx context.Context, node *msg.Node) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, maxServing)
	for {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		r, err := node.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			if errors.Is(err, msg.ErrClosed) {
				return nil
			}
			return err
		}
		wg.Go(func() {
			defer func() { <-sem }()
			_ = r.Reply(s.answer(ctx, r.Message())) // a lost reply is the peer's to retry
		})
	}
}

// answer decodes one request and encodes its reply.
func (s *Scheduler) answer(ctx context.Context, req []byte) []byte {
	var reply proto.Message
	if m, err := proto.Decode(req); err != nil {
		reply = &proto.Error{Code: proto.CodeBadRequest, Text: truncate(err.Error())}
	} else {
		reply = s.Handle(ctx, m)
	}
	b, err := reply.Append(nil)
	if err != nil {
		// Replies are built within the limits; this is a scheduler bug.
		s.log.Error("reply does not encode", "type", reply.Type(), "err", err)
		b, _ = (&proto.Error{Code: proto.CodeInternal, Text: "scheduler: reply does not encode"}).Append(nil)
	}
	return b
}

func truncate(text string) string {
	if len(text) > proto.MaxErrorLen {
		return text[:proto.MaxErrorLen]
	}
	return text
}
