// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

// Command pollen moves large files and live streams from one source to many
// machines, peer to peer. The command tree lives in internal/cli.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/pollen-dev/pollen/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
