// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wirebench

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// PinCPU returns the CPU the pinned runs use: the first one this process may
// run on.
func PinCPU() (int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return -1, fmt.Errorf("sched_getaffinity: %w", err)
	}
	for i := range 1024 {
		if set.IsSet(i) {
			return i, nil
		}
	}
	return -1, errors.New("wirebench: no CPU in the affinity mask")
}

// affinityList returns the CPUs this thread may run on, like "0-1".
func affinityList() string {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return "?"
	}
	var cpus []int
	for i := range 1024 {
		if set.IsSet(i) {
			cpus = append(cpus, i)
		}
	}
	return formatCPUs(cpus)
}

// startPinned starts c from a thread pinned to cpu (cpu < 0: as is), so the
// child and all its threads start with that affinity.
func startPinned(c *exec.Cmd, cpu int) error {
	if cpu < 0 {
		return c.Start()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old, set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return fmt.Errorf("sched_getaffinity: %w", err)
	}
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("pin to CPU %d: %w", cpu, err)
	}
	err := c.Start()
	if rerr := unix.SchedSetaffinity(0, &old); rerr != nil {
		// The thread stays pinned; LockOSThread without unlock would make
		// the runtime discard it, but a restore failure is unexpected.
		err = errors.Join(err, fmt.Errorf("restore affinity: %w", rerr))
	}
	return err
}

// PinProcess pins every thread of this process to cpu and sets GOMAXPROCS to
// 1 (one CPU, one P), so the client side of a benchmark shares one CPU with
// a server started pinned to it. The returned function restores the
// previous affinity and GOMAXPROCS.
func PinProcess(cpu int) (restore func() error, err error) {
	var old, set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return nil, fmt.Errorf("sched_getaffinity: %w", err)
	}
	set.Set(cpu)
	if err := setProcessAffinity(&set); err != nil {
		_ = setProcessAffinity(&old)
		return nil, fmt.Errorf("pin to CPU %d: %w", cpu, err)
	}
	procs := runtime.GOMAXPROCS(1)
	return func() error {
		runtime.GOMAXPROCS(procs)
		return setProcessAffinity(&old)
	}, nil
}

// setProcessAffinity applies set to every thread of the process. Threads
// created meanwhile inherit the mask of their creator, so passes repeat until
// one finds no thread it had not pinned.
func setProcessAffinity(set *unix.CPUSet) error {
	done := map[int]bool{}
	for range 10 {
		ents, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return fmt.Errorf("list threads: %w", err)
		}
		fresh := false
		for _, e := range ents {
			tid, err := strconv.Atoi(e.Name())
			if err != nil || done[tid] {
				continue
			}
			fresh = true
			if err := unix.SchedSetaffinity(tid, set); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("thread %d: %w", tid, err)
			}
			done[tid] = true
		}
		if !fresh {
			return nil
		}
	}
	return nil
}
