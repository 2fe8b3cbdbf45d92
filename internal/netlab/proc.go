// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package netlab

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat. It is fixed at
// 100 by the kernel's user ABI on every architecture Go supports on Linux.
const userHZ = 100

// stopGrace is how long Stop waits after SIGTERM before SIGKILL.
const stopGrace = 3 * time.Second

// Proc is a process started by [Host.Start], with its process group. It is
// safe for concurrent use.
type Proc struct {
	cmd   *exec.Cmd
	lab   *Lab
	start time.Time
	done  chan struct{} // closed when the process has been waited for

	// Set before done is closed.
	end time.Time
	err error
	cpu time.Duration
}

func (p *Proc) wait() {
	err := p.cmd.Wait()
	p.end = time.Now()
	p.err = err
	if ps := p.cmd.ProcessState; ps != nil {
		// The rusage of a waited-for child includes its waited-for
		// descendants (wait4 reports RUSAGE_BOTH).
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			p.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	// Whatever of the group outlived its leader goes too.
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	p.lab.untrack(p)
	close(p.done)
}

// Pid returns the process id, which is also the id of its process group.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited and been waited for.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Wait waits for the process to exit and returns its error (see
// [exec.Cmd.Wait]).
func (p *Proc) Wait() error {
	<-p.done
	return p.err
}

// Started returns when the process was started.
func (p *Proc) Started() time.Time { return p.start }

// Elapsed returns how long the process ran: from start to exit, or to now
// while it runs.
func (p *Proc) Elapsed() time.Duration {
	select {
	case <-p.done:
		return p.end.Sub(p.start)
	default:
		return time.Since(p.start)
	}
}

// Stop sends SIGTERM to the process group, waits up to a few seconds for
// the leader to exit, then sends SIGKILL; it returns once the process has
// been waited for. The exit error of a stopped process is not reported.
func (p *Proc) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.Pid(), syscall.SIGTERM)
	t := time.NewTimer(stopGrace)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
		<-p.done
	}
}

// StopAll stops procs concurrently and returns when all have exited.
func StopAll(procs ...*Proc) {
	var wg sync.WaitGroup
	for _, p := range procs {
		if p != nil {
			wg.Go(p.Stop)
		}
	}
	wg.Wait()
}

// CPU returns the user+system CPU time of the process and its descendants.
// While it runs that is the sum over its process group read from /proc
// (each member's own time plus that of the children it has reaped); after
// it exited, the rusage the kernel reported for it.
func (p *Proc) CPU() (time.Duration, error) {
	select {
	case <-p.done:
		return p.cpu, nil
	default:
	}
	d, err := GroupCPU(p.Pid())
	if err != nil {
		// The process may have exited in between.
		select {
		case <-p.done:
			return p.cpu, nil
		default:
		}
	}
	return d, err
}

// GroupCPU returns the user+system CPU time of the live members of process
// group pgid (zombies aside), each with the CPU time of the children it has
// reaped. A member's own time is the scheduler's runtime of its threads
// (/proc/<pid>/task/<tid>/schedstat, in nanoseconds), which is what the
// tick-sampled utime+stime add up to; reaped children count in clock ticks.
func GroupCPU(pgid int) (time.Duration, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("netlab: list /proc: %w", err)
	}
	var sum time.Duration
	found := false
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err != nil || st.pgrp != pgid || st.state == 'Z' {
			continue // exited meanwhile, or not ours
		}
		found = true
		own, err := runtimeOf(pid)
		if err != nil {
			own = time.Duration(st.utime+st.stime) * time.Second / userHZ
		}
		sum += own + time.Duration(st.cutime+st.cstime)*time.Second/userHZ
	}
	if !found {
		return 0, fmt.Errorf("netlab: no process in group %d: %w", pgid, os.ErrNotExist)
	}
	return sum, nil
}

// runtimeOf sums the on-CPU time of pid's threads from their schedstat.
func runtimeOf(pid int) (time.Duration, error) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var ns int64
	for _, t := range tasks {
		b, err := os.ReadFile(dir + "/" + t.Name() + "/schedstat")
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // thread ended
			}
			return 0, err
		}
		f := bytes.Fields(b)
		if len(f) == 0 {
			return 0, errors.New("netlab: empty schedstat")
		}
		v, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("netlab: schedstat: %w", err)
		}
		ns += v
	}
	return time.Duration(ns), nil
}

type procStat struct {
	state                        byte
	pgrp                         int
	utime, stime, cutime, cstime int64
}

// readStat parses /proc/<pid>/stat. The command name may contain spaces and
// parentheses, so fields are counted after the last ')'.
func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseStat(b)
}

func parseStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, errors.New("netlab: malformed stat")
	}
	// After ')': state(3) ppid(4) pgrp(5) ... utime(14) stime(15)
	// cutime(16) cstime(17), numbered as in proc(5).
	f := bytes.Fields(b[i+1:])
	if len(f) < 15 {
		return procStat{}, errors.New("netlab: short stat")
	}
	num := func(k int) int64 {
		v, _ := strconv.ParseInt(string(f[k-3]), 10, 64)
		return v
	}
	return procStat{
		state: f[0][0],
		pgrp:  int(num(5)),
		utime: num(14), stime: num(15), cutime: num(16), cstime: num(17),
	}, nil
}
