// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package push

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"fmt"
	"sync"

	"github.com/pollen-dev/pollen/internal/core"
)

// Receiver places pushed files under [Config.Dir], safely: see the
// package comment. It is safe for concurrent use; each [File] it creates
// is used by one goroutine.
type Receiver struct {
	cfg       Config
	tokenHash [sha256.Size]byte
	prealloc  bool // reserve the announced size up front (tests turn it off)

	mu     sync.RWMutex // guards the following fields; held shared while root is used
	root   rootDir
	closed bool
}

// New opens cfg.Dir for receiving. It fails with [ErrNoAuth] if no token,
// no peer verifier and not Insecure is configured.
func New(cfg Config) (*Receiver, error) { return newReceiver(cfg, openRoot) }

func newReceiver(cfg Config, open func(string) (rootDir, error)) (*Receiver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	root, err := open(cfg.Dir)
	if err != nil {
		return nil, err
	}
	return &Receiver{cfg: cfg, tokenHash: sha256.Sum256([]byte(cfg.Token)), prealloc: true, root: root}, nil
}

// Dir returns the directory files are placed under.
func (r *Receiver) Dir() string { return r.cfg.Dir }

// MaxSize returns the largest file accepted.
func (r *Receiver) MaxSize() int64 { return r.cfg.MaxSize }

// Authorize checks a pusher's credentials: token is the one in its
// [Offer], cs the TLS state of its connection or nil. It returns nil if
// the token matches [Config.Token] (compared in constant time, over
// SHA-256 digests so that not even the length leaks), or if cs is not nil
// and [Config.VerifyPeer] accepts it, or if neither is configured and the
// receiver is Insecure; otherwise an error wrapping [ErrUnauthorized].
func (r *Receiver) Authorize(token string, cs *tls.ConnectionState) error {
	if r.cfg.Token != "" {
		got := sha256.Sum256([]byte(token))
		if subtle.ConstantTimeCompare(got[:], r.tokenHash[:]) == 1 {
			return nil
		}
	}
	if r.cfg.VerifyPeer != nil && cs != nil {
		if err := r.cfg.VerifyPeer(*cs); err != nil {
			return fmt.Errorf("%w: peer certificate: %w", ErrUnauthorized, err)
		}
		return nil
	}
	if r.cfg.Token == "" && r.cfg.VerifyPeer == nil && r.cfg.Insecure {
		return nil
	}
	if token == "" {
		return fmt.Errorf("%w: no token", ErrUnauthorized)
	}
	return fmt.Errorf("%w: wrong token", ErrUnauthorized)
}

// Accept authorizes an offer (see [Receiver.Authorize]) and creates the
// file it announces (see [Receiver.Create]).
func (r *Receiver) Accept(o *Offer, cs *tls.ConnectionState) (*File, error) {
	if err := r.Authorize(o.Token, cs); err != nil {
		return nil, err
	}
	return r.Create(o.Name, o.Layout.Size, o.Digest)
}

// Create starts receiving the file called name (relative, checked by
// [CheckName]) of size bytes whose SHA-256 is digest. Before any byte is
// written it checks the size against [Config.MaxSize], creates the
// missing directories of name beneath the root without following links,
// refuses an existing destination unless Overwrite, and reserves size
// bytes on disk (a full disk is [ErrDiskFull] here, not halfway). The
// bytes go to a hidden temporary file beside the destination until
// [File.Commit].
func (r *Receiver) Create(name string, size int64, digest core.Digest) (*File, error) {
	parts, err := CheckName(name)
	if err != nil {
		return nil, err
	}
	switch {
	case size < 0:
		return nil, fmt.Errorf("%w: negative size %d", ErrBadOffer, size)
	case size > r.cfg.MaxSize:
		return nil, fmt.Errorf("%w: %q is %d bytes, limit %d", ErrTooLarge, name, size, r.cfg.MaxSize)
	case digest.IsZero():
		return nil, fmt.Errorf("%w: %q has no digest", ErrBadOffer, name)
	}
	r.mu.RLock()
	if r.closed {
		r.mu.RUnlock()
		return nil, ErrClosed
	}
	d, err := r.root.openDir(parts[:len(parts)-1], r.cfg.DirMode)
	r.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	final := parts[len(parts)-1]
	if !r.cfg.Overwrite {
		if ok, err := d.exists(final); err != nil || ok {
			_ = d.close()
			if err != nil {
				return nil, diskErr("stat "+name, err)
			}
			return nil, fmt.Errorf("%w: %s", ErrExists, name)
		}
	}
	f, tmp, err := d.createTemp()
	if err != nil {
		_ = d.close()
		return nil, err
	}
	_ = holdTemp(f) // best effort: without the lock RemoveStale goes by age alone
	file := &File{
		name: name, final: final, dir: d, f: f, w: f, tmp: tmp, size: size, want: digest,
		mode: r.cfg.FileMode, overwrite: r.cfg.Overwrite, h: sha256.New(),
	}
	if r.prealloc {
		if err := preallocate(f, size); err != nil {
			return nil, file.abort(fmt.Errorf("%q: %w", name, err))
		}
	}
	return file, nil
}

// Close stops the receiver: later Creates fail with [ErrClosed]. Files
// already created can still be written, committed and aborted. Close is
// idempotent.
func (r *Receiver) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	return r.root.close()
}
