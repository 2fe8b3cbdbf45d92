// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msgbench

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pollen-dev/pollen/msg"
)

// ChildEnv is set (to "1") in the environment of the server process
// started by [StartServer].
const ChildEnv = "POLLEN_MSGBENCH_SERVER"

// IsChild reports whether this process was started by [StartServer].
func IsChild() bool { return os.Getenv(ChildEnv) == "1" }

// MaxSize is the largest move (and raw exchange) of the benchmark.
// Messages are at most MaxMessage: Send/Receive/Reply is measured only up
// to it.
const MaxSize = 4 << 20

// MaxMessage is the largest message of the benchmark.
const MaxMessage = 1 << 20

// Raw echo connections start with a 5-byte setup: op u8 | n u32. Then,
// for ever: the client writes n bytes; the server reads them and writes n
// bytes back (opEcho) or a 32-byte acknowledgement (opPush).
const (
	opEcho = 1
	opPush = 2
)

// Requests to the msg server start with an op byte.
const (
	msgEcho     = 'e' // reply with the message
	msgMoveFrom = 'm' // MoveFrom the whole granted segment, reply 32 bytes
	msgPageRWS  = 'w' // ReplyWithSegment n bytes (n u32 after the op)
	msgPageMove = 't' // MoveTo n bytes, then Reply 32 bytes
)

// bigConfig is the msg configuration of the nodes that send and receive
// messages longer than the default MaxMessage (64 KiB). Only they use it:
// it also raises the size from which wire streams a frame straight into
// its destination, which would slow down moves.
func bigConfig() msg.Config { return msg.Config{MaxMessage: MaxMessage} }

// defaultMax is the default MaxMessage.
const defaultMax = 64 << 10

// Servers are the benchmark's servers: raw echo on TCP and Unix, and two
// msg nodes (default configuration, and messages up to MaxMessage) on TCP and
// Unix, each at an address.
type Servers struct {
	RawTCP, RawUnix, MsgTCP, MsgUnix, BigTCP, BigUnix string

	close func() error
	once  sync.Once
	err   error
}

// Close stops the servers. It is idempotent.
func (s *Servers) Close() error {
	s.once.Do(func() { s.err = s.close() })
	return s.err
}

// Serve starts the servers in this process; dir holds the Unix sockets.
func Serve(ctx context.Context, dir string) (*Servers, error) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var closers []func() error
	s := &Servers{}
	s.close = func() error {
		cancel()
		var errs []error
		for _, c := range closers {
			errs = append(errs, c())
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	for _, network := range []string{"tcp", "unix"} {
		addr := "127.0.0.1:0"
		if network == "unix" {
			addr = filepath.Join(dir, "raw.sock")
		}
		ln, err := net.Listen(network, addr)
		if err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("msgbench: listen: %w", err)
		}
		closers = append(closers, func() error {
			if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				return err
			}
			return nil
		})
		if network == "tcp" {
			s.RawTCP = ln.Addr().String()
		} else {
			s.RawUnix = addr
		}
		wg.Go(func() { rawServe(ctx, ln, &wg) })
	}
	for _, big := range []bool{false, true} {
		cfg, name := msg.Config{}, "msg"
		if big {
			cfg, name = bigConfig(), "big"
		}
		n, err := msg.NewNode(cfg)
		if err != nil {
			_ = s.Close()
			return nil, err
		}
		closers = append(closers, n.Close)
		for _, addr := range []string{"tcp://127.0.0.1:0", "unix://" + filepath.Join(dir, name+".sock")} {
			if err := n.Listen(ctx, addr); err != nil {
				_ = s.Close()
				return nil, err
			}
		}
		addrs := n.Addrs()
		if big {
			s.BigTCP, s.BigUnix = addrs[0], addrs[1]
		} else {
			s.MsgTCP, s.MsgUnix = addrs[0], addrs[1]
		}
		wg.Go(func() { _ = n.Serve(ctx, newHandler().serve) })
	}
	return s, nil
}

// rawServe accepts echo connections until ln closes; each is served by a
// goroutine counted in wg and closed when ctx ends.
func rawServe(ctx context.Context, ln net.Listener, wg *sync.WaitGroup) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		stop := context.AfterFunc(ctx, func() { _ = c.Close() })
		wg.Go(func() {
			defer stop()
			defer func() { _ = c.Close() }()
			_ = rawConn(c)
		})
	}
}

func rawConn(c net.Conn) error {
	var setup [5]byte
	if _, err := io.ReadFull(c, setup[:]); err != nil {
		return err
	}
	n := int(binary.BigEndian.Uint32(setup[1:]))
	if n <= 0 || n > MaxSize {
		return fmt.Errorf("msgbench: size %d", n)
	}
	buf := make([]byte, n)
	ack := make([]byte, 32)
	rw := newRawIO(c)
	for {
		if _, err := io.ReadFull(rw, buf); err != nil {
			return err
		}
		out := buf
		if setup[0] == opPush {
			out = ack
		}
		if _, err := rw.Write(out); err != nil {
			return err
		}
	}
}

