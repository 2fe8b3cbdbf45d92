// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

// Command muxcompare runs pollen's wire benchmark workloads over wire, raw
// TCP, hashicorp/yamux, xtaci/smux and gRPC unary calls side by side in one
// run, interleaved, and prints a table or one JSON object per line (the
// layout of `pollen bench wire --json`). Every candidate is reported against
// raw TCP; wire is also reported against each of the others.
//
//	go run ./cmd/muxcompare [-json] [-duration 5s] [-runs 1] [-pin both] [-case NAME,...]
//
// The server side runs in a child process (this program re-executed).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/pollen-dev/pollen/bench/streammux"
	"github.com/pollen-dev/pollen/internal/report"
	"github.com/pollen-dev/pollen/internal/wirebench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(os.Stderr, "muxcompare: %v\n", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("muxcompare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		asJSON    = fs.Bool("json", false, "print one JSON object per result")
		duration  = fs.Duration("duration", 5*time.Second, "measurement time per transport, case and run")
		warmup    = fs.Duration("warmup", 0, "unmeasured time before each measurement (0: duration/10, at most 1s)")
		runs      = fs.Int("runs", 1, "interleaved repetitions; medians are reported")
		pin       = fs.String("pin", "both", "run both ends pinned to one CPU: off, on or both")
		cases     = fs.String("case", "", "comma-separated cases to run (default all)")
		only      = fs.String("transports", "wire,yamux,smux,grpc", "comma-separated candidates compared with raw TCP")
		wireConns = fs.Int("wire-conns", 1, "TCP connections under each wire mux")
		inproc    = fs.Bool("inproc", false, "run the server side in this process instead of a child process")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	all := []wirebench.Transport{
		wirebench.TCP(),
		wirebench.Wire(wirebench.WireOptions{Conns: *wireConns}),
		streammux.Yamux(),
		streammux.Smux(),
		streammux.GRPC(),
	}
	if wirebench.IsChild() {
		return wirebench.ServeMain(ctx, all, stdin, stdout)
	}
	p, err := wirebench.ParsePinning(*pin)
	if err != nil {
		return err
	}
	opts := wirebench.Options{
		Baseline: all[0],
		Duration: *duration,
		Warmup:   *warmup,
		Runs:     *runs,
		Pin:      p,
		Log:      stderr,
	}
	names := strings.Split(*only, ",")
	for _, t := range all[1:] {
		if slices.Contains(names, t.Name()) {
			opts.Candidates = append(opts.Candidates, t)
		}
	}
	if len(opts.Candidates) == 0 {
		return fmt.Errorf("no known transport in %q (have wire, yamux, smux, grpc)", *only)
	}
	for _, other := range []string{"yamux", "smux", "grpc"} {
		opts.Versus = append(opts.Versus, [2]string{"wire", other})
	}
	for _, name := range strings.Split(*cases, ",") {
		if name == "" {
			continue
		}
		i := slices.IndexFunc(wirebench.DefaultCases(), func(c wirebench.Case) bool { return c.Name == name })
		if i < 0 {
			return fmt.Errorf("unknown case %q", name)
		}
		opts.Cases = append(opts.Cases, wirebench.DefaultCases()[i])
	}
	if !*inproc {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find this program to run the server: %w", err)
		}
		opts.Server = &wirebench.ServerCommand{
			Path:   exe,
			Args:   []string{fmt.Sprintf("-wire-conns=%d", *wireConns)},
			Stderr: stderr,
		}
	}
	w := report.NewWriter(stdout, *asJSON)
	if err := wirebench.Run(ctx, opts, w.Add); err != nil {
		return err
	}
	return w.Flush()
}
