// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package push_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/pollen-dev/pollen/internal/push"
)

// badNames are names a pusher might use to escape the directory or to
// confuse whoever lists it.
var badNames = []string{
	"",
	"/etc/passwd",
	"//x",
	"..",
	"../x",
	"a/../../x",
	"a/..",
	".",
	"./a",
	"a/./b",
	"a//b",
	"a/",
	"a\\..\\..\\x",
	"..\\x",
	"C:\\Windows\\x",
	"a\x00b",
	"a\nb",
	"a\rb",
	"\x1b[31mred",
	"a\x7fb",
	"a\u0085b",          // C1 control (NEL)
	"evil\u202etxt.exe", // right-to-left override
	"\xff\xfe",
	"a\xc0\xafb", // overlong '/'
	"\ufffd",
	strings.Repeat("a", 256),
	strings.Repeat("a/", 2049) + "a",
	strings.Repeat("a/", 64) + "a",
	".pollen-push-0123.tmp",
	"d/.pollen-push-x",
}

func TestCheckNameRejects(t *testing.T) {
	for _, name := range badNames {
		_, err := push.CheckName(name)
		var ne *push.NameError
		if !errors.As(err, &ne) || !errors.Is(err, push.ErrBadName) {
			t.Errorf("CheckName(%q) = %v, want *NameError", name, err)
			continue
		}
		if strings.ContainsAny(err.Error(), "\x00\n\r\x1b") {
			t.Errorf("error text carries raw control bytes: %q", err.Error())
		}
	}
}

func TestCheckNameAccepts(t *testing.T) {
	for name, want := range map[string][]string{
		"a":                            {"a"},
		"a/b/c.txt":                    {"a", "b", "c.txt"},
		".hidden":                      {".hidden"},
		"..a":                          {"..a"},
		"a..":                          {"a.."},
		"-rf":                          {"-rf"},
		"dir/.pollen-push":             {"dir", ".pollen-push"},
		"Ünïcödé/文件.bin":               {"Ünïcödé", "文件.bin"},
		"a b/c:d":                      {"a b", "c:d"},
		strings.Repeat("a", 255):       {strings.Repeat("a", 255)},
		strings.Repeat("a/", 63) + "a": slices.Repeat([]string{"a"}, 64),
	} {
		got, err := push.CheckName(name)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("CheckName(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
}
