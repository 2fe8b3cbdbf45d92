// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package netlab

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Host is one host of a [Lab]: a network namespace with one interface, eth0.
type Host struct {
	lab *Lab
	// Index is the host's position in the lab, 0 to Hosts-1.
	Index int
	// NS is the name of the host's network namespace.
	NS string
	// Addr is the address of the host's eth0.
	Addr netip.Addr
	// Link is the shaping of the host's link.
	Link Link
}

// Command returns a command that runs name inside the host's namespace
// through `ip netns exec` (which execs name, so the command's pid is the
// program's). The command gets its own process group, is killed with its
// group when ctx is done or when this process dies, and runs without the
// *_proxy environment so that nothing is sent outside the lab. Start it
// with [Host.Start]: the kernel sends the death signal when the thread
// that forked the child ends, which for Go is not only at exit, and Start
// forks from a thread that lives as long as the process.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 5 * time.Second
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !strings.HasSuffix(strings.ToLower(k), "_proxy") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	return cmd
}

// Start starts cmd (made by [Host.Command]) and returns its [Proc]. The lab
// owns the process: [Lab.Close] stops it if it still runs.
func (h *Host) Start(cmd *exec.Cmd) (*Proc, error) {
	p := &Proc{cmd: cmd, lab: h.lab, done: make(chan struct{})}
	if err := h.lab.track(p); err != nil {
		return nil, err
	}
	var err error
	onForkThread(func() { err = cmd.Start() })
	if err != nil {
		h.lab.untrack(p)
		return nil, fmt.Errorf("netlab: start %v on %s: %w", cmd.Args, h.NS, err)
	}
	p.start = time.Now()
	go p.wait()
	return p, nil
}

// forkThread runs the functions sent to it on one OS thread that is never
// released, so children forked there get their parent-death signal only
// when this process ends (golang.org/issue/27505). Its goroutine lives as
// long as the process.
var forkThread struct {
	once sync.Once
	fns  chan func()
}

func onForkThread(f func()) {
	forkThread.once.Do(func() {
		forkThread.fns = make(chan func())
		go func() {
			runtime.LockOSThread()
			for f := range forkThread.fns {
				f()
			}
		}()
	})
	done := make(chan struct{})
	forkThread.fns <- func() {
		defer close(done)
		f()
	}
	<-done
}

// Do runs f on an OS thread that has joined the host's network namespace,
// so sockets f creates belong to the host for their whole life, wherever
// they are used afterwards. f must not start goroutines that create sockets
// and expect them in the host: only f's own thread is in the namespace.
func (h *Host) Do(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		// The thread is never unlocked: when this goroutine returns the
		// runtime ends the thread instead of reusing it in the wrong
		// namespace.
		runtime.LockOSThread()
		fd, err := syscall.Open(nsRunDir+"/"+h.NS, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("netlab: open namespace %s: %w", h.NS, err)
			return
		}
		defer func() { _ = syscall.Close(fd) }()
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("netlab: setns %s: %w", h.NS, err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// Listen announces on the host's network (see [net.Listen]).
func (h *Host) Listen(network, addr string) (net.Listener, error) {
	var ln net.Listener
	err := h.Do(func() (err error) {
		ln, err = net.Listen(network, addr)
		return err
	})
	return ln, err
}

// DialContext connects from the host (see [net.Dialer.DialContext]).
func (h *Host) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := h.Do(func() (err error) {
		var d net.Dialer
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// WaitListening dials addr from the host until it accepts a TCP connection
// or ctx is done; it is how a caller knows a server it started is ready.
func (h *Host) WaitListening(ctx context.Context, addr string) error {
	for {
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		c, err := h.DialContext(dctx, "tcp", addr)
		cancel()
		if err == nil {
			return c.Close()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("netlab: %s: wait for %s: %w (last: %w)", h.NS, addr, ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Counters are the totals of a host's eth0 since the lab was built,
// including Ethernet, IP and TCP headers.
type Counters struct {
	TxBytes, RxBytes     int64
	TxPackets, RxPackets int64
}

// Sub returns c minus o, the traffic between two readings.
func (c Counters) Sub(o Counters) Counters {
	return Counters{
		TxBytes: c.TxBytes - o.TxBytes, RxBytes: c.RxBytes - o.RxBytes,
		TxPackets: c.TxPackets - o.TxPackets, RxPackets: c.RxPackets - o.RxPackets,
	}
}

// AllCounters reads the counters of every host's link in one call, from
// the bridge's side of each veth pair and turned round to the host's view:
// what the bridge port received is what the host sent. Index i is host i.
func (l *Lab) AllCounters(ctx context.Context) ([]Counters, error) {
	links, err := linkStats(ctx, l.bridge, "master", "br0")
	if err != nil {
		return nil, err
	}
	cs := make([]Counters, len(l.hosts))
	seen := 0
	for _, k := range links {
		i, err := strconv.Atoi(strings.TrimPrefix(k.Name, "h"))
		if err != nil || !strings.HasPrefix(k.Name, "h") || i < 0 || i >= len(cs) {
			continue
		}
		c := k.counters()
		cs[i] = Counters{TxBytes: c.RxBytes, RxBytes: c.TxBytes, TxPackets: c.RxPackets, RxPackets: c.TxPackets}
		seen++
	}
	if seen != len(cs) {
		return nil, fmt.Errorf("netlab: %s: %d of %d host ports on br0", l.bridge, seen, len(cs))
	}
	return cs, nil
}

// Counters reads the byte and packet counters of the host's eth0.
func (h *Host) Counters(ctx context.Context) (Counters, error) {
	links, err := linkStats(ctx, h.NS, "dev", "eth0")
	if err != nil {
		return Counters{}, err
	}
	if len(links) != 1 {
		return Counters{}, fmt.Errorf("netlab: %s: %d links named eth0", h.NS, len(links))
	}
	return links[0].counters(), nil
}

// linkStat is one link of `ip -s -j link show`.
type linkStat struct {
	Name  string `json:"ifname"`
	Stats struct {
		Rx struct{ Bytes, Packets int64 } `json:"rx"`
		Tx struct{ Bytes, Packets int64 } `json:"tx"`
	} `json:"stats64"`
}

// counters returns l's counters as the link's own side sees them.
func (l linkStat) counters() Counters {
	s := l.Stats
	return Counters{TxBytes: s.Tx.Bytes, RxBytes: s.Rx.Bytes, TxPackets: s.Tx.Packets, RxPackets: s.Rx.Packets}
}

// linkStats runs `ip -s -j link show SELECTOR...` in namespace ns.
func linkStats(ctx context.Context, ns string, selector ...string) ([]linkStat, error) {
	out, err := output(ctx, "ip", append([]string{"-n", ns, "-s", "-j", "link", "show"}, selector...)...)
	if err != nil {
		return nil, err
	}
	var links []linkStat
	if err := json.Unmarshal(out, &links); err != nil {
		return nil, fmt.Errorf("netlab: parse counters of %s: %w", ns, err)
	}
	return links, nil
}
