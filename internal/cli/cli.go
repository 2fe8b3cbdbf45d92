// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// ExitError carries a specific process exit status out of a command.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// Run executes the pollen command line args and returns the process exit
// status: 0 on success, otherwise non-zero after printing a one-line reason
// to stderr.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "pollen: %v\n", err)
	if ee, ok := errors.AsType[*ExitError](err); ok {
		return ee.Code
	}
	return 1
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "pollen",
		Short: "Move large files and live streams from one source to many machines, peer to peer",
		Long: `pollen moves large files and live byte streams from one source to many
machines, peer to peer, over a data path that copies as little and enters the
kernel as rarely as user space allows.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &ExitError{Code: 2, Err: err}
	})
	root.AddCommand(
		newVersionCmd(),
		newBenchCmd(),
		newDemoCmd(),
		newSchedulerCmd(),
		newDaemonCmd(),
		newGetCmd(),
		newPushCmd(),
		newReceiveCmd(),
	)
	return root
}
