// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package push

import (
	"crypto/tls"
	"fmt"
	"io/fs"
)

// DefaultMaxSize is the largest file a receiver accepts when
// [Config.MaxSize] is 0.
const DefaultMaxSize = 64 << 30 // 64 GiB

// Config configures a [Receiver]. It is plain data: internal/config fills
// it from flags, POLLEN_* variables and the YAML file. The zero value of
// every field but Dir and the authentication means "default".
type Config struct {
	// Dir is the directory pushed files are written under. Required; it
	// must exist. Nothing is ever created outside it.
	Dir string

	// MaxSize bounds the announced size of one file in bytes; 0 means
	// [DefaultMaxSize]. It is checked before any byte is written.
	MaxSize int64

	// Token is the secret a pusher must present in its [Offer]. It is
	// compared in constant time. At most MaxTokenLen bytes.
	Token string

	// VerifyPeer, if set, is the mutual-TLS hook: the push listener runs
	// over TLS with client certificates and calls it with the pusher's
	// connection state; a pusher it accepts needs no token. The msg
	// transport does not carry TLS yet, so nothing calls it today (see
	// docs/design/0004-stream-and-push.md).
	VerifyPeer func(cs tls.ConnectionState) error

	// Insecure accepts pushes from anyone when neither Token nor
	// VerifyPeer is set (`pollen receive --insecure`). Without it such a
	// configuration is refused.
	Insecure bool

	// Overwrite lets a pushed file replace an existing regular file of
	// the same name (atomically, by rename). Off by default: an existing
	// name fails with [ErrExists].
	Overwrite bool

	// FileMode is the permission of placed files; 0 means 0o644.
	FileMode fs.FileMode

	// DirMode is the permission of directories created for nested names;
	// 0 means 0o755.
	DirMode fs.FileMode
}

// withDefaults returns c with zero fields replaced by their defaults.
func (c Config) withDefaults() Config {
	if c.MaxSize == 0 {
		c.MaxSize = DefaultMaxSize
	}
	if c.FileMode == 0 {
		c.FileMode = 0o644
	}
	if c.DirMode == 0 {
		c.DirMode = 0o755
	}
	return c
}

// Validate reports whether c (after defaults) can build a [Receiver]. It
// does not look at the file system.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Dir == "":
		return fmt.Errorf("%w: no directory", ErrConfig)
	case c.MaxSize < 0:
		return fmt.Errorf("%w: negative max size %d", ErrConfig, c.MaxSize)
	case len(c.Token) > MaxTokenLen:
		return fmt.Errorf("%w: token of %d bytes, limit %d", ErrConfig, len(c.Token), MaxTokenLen)
	case c.FileMode&^fs.ModePerm != 0 || c.DirMode&^fs.ModePerm != 0:
		return fmt.Errorf("%w: modes %v, %v are not permission bits", ErrConfig, c.FileMode, c.DirMode)
	case c.Token == "" && c.VerifyPeer == nil && !c.Insecure:
		return ErrNoAuth
	}
	return nil
}