// handler serves the msg requests; it is used by one Serve loop.
type handler struct {
	buf  []byte // MoveFrom destination
	page []byte // page-read source
	ack  []byte
}

func newHandler() *handler {
	return &handler{buf: make([]byte, MaxSize), page: make([]byte, MaxSize), ack: make([]byte, 32)}
}

func (h *handler) serve(ctx context.Context, r *msg.Request) {
	m := r.Message()
	if len(m) == 0 {
		_ = r.Reply(nil)
		return
	}
	var err error
	switch m[0] {
	case msgEcho:
		err = r.Reply(m)
	case msgMoveFrom:
		_, l := r.Grant()
		if l > MaxSize {
			l = MaxSize
		}
		if err = r.MoveFrom(ctx, 0, msg.Bytes(h.buf[:l])); err == nil {
			err = r.Reply(h.ack)
		}
	case msgPageRWS, msgPageMove:
		k := 0
		if len(m) >= 5 {
			k = min(int(binary.BigEndian.Uint32(m[1:])), MaxSize)
		}
		if m[0] == msgPageRWS {
			err = r.ReplyWithSegment(h.ack, 0, msg.Bytes(h.page[:k]))
		} else if err = r.MoveTo(ctx, 0, msg.Bytes(h.page[:k])); err == nil {
			err = r.Reply(h.ack)
		}
	default:
		err = r.Reply(nil)
	}
	if err != nil {
		_ = r.Reply([]byte(err.Error())) // tells the client; fails if already answered
	}
}

// ServeMain is the body of the server child process: it starts the servers,
// prints "listen NAME ADDR" lines and "ready", and serves until stdin
// reaches EOF or ctx ends.
func ServeMain(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	dir, err := os.MkdirTemp("", "pollen-msgbench-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	s, err := Serve(ctx, dir)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "listen raw-tcp %s\nlisten raw-unix %s\nlisten msg-tcp %s\nlisten msg-unix %s\nlisten big-tcp %s\nlisten big-unix %s\nready\n",
		s.RawTCP, s.RawUnix, s.MsgTCP, s.MsgUnix, s.BigTCP, s.BigUnix)
	if err != nil {
		_ = s.Close()
		return err
	}
	done := make(chan struct{})
	go func() { // ends at EOF; the parent closes stdin before it waits
		_, _ = io.Copy(io.Discard, stdin)
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return s.Close()
}

// A ServerCommand re-executes a program as the benchmark server: Path with
// Args, run with [ChildEnv] set, must end up in [ServeMain].
type ServerCommand struct {
	Path   string
	Args   []string
	Stderr io.Writer // the child's standard error; nil discards it
}

// StartServer starts cmd as a child process and waits until it reports its
// listeners.
func StartServer(ctx context.Context, cmd ServerCommand) (*Servers, error) {
	c := exec.Command(cmd.Path, cmd.Args...)
	c.Env = append(os.Environ(), ChildEnv+"=1")
	c.Stderr = cmd.Stderr
	stdin, err := c.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := c.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := c.Start(); err != nil {
		return nil, fmt.Errorf("msgbench: start server %s: %w", cmd.Path, err)
	}
	s := &Servers{}
	s.close = func() error {
		_ = stdin.Close()
		timer := time.AfterFunc(15*time.Second, func() { _ = c.Process.Kill() })
		defer timer.Stop()
		return c.Wait()
	}
	ready := make(chan error, 1)
	go func() { // ends at "ready" or EOF; the child is killed below if silent
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) == 1 && f[0] == "ready":
				ready <- nil
				_, _ = io.Copy(io.Discard, stdout)
				return
			case len(f) == 3 && f[0] == "listen":
				switch f[1] {
				case "raw-tcp":
					s.RawTCP = f[2]
				case "raw-unix":
					s.RawUnix = f[2]
				case "msg-tcp":
					s.MsgTCP = f[2]
				case "msg-unix":
					s.MsgUnix = f[2]
				case "big-tcp":
					s.BigTCP = f[2]
				case "big-unix":
					s.BigUnix = f[2]
				}
			}
		}
		ready <- fmt.Errorf("msgbench: server exited before it was ready: %w", errors.Join(sc.Err(), io.ErrUnexpectedEOF))
	}()
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	select {
	case err = <-ready:
	case <-timer.C:
		err = errors.New("msgbench: server not ready after 30s")
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		_ = c.Process.Kill()
		return nil, errors.Join(err, s.Close())
	}
	return s, nil
}
