// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package netlab

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pollen-dev/pollen/internal/units"
)

// newLab builds a lab or skips the test when the machine cannot.
func newLab(t *testing.T, cfg Config) *Lab {
	t.Helper()
	l, err := New(t.Context(), cfg)
	if errors.Is(err, ErrNotSupported) {
		t.Skipf("skipping: %v (netlab needs root and `ip netns add`)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return l
}

func TestHostAddr(t *testing.T) {
	for i, want := range map[int]string{0: "198.18.0.1", 1: "198.18.0.10", 246: "198.18.0.255", 247: "198.18.1.0"} {
		if got := HostAddr(i).String(); got != want {
			t.Errorf("HostAddr(%d) = %s, want %s", i, got, want)
		}
	}
}

func TestParseStat(t *testing.T) {
	line := "4242 (a (weird) name) S 1 4240 4240 0 -1 4194560 100 0 0 0 250 30 7 3 20 0 1 0 5 0 0\n"
	st, err := parseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	want := procStat{state: 'S', pgrp: 4240, utime: 250, stime: 30, cutime: 7, cstime: 3}
	if st != want {
		t.Errorf("parseStat = %+v, want %+v", st, want)
	}
	if _, err := parseStat([]byte("1 (x) S 1")); err == nil {
		t.Error("short stat parsed")
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []Config{
		{},
		{Hosts: MaxHosts + 1},
		{Hosts: 2, HostLinks: map[int]Link{2: {}}},
		{Hosts: 2, Link: Link{Up: -1}},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil", c)
		}
	}
	if err := (Config{Hosts: 3}).Validate(); err != nil {
		t.Error(err)
	}
}

// TestLab builds three hosts, checks that two of them talk over TCP, that a
// 20 Mbit/s link roughly holds its rate, that processes run inside a host
// with CPU accounted, and that Close leaves nothing behind.
func TestLab(t *testing.T) {
	rate, _ := units.ParseRate("20Mbit")
	l := newLab(t, Config{Hosts: 3, Link: Link{Up: rate, Down: 4 * rate}})
	a, b := l.Host(1), l.Host(2)

	t.Run("echo", func(t *testing.T) {
		ln, err := a.Listen("tcp", net.JoinHostPort(a.Addr.String(), "7000"))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = ln.Close() }()
		done := make(chan error, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				done <- err
				return
			}
			defer func() { _ = c.Close() }()
			_, err = io.Copy(c, c)
			done <- err
		}()
		c, err := b.DialContext(t.Context(), "tcp", net.JoinHostPort(a.Addr.String(), "7000"))
		if err != nil {
			t.Fatal(err)
		}
		msg := []byte("hello, lab")
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatal(err)
		}
		_ = c.Close()
		if !bytes.Equal(got, msg) {
			t.Errorf("echo = %q, want %q", got, msg)
		}
		if err := <-done; err != nil {
			t.Errorf("echo server: %v", err)
		}
	})

	t.Run("rate", func(t *testing.T) {
		// A functional check of the shaping, not a timed benchmark: 4 MB
		// at 20 Mbit/s takes 1.6 s; accept anything within 0.5x-1.5x.
		const size = 4_000_000
		ln, err := b.Listen("tcp", net.JoinHostPort(b.Addr.String(), "7001"))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = ln.Close() }()
		got := make(chan int64, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				got <- -1
				return
			}
			defer func() { _ = c.Close() }()
			n, _ := io.Copy(io.Discard, c)
			got <- n
		}()
		before, err := a.Counters(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		allBefore, err := l.AllCounters(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		c, err := a.DialContext(t.Context(), "tcp", net.JoinHostPort(b.Addr.String(), "7001"))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := io.Copy(c, io.LimitReader(zeros{}, size)); err != nil {
			t.Fatal(err)
		}
		_ = c.Close()
		n := <-got
		elapsed := time.Since(start)
		if n != size {
			t.Fatalf("received %d bytes, want %d", n, size)
		}
		want := time.Duration(float64(size) / float64(rate) * float64(time.Second))
		if elapsed < want/2 || elapsed > want*3/2 {
			t.Errorf("4 MB at 20 Mbit/s took %v, want %v within 0.5x-1.5x", elapsed, want)
		}
		after, err := a.Counters(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if d := after.Sub(before); d.TxBytes < size || d.TxBytes > size*11/10 {
			t.Errorf("sender's link counted %d bytes sent, want about %d", d.TxBytes, size)
		}
		// The bridge's view, turned round: host a sent it, host b received
		// it, host 0 took no part.
		allAfter, err := l.AllCounters(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(allAfter) != 3 {
			t.Fatalf("AllCounters: %d hosts, want 3", len(allAfter))
		}
		sent, recv := allAfter[a.Index].Sub(allBefore[a.Index]), allAfter[b.Index].Sub(allBefore[b.Index])
		if sent.TxBytes < size || sent.TxBytes > size*11/10 || recv.RxBytes < size || recv.RxBytes > size*11/10 {
			t.Errorf("bridge counted %d bytes sent by %s and %d received by %s, want about %d each", sent.TxBytes, a.NS, recv.RxBytes, b.NS, size)
		}
		if idle := allAfter[0].Sub(allBefore[0]); idle.TxBytes > size/100 {
			t.Errorf("bridge counted %d bytes sent by the idle host 0", idle.TxBytes)
		}
		t.Logf("4 MB in %v (ideal %v)", elapsed, want)
	})

	t.Run("proc", func(t *testing.T) {
		// A shell that burns some CPU, then prints its network's address.
		cmd := b.Command(t.Context(), "sh", "-c", "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; ip -br addr show dev eth0")
		var out bytes.Buffer
		cmd.Stdout = &out
		p, err := b.Start(cmd)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Wait(); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), b.Addr.String()) {
			t.Errorf("process in %s sees %q, want its address %s", b.NS, out.String(), b.Addr)
		}
		if cpu, _ := p.CPU(); cpu <= 0 {
			t.Errorf("CPU = %v, want > 0", cpu)
		}
		// A long runner is stopped through its group, child included.
		p, err = b.Start(b.Command(t.Context(), "sh", "-c", "sleep 60 & sleep 60"))
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		if _, err := p.CPU(); err != nil {
			t.Errorf("CPU of a live process: %v", err)
		}
		p.Stop()
		// The orphaned child is killed at once but reaped by init.
		deadline := time.Now().Add(2 * time.Second)
		for _, err := GroupCPU(p.Pid()); err == nil; _, err = GroupCPU(p.Pid()) {
			if time.Now().After(deadline) {
				t.Fatal("process group still alive 2s after Stop")
			}
			time.Sleep(10 * time.Millisecond)
		}
	})

	t.Run("close", func(t *testing.T) {
		// Leave a process running: Close must end it too.
		if _, err := a.Start(a.Command(t.Context(), "sleep", "60")); err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("ip", "netns", "list").Output()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(out), l.Prefix()) {
			t.Errorf("namespaces left after Close:\n%s", out)
		}
		if _, err := os.Stat(nsRunDir + "/" + a.NS); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("namespace %s still exists: %v", a.NS, err)
		}
		links, err := exec.Command("ip", "-br", "link").Output()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(links), l.Prefix()) {
			t.Errorf("links left in the root namespace:\n%s", links)
		}
	})
}

// TestCleanupStale makes a namespace named as if by a dead process and
// checks that CleanupStale removes it.
func TestCleanupStale(t *testing.T) {
	if err := Supported(t.Context()); err != nil {
		t.Skipf("skipping: %v", err)
	}
	// Find a pid that is not running.
	pid := 4_000_000
	for alive(pid) {
		pid--
	}
	ns := "pl" + strconv.Itoa(pid) + "-1-h0"
	if err := ip(t.Context(), "netns", "add", ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = deleteNamespace(context.Background(), ns) })
	if err := CleanupStale(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(nsRunDir + "/" + ns); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale namespace %s survived: %v", ns, err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
