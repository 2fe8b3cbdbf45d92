// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/pollen-dev/pollen/internal/units"
	"github.com/spf13/pflag"
)

type flags struct {
	fs     *pflag.FlagSet
	listen *string
	rate   units.Rate
	to     *[]string
	quiet  *bool
}

func newFlags(t *testing.T, args ...string) *flags {
	t.Helper()
	f := &flags{fs: pflag.NewFlagSet("daemon", pflag.ContinueOnError)}
	f.listen = f.fs.String("listen", ":7601", "")
	f.rate = 50e6 / 8
	f.fs.Var(&f.rate, "upload-rate", "")
	f.to = f.fs.StringSlice("to", nil, "")
	f.quiet = f.fs.Bool("quiet", false, "")
	if err := f.fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return f
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestPrecedence(t *testing.T) {
	file, err := Parse([]byte(`
daemon:
  listen: ":9000"
  upload-rate: 10Mbit
  to: [a:1, b:2]
  quiet: true
`))
	if err != nil {
		t.Fatal(err)
	}

	// File only.
	f := newFlags(t)
	if err := Apply(f.fs, "daemon", file, env(nil)); err != nil {
		t.Fatal(err)
	}
	if *f.listen != ":9000" || f.rate != 10e6/8 || len(*f.to) != 2 || !*f.quiet {
		t.Errorf("from file: listen=%q rate=%d to=%v quiet=%v", *f.listen, f.rate, *f.to, *f.quiet)
	}

	// The environment beats the file; the specific name beats the general one.
	f = newFlags(t)
	e := env(map[string]string{"POLLEN_LISTEN": ":1", "POLLEN_DAEMON_LISTEN": ":2", "POLLEN_UPLOAD_RATE": "1Gbit"})
	if err := Apply(f.fs, "daemon", file, e); err != nil {
		t.Fatal(err)
	}
	if *f.listen != ":2" || f.rate != 1e9/8 {
		t.Errorf("from env: listen=%q rate=%d", *f.listen, f.rate)
	}

	// The command line beats both.
	f = newFlags(t, "--listen", ":3")
	if err := Apply(f.fs, "daemon", file, e); err != nil {
		t.Fatal(err)
	}
	if *f.listen != ":3" {
		t.Errorf("from flag: listen=%q", *f.listen)
	}

	// Nothing set: defaults stay.
	f = newFlags(t)
	if err := Apply(f.fs, "daemon", File{}, env(nil)); err != nil {
		t.Fatal(err)
	}
	if *f.listen != ":7601" || f.rate != 50e6/8 {
		t.Errorf("defaults: listen=%q rate=%d", *f.listen, f.rate)
	}
}

func TestErrors(t *testing.T) {
	file, err := Parse([]byte("daemon:\n  lisen: x\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := Apply(newFlags(t).fs, "daemon", file, env(nil)); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("typo in file: err = %v, want ErrUnknownKey", err)
	}
	file, _ = Parse([]byte("daemon:\n  upload-rate: fast\n"))
	if err := Apply(newFlags(t).fs, "daemon", file, env(nil)); !errors.Is(err, units.ErrSyntax) {
		t.Errorf("bad rate in file: err = %v, want units.ErrSyntax", err)
	}
	if err := Apply(newFlags(t).fs, "daemon", File{}, env(map[string]string{"POLLEN_UPLOAD_RATE": "x"})); !errors.Is(err, units.ErrSyntax) {
		t.Errorf("bad rate in env: err = %v, want units.ErrSyntax", err)
	}
	if _, err := Parse([]byte("daemon: [")); err == nil {
		t.Error("Parse accepted malformed YAML")
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want ErrNotExist", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("daemon:\n  listen: \":1\"\n"))
	f.Add([]byte("scheduler: {listen: ':7600'}\n"))
	f.Add([]byte("- a\n- b\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse(b)
		if err != nil {
			return
		}
		fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
		fs.String("listen", "", "")
		_ = Apply(fs, "daemon", file, env(nil))
	})
}
