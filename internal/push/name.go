// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package push

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Name limits.
const (
	MaxNameLen      = 4096 // bytes of a whole relative name
	MaxComponentLen = 255  // bytes of one path component (NAME_MAX)
	MaxDepth        = 64   // components in one name
)

// tempPrefix starts the hidden temporary files a [File] writes; pushed
// names may not use it, so a push can never collide with or replace one.
const tempPrefix = ".pollen-push-"

// CheckName checks a name sent by a pusher and returns its components.
// A good name is a relative, slash-separated path of valid UTF-8 with no
// empty, "." or ".." component, no backslash, no control or bidirectional
// formatting character, within [MaxNameLen], [MaxComponentLen] and
// [MaxDepth], whose last component does not start with the receiver's
// temporary prefix. Anything else is a [*NameError].
func CheckName(name string) ([]string, error) {
	bad := func(reason string) ([]string, error) {
		return nil, &NameError{Name: name, Reason: reason}
	}
	switch {
	case name == "":
		return bad("empty")
	case len(name) > MaxNameLen:
		return bad("longer than 4096 bytes")
	case !utf8.ValidString(name):
		return bad("not valid UTF-8")
	case strings.HasPrefix(name, "/"):
		return bad("absolute path")
	case strings.ContainsRune(name, '\\'):
		return bad("backslash")
	}
	for _, r := range name {
		if unicode.IsControl(r) || isBidi(r) || r == utf8.RuneError {
			return bad("control or formatting character")
		}
	}
	parts := strings.Split(name, "/")
	if len(parts) > MaxDepth {
		return bad("too many components")
	}
	for _, p := range parts {
		switch {
		case p == "":
			return bad("empty component")
		case p == "." || p == "..":
			return bad("dot component")
		case len(p) > MaxComponentLen:
			return bad("component longer than 255 bytes")
		}
	}
	if strings.HasPrefix(parts[len(parts)-1], tempPrefix) {
		return bad("reserved prefix " + tempPrefix)
	}
	return parts, nil
}

// isBidi reports bidirectional embedding, override and isolate controls,
// which can make a listed name read differently from what it is.
func isBidi(r rune) bool {
	return r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 || r == 0x200e || r == 0x200f || r == 0xfeff
}
