// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package netlab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// nsRunDir is where `ip netns` keeps named namespaces.
const nsRunDir = "/run/netns"

// labName matches the namespaces of a lab made with the default prefix and
// captures the pid of the process that made it.
var labName = regexp.MustCompile(`^pl([0-9]+)-(?:[0-9]+-|probe)`)

// CleanupStale deletes the namespaces of labs whose creating process no
// longer runs, after killing whatever still runs inside them. Labs of live
// processes, including this one, are left alone.
func CleanupStale(ctx context.Context) error {
	entries, err := os.ReadDir(nsRunDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("netlab: list namespaces: %w", err)
	}
	var errs []error
	for _, e := range entries {
		m := labName.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		pid, err := strconv.Atoi(m[1])
		if err != nil || pid == os.Getpid() || alive(pid) {
			continue
		}
		if err := deleteNamespace(ctx, e.Name()); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// deleteNamespace kills the processes in namespace ns and deletes it. A
// namespace that does not exist is not an error.
func deleteNamespace(ctx context.Context, ns string) error {
	if _, err := os.Stat(nsRunDir + "/" + ns); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	// A namespace lives on while a process is in it, so empty it first.
	for range 50 {
		out, err := output(ctx, "ip", "netns", "pids", ns)
		if err != nil {
			break
		}
		pids := strings.Fields(string(out))
		if len(pids) == 0 {
			break
		}
		for _, s := range pids {
			if pid, err := strconv.Atoi(s); err == nil && pid > 1 && pid != os.Getpid() {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := ip(ctx, "netns", "del", ns); err != nil {
		if _, serr := os.Stat(nsRunDir + "/" + ns); errors.Is(serr, os.ErrNotExist) {
			return nil
		}
		return err
	}
	return nil
}
