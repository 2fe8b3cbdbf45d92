// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/pollen-dev/pollen/internal/config"
	"github.com/pollen-dev/pollen/internal/metrics"
)

// common holds the flags every service command takes.
type common struct {
	config   string
	logLevel string
}

// addCommonFlags adds --config and --log-level with level as the default.
func (c *common) addFlags(cmd *cobra.Command, level string) {
	f := cmd.Flags()
	f.StringVar(&c.config, "config", "", "YAML config file (flags and POLLEN_* variables override it)")
	f.StringVar(&c.logLevel, "log-level", level, "log level: debug, info, warn or error")
}

// setup fills the command's unset flags from POLLEN_* variables and the
// section of the config file, then returns the logger --log-level asks
// for, writing to stderr. Errors are usage errors.
func (c *common) setup(cmd *cobra.Command, section string) (*slog.Logger, error) {
	path := c.config
	if !cmd.Flags().Changed("config") {
		for _, name := range config.EnvNames(section, "config") {
			if v := os.Getenv(name); v != "" {
				path = v
				break
			}
		}
	}
	file, err := config.Load(path)
	if err != nil {
		return nil, usageError(err)
	}
	if err := config.Apply(cmd.Flags(), section, file, os.Getenv); err != nil {
		return nil, usageError(err)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, usageError(fmt.Errorf("--log-level: %w", err))
	}
	return slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level})), nil
}

// usageError marks err as a usage error: exit status 2.
func usageError(err error) error { return &ExitError{Code: 2, Err: err} }

// task is one long-running part of a command: a server's Run or Serve.
type task struct {
	name string
	run  func(ctx context.Context) error
}

// runTasks runs every task on its own goroutine until ctx is done or one
// of them returns; then it cancels the others and waits for all. It
// returns the first error that was not caused by the shutdown.
func runTasks(ctx context.Context, tasks ...task) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	stopped := errors.New("stopped")
	for _, t := range tasks {
		wg.Go(func() {
			err := t.run(ctx)
			if err != nil && context.Cause(ctx) == nil {
				once.Do(func() { first = fmt.Errorf("%s: %w", t.name, err) })
			}
			cancel(stopped)
		})
	}
	wg.Wait()
	return first
}

// metricsTask returns the task serving reg on addr, or none for "".
func metricsTask(addr string, reg *prometheus.Registry, log *slog.Logger) []task {
	if addr == "" {
		return nil
	}
	return []task{{"metrics", func(ctx context.Context) error {
		return metrics.Serve(ctx, addr, reg, log, func(a net.Addr) {
			log.Info("serving metrics", "addr", "http://"+a.String()+"/metrics")
		})
	}}}
}

// noArgs rejects positional arguments with a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if err := cobra.NoArgs(cmd, args); err != nil {
		return usageError(err)
	}
	return nil
}

// defaultSocket is where the daemon's local API listens and `pollen get`
// looks for it: /run/pollen/pollen.sock for root, else under
// $XDG_RUNTIME_DIR or a per-user directory in the temporary directory.
func defaultSocket() string {
	if os.Geteuid() == 0 {
		return "/run/pollen/pollen.sock"
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "pollen", "pollen.sock")
	}
	return filepath.Join(os.TempDir(), "pollen-"+strconv.Itoa(os.Geteuid()), "pollen.sock")
}

// defaultDataDir is the daemon's piece store: /var/lib/pollen for root,
// else pollen in the user's cache directory.
func defaultDataDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/pollen"
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "pollen")
	}
	return filepath.Join(os.TempDir(), "pollen-"+strconv.Itoa(os.Geteuid()), "data")
}
