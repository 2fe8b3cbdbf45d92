// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package swarmbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/pollen-dev/pollen/internal/netlab"
	"github.com/pollen-dev/pollen/internal/units"
)

// System is one way of copying a file from the origin to every peer of a
// lab: a system under test (pollen) or a baseline (BitTorrent, HTTP).
type System interface {
	// Name names the system in results ("bittorrent", "nginx", "pollen").
	Name() string
	// Run copies task.File from the lab's host 0 to each of hosts 1..N
	// and returns when every copy is complete or ctx is done. It starts
	// its processes in the lab and stops them before it returns. Run
	// starts its clock once its servers (tracker, seeder, scheduler) are
	// ready, when it starts the downloads.
	Run(ctx context.Context, lab *netlab.Lab, task Task) (Outcome, error)
}

// Task is the file a System distributes.
type Task struct {
	// File is the path of the file on the origin. All hosts share the
	// machine's file system; only the origin may read it during the run.
	File string
	// Size is the file's length in bytes.
	Size int64
	// SHA256 is the file's digest.
	SHA256 [32]byte
	// Dir is an empty directory for the system's state and copies. It is
	// removed after the run.
	Dir string
}

// Outcome is what a System reports of one run.
type Outcome struct {
	// AllDone is the time from the start of the downloads until the last
	// peer had a complete copy.
	AllDone time.Duration
	// Started is when the downloads started, the zero of AllDone and
	// PerHost.
	Started time.Time
	// PerHost is each peer's time to a complete copy; PerHost[i] is host
	// i+1's.
	PerHost []time.Duration
	// CPU is the user+system CPU time of all the system's processes on
	// all hosts until AllDone (or until they exited, if before).
	CPU time.Duration
	// Copies are the paths of the peers' copies; Copies[i] is host i+1's.
	// [Run] checks each against [Task.SHA256].
	Copies []string
	// OriginBytes is what the origin's link sent during System.Run,
	// headers included. [Run] fills it in; a System leaves it zero.
	OriginBytes int64
}

// toolUser is implemented by systems that run programs, so that a run can
// fail early, with the packages to install, when one is missing.
type toolUser interface {
	tools() []string
}

// DebianPackages maps the programs the baselines run to the Debian packages
// that provide them.
var DebianPackages = map[string]string{
	"aria2c":      "aria2",
	"opentracker": "opentracker",
	"mktorrent":   "mktorrent",
	"nginx":       "nginx-light",
	"curl":        "curl",
	"iperf3":      "iperf3",
}

// ErrMissingTools marks a run that cannot start because programs are not
// installed.
var ErrMissingTools = errors.New("swarmbench: programs not installed")

// MissingToolsError lists the missing programs and their packages.
type MissingToolsError struct {
	Tools    []string
	Packages []string
}

func (e *MissingToolsError) Error() string {
	return fmt.Sprintf("swarmbench: programs not installed: %s (apt-get install %s)",
		strings.Join(e.Tools, ", "), strings.Join(e.Packages, " "))
}

// Unwrap makes errors.Is(err, ErrMissingTools) hold.
func (e *MissingToolsError) Unwrap() error { return ErrMissingTools }

// checkTools returns a *MissingToolsError for the tools not in $PATH.
func checkTools(tools []string) error {
	var e MissingToolsError
	for _, t := range tools {
		if _, err := exec.LookPath(t); err != nil && !slices.Contains(e.Tools, t) {
			e.Tools = append(e.Tools, t)
			if p := DebianPackages[t]; p != "" && !slices.Contains(e.Packages, p) {
				e.Packages = append(e.Packages, p)
			}
		}
	}
	if len(e.Tools) > 0 {
		return &e
	}
	return nil
}

// InstallPackages installs every package in [DebianPackages] with apt-get
// (as root, from the configured Debian mirror), printing apt's output to
// out. It is an explicit step: nothing in this package installs on its own.
func InstallPackages(ctx context.Context, out io.Writer) error {
	pkgs := make([]string, 0, len(DebianPackages))
	for _, p := range DebianPackages {
		if !slices.Contains(pkgs, p) {
			pkgs = append(pkgs, p)
		}
	}
	slices.Sort(pkgs)
	cmd := exec.CommandContext(ctx, "apt-get", append([]string{"install", "-y", "-q"}, pkgs...)...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("swarmbench: apt-get install %s: %w", strings.Join(pkgs, " "), err)
	}
	return nil
}

// LowerBound returns the fluid lower bound on the time to copy size bytes
// from an origin with upload originUp to peers with the given links:
//
//	max(F/u_origin, F/d_min, N·F/(u_origin + Σ u_peers))
//
// The origin must send every byte once, the slowest peer must receive every
// byte, and the N·F bytes received must all be sent by someone. A zero rate
// is unlimited and drops its term; with every rate unlimited the bound is 0.
func LowerBound(size units.Size, originUp units.Rate, peers []netlab.Link) time.Duration {
	f := float64(size)
	var b float64 // seconds
	if originUp > 0 {
		b = f / float64(originUp)
	}
	unlimitedUp := originUp == 0
	sumUp := float64(originUp)
	for _, p := range peers {
		unlimitedUp = unlimitedUp || p.Up == 0
		sumUp += float64(p.Up)
		if p.Down > 0 {
			b = math.Max(b, f/float64(p.Down))
		}
	}
	if !unlimitedUp {
		b = math.Max(b, float64(len(peers))*f/sumUp)
	}
	return time.Duration(b * float64(time.Second))
}
