// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package scheduler

import (
	"errors"

	"github.com/pollen-dev/pollen/internal/proto"
)

// Errors returned by the [Scheduler] methods. Handle maps them to
// [proto.ErrorCode]s.
var (
	ErrClosed       = errors.New("scheduler: closed")
	ErrRunning      = errors.New("scheduler: already running")
	ErrUnauthorized = errors.New("scheduler: bad token")
	ErrUnknownPeer  = errors.New("scheduler: unknown peer")
	ErrUnknownTask  = errors.New("scheduler: peer not in task")
	ErrTaskMismatch = errors.New("scheduler: task layout differs")
	ErrBadRequest   = errors.New("scheduler: bad request")
	ErrFull         = errors.New("scheduler: too many peers or tasks")
)

// codeOf maps an error to the code a daemon acts on.
func codeOf(err error) proto.ErrorCode {
	switch {
	case errors.Is(err, ErrUnauthorized):
		return proto.CodeUnauthorized
	case errors.Is(err, ErrUnknownPeer):
		return proto.CodeUnknownPeer
	case errors.Is(err, ErrUnknownTask):
		return proto.CodeUnknownTask
	case errors.Is(err, ErrTaskMismatch):
		return proto.CodeTaskMismatch
	case errors.Is(err, ErrBadRequest):
		return proto.CodeBadRequest
	case errors.Is(err, ErrClosed), errors.Is(err, ErrFull):
		return proto.CodeUnavailable
	}
	return proto.CodeInternal
}
