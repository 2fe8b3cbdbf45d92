// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wirebench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ChildEnv is set (to "1") in the environment of a server process started by
// [StartServer]. A program that re-executes itself as the benchmark server
// checks it (see [IsChild]) and calls [ServeMain].
const ChildEnv = "POLLEN_WIREBENCH_SERVER"

// IsChild reports whether this process was started by [StartServer].
func IsChild() bool { return os.Getenv(ChildEnv) == "1" }

// Servers are running benchmark servers, one loopback listener per
// transport, in this process or in a child process.
type Servers struct {
	addrs map[string]string
	cpus  string
	close func() error
	once  sync.Once
	err   error
}

// Addr returns the address the named transport's server listens on, or "".
func (s *Servers) Addr(name string) string { return s.addrs[name] }

// CPUs returns the CPU affinity list the server side reported, "" when it
// runs in this process.
func (s *Servers) CPUs() string { return s.cpus }

// Close stops the servers and waits for them (and the child process) to
// exit. It is idempotent.
func (s *Servers) Close() error {
	s.once.Do(func() { s.err = s.close() })
	return s.err
}

// Serve starts a server for every transport in this process, each on its
// own 127.0.0.1 listener.
func Serve(ctx context.Context, transports []Transport) (*Servers, error) {
	ctx, cancel := context.WithCancel(ctx)
	s := &Servers{addrs: map[string]string{}}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex // guards errs
		errs []error
	)
	s.close = func() error {
		cancel()
		wg.Wait()
		return errors.Join(errs...)
	}
	for _, t := range transports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("listen for %s: %w", t.Name(), err)
		}
		s.addrs[t.Name()] = ln.Addr().String()
		wg.Go(func() {
			defer func() { _ = ln.Close() }()
			if err := t.Serve(ctx, ln); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s server: %w", t.Name(), err))
				mu.Unlock()
			}
		})
	}
	return s, nil
}

// ServeMain is the body of a server child process: it starts a server per
// transport, reports their addresses on stdout ("listen NAME ADDR" lines,
// "cpus LIST", then "ready"), and serves until stdin reaches EOF or ctx is
// done.
func ServeMain(ctx context.Context, transports []Transport, stdin io.Reader, stdout io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := Serve(ctx, transports)
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, t := range transports {
		fmt.Fprintf(&b, "listen %s %s\n", t.Name(), s.Addr(t.Name()))
	}
	fmt.Fprintf(&b, "cpus %s\nready\n", affinityList())
	if _, err := io.WriteString(stdout, b.String()); err != nil {
		_ = s.Close()
		return fmt.Errorf("report addresses: %w", err)
	}
	stdinDone := make(chan struct{})
	go func() { // ends at EOF; the parent closes stdin before waiting for us
		_, _ = io.Copy(io.Discard, stdin)
		close(stdinDone)
	}()
	select {
	case <-stdinDone:
	case <-ctx.Done():
	}
	return s.Close()
}

// A ServerCommand re-executes a program as the benchmark server: Path with
// Args, run with [ChildEnv] set, must end up in [ServeMain].
type ServerCommand struct {
	Path string
	Args []string
	// Stderr receives the child's standard error; nil discards it.
	Stderr io.Writer
}

// StartServer starts cmd as a child process and waits until it reports its
// listeners. With cpu >= 0 the child starts pinned to that CPU (its threads
// inherit the affinity of the thread that forks it).
func StartServer(ctx context.Context, cmd ServerCommand, cpu int) (*Servers, error) {
	c := exec.Command(cmd.Path, cmd.Args...)
	c.Env = append(os.Environ(), ChildEnv+"=1")
	c.Stderr = cmd.Stderr
	stdin, err := c.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("server stdin: %w", err)
	}
	stdout, err := c.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("server stdout: %w", err)
	}
	if err := startPinned(c, cpu); err != nil {
		return nil, fmt.Errorf("start server %s: %w", cmd.Path, err)
	}
	s := &Servers{addrs: map[string]string{}}
	waited := make(chan error, 1)
	s.close = func() error {
		_ = stdin.Close()
		timer := time.NewTimer(15 * time.Second)
		defer timer.Stop()
		select {
		case err := <-waited:
			return err
		case <-timer.C:
			_ = c.Process.Kill()
			return fmt.Errorf("wirebench: server process did not exit: %w", <-waited)
		}
	}
	// The child reports its listeners; a dead or silent child fails here.
	type report struct {
		lines []string
		err   error
	}
	readDone := make(chan report, 1)
	go func() { // ends at "ready" or at the child's EOF (killed below if silent)
		var r report
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			r.lines = append(r.lines, sc.Text())
			if sc.Text() == "ready" {
				readDone <- r
				return
			}
		}
		r.err = fmt.Errorf("server exited before it was ready: %w", errors.Join(sc.Err(), io.ErrUnexpectedEOF))
		readDone <- r
	}()
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	var r report
	read := false
	select {
	case r = <-readDone:
		read = true
	case <-timer.C:
		r.err = errors.New("wirebench: server not ready after 30s")
	case <-ctx.Done():
		r.err = ctx.Err()
	}
	if r.err != nil {
		_ = c.Process.Kill()
		_ = stdin.Close()
		if !read {
			<-readDone
		}
		return nil, errors.Join(r.err, c.Wait())
	}
	for _, line := range r.lines {
		f := strings.Fields(line)
		switch {
		case len(f) == 3 && f[0] == "listen":
			s.addrs[f[1]] = f[2]
		case len(f) >= 1 && f[0] == "cpus":
			s.cpus = strings.Join(f[1:], " ")
		}
	}
	go func() { waited <- c.Wait() }() // ends when the child exits; Close waits for it
	return s, nil
}

// formatCPUs prints a CPU list like "0-1,3".
func formatCPUs(cpus []int) string {
	var b strings.Builder
	for i := 0; i < len(cpus); {
		j := i
		for j+1 < len(cpus) && cpus[j+1] == cpus[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(cpus[i]))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(cpus[j]))
		}
		i = j + 1
	}
	return b.String()
}
