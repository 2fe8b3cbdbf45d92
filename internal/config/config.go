// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package config

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// File is a parsed config file: one section per command, each a map from
// flag name to value.
type File map[string]map[string]any

// Load reads and parses the YAML config file at path. A missing path ("")
// yields an empty File.
func Load(path string) (File, error) {
	if path == "" {
		return File{}, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(b)
}

// Parse parses YAML config text.
func Parse(b []byte) (File, error) {
	var f File
	if err := yaml.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("config: parse: %w", err)
	}
	if f == nil {
		f = File{}
	}
	return f, nil
}

// Apply sets every flag in fs that was not given on the command line from
// the environment or from section of f, in that order. getenv is os.Getenv
// outside tests. Unknown keys in the section are an error, so a typo in the
// file does not silently fall back to a default.
func Apply(fs *pflag.FlagSet, section string, f File, getenv func(string) string) error {
	sec := f[section]
	for key := range sec {
		if fs.Lookup(key) == nil {
			return fmt.Errorf("config: %s.%s: %w", section, key, ErrUnknownKey)
		}
	}
	var errs []error
	fs.VisitAll(func(fl *pflag.Flag) {
		if fl.Changed {
			return
		}
		for _, name := range EnvNames(section, fl.Name) {
			if v := getenv(name); v != "" {
				if err := fs.Set(fl.Name, v); err != nil {
					errs = append(errs, fmt.Errorf("config: %s: %w", name, err))
				}
				return
			}
		}
		raw, ok := sec[fl.Name]
		if !ok {
			return
		}
		v, err := scalar(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("config: %s.%s: %w", section, fl.Name, err))
			return
		}
		if err := fs.Set(fl.Name, v); err != nil {
			errs = append(errs, fmt.Errorf("config: %s.%s: %w", section, fl.Name, err))
		}
	})
	return errors.Join(errs...)
}

// ErrUnknownKey is returned for a config file key that names no flag.
var ErrUnknownKey = errors.New("unknown key")

// EnvNames returns the environment variables that can set flag name of the
// command section, most specific first: POLLEN_<SECTION>_<NAME> then
// POLLEN_<NAME>.
func EnvNames(section, name string) []string {
	n := envPart(name)
	if section == "" {
		return []string{"POLLEN_" + n}
	}
	return []string{"POLLEN_" + envPart(section) + "_" + n, "POLLEN_" + n}
}

func envPart(s string) string {
	return strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(s))
}

// scalar turns a YAML value into the string a flag parses. Lists become
// comma-separated values, as slice flags expect.
func scalar(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			s, err := scalar(e)
			if err != nil {
				return "", err
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), nil
	case nil:
		return "", errors.New("empty value")
	default:
		return "", fmt.Errorf("unsupported value of type %T", v)
	}
}
