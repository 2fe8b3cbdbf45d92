// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wirebench

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pollen-dev/pollen/internal/report"
)

var testCases = []Case{
	{Name: "rr-1B-1conn", Size: 1, Senders: 1},
	{Name: "rr-100B-20conn", Size: 100, Senders: 20},
	{Name: "stream-64KiB-1conn", Stream: true, Size: 64 << 10, Senders: 1},
}

func runAndCheck(t *testing.T, opts Options) string {
	t.Helper()
	var log bytes.Buffer
	opts.Log = &log
	var got []report.Result
	err := Run(t.Context(), opts, func(r report.Result) error {
		got = append(got, r)
		return nil
	})
	if err != nil {
		t.Fatalf("Run: %v\nlog:\n%s", err, log.String())
	}
	modes := 1
	if opts.Pin == PinBoth {
		modes = 2
	}
	if want := modes * len(opts.Cases) * len(opts.Candidates); len(got) != want {
		t.Fatalf("got %d results, want %d: %+v", len(got), want, got)
	}
	pinned := 0
	for _, r := range got {
		if r.Value <= 0 || r.BaselineValue == nil || *r.BaselineValue <= 0 || r.Baseline != "tcp" {
			t.Errorf("result without value or baseline: %+v", r)
		}
		if strings.HasSuffix(r.Case, "-pinned") {
			pinned++
		}
	}
	if opts.Pin == PinBoth && pinned != len(got)/2 {
		t.Errorf("%d of %d results pinned, want half", pinned, len(got))
	}
	return log.String()
}

func TestRunInProcess(t *testing.T) {
	checkLeaks(t)
	runAndCheck(t, Options{
		Candidates: []Transport{Wire(WireOptions{Conns: 2})},
		Cases:      testCases,
		Duration:   50 * time.Millisecond,
		Runs:       2,
		Pin:        PinBoth,
	})
}

func TestRunChildServer(t *testing.T) {
	checkLeaks(t)
	cpu, err := PinCPU()
	if err != nil {
		t.Skip(err)
	}
	log := runAndCheck(t, Options{
		Candidates: []Transport{Wire(WireOptions{})},
		Cases:      testCases[:1],
		Duration:   50 * time.Millisecond,
		Pin:        PinBoth,
		Server:     &ServerCommand{Path: os.Args[0], Stderr: os.Stderr},
	})
	want := "server process on CPUs " + formatCPUs([]int{cpu}) + "\n"
	if !strings.Contains(log, want) {
		t.Errorf("log does not show a pinned server process (%q):\n%s", want, log)
	}
}

func TestStartServerFails(t *testing.T) {
	_, err := StartServer(t.Context(), ServerCommand{Path: "/bin/true"}, -1)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("StartServer(/bin/true) = %v, want a server that exited early", err)
	}
}

// TestSinkFlushFirst: a flush handled before the data it counts is answered
// by the data's handler, exactly once.
func TestSinkFlushFirst(t *testing.T) {
	var s sink
	var acks []int64
	reply := func(b []byte) error {
		n, err := messageCount(b, typeAck)
		acks = append(acks, n)
		return err
	}
	if err := s.flush(300, reply); err != nil || len(acks) != 0 {
		t.Fatalf("early flush: err %v, acks %v", err, acks)
	}
	for range 3 {
		if err := s.add(100, reply); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.add(100, reply); err != nil {
		t.Fatal(err)
	}
	if len(acks) != 1 || acks[0] != 300 {
		t.Fatalf("acks %v, want [300]", acks)
	}
	if err := s.flush(400, reply); err != nil || len(acks) != 2 || acks[1] != 400 {
		t.Fatalf("late flush: err %v, acks %v", err, acks)
	}
}

func TestReadFrameLimits(t *testing.T) {
	big := newMessage(typeEcho, 100)
	if _, err := readFrame(bytes.NewReader(big), make([]byte, 50)); !errors.Is(err, errBadMessage) {
		t.Errorf("short buffer: %v, want errBadMessage", err)
	}
	huge := make([]byte, HeaderLen)
	putHeader(huge, typeEcho, maxMessage)
	if _, err := readFrame(bytes.NewReader(huge), make([]byte, 64)); !errors.Is(err, errBadMessage) {
		t.Errorf("oversized length: %v, want errBadMessage", err)
	}
	for cut := range len(big) {
		_, err := readFrame(bytes.NewReader(big[:cut]), make([]byte, 200))
		if cut == 0 && !errors.Is(err, io.EOF) || cut > 0 && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("cut at %d: %v", cut, err)
		}
	}
}

// TestServeConnRejects: an unknown message type ends only that stream, with
// an error.
func TestServeConnRejects(t *testing.T) {
	checkLeaks(t)
	a, b := net.Pipe()
	defer func() { _ = a.Close() }()
	done := make(chan error, 1)
	go func() { done <- ServeConn(b); _ = b.Close() }()
	if _, err := a.Write(newMessage(9, 3)); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, errBadMessage) {
		t.Fatalf("ServeConn = %v, want errBadMessage", err)
	}
}

func TestStalledTransport(t *testing.T) {
	checkLeaks(t)
	// A server that accepts and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	cl, err := TCP().Dial(t.Context(), ln.Addr().String(), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cl.Close() }()
	if c := <-accepted; c != nil {
		defer func() { _ = c.Close() }()
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err = MeasureRR(ctx, cl, 1, time.Millisecond, time.Millisecond)
	if err == nil {
		t.Fatal("MeasureRR over a silent server succeeded")
	}
}

func TestFormatCPUs(t *testing.T) {
	for _, tc := range []struct {
		in   []int
		want string
	}{{nil, ""}, {[]int{0}, "0"}, {[]int{0, 1}, "0-1"}, {[]int{0, 1, 2, 5, 7, 8}, "0-2,5,7-8"}} {
		if got := formatCPUs(tc.in); got != tc.want {
			t.Errorf("formatCPUs(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
