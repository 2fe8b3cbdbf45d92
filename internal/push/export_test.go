// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package push

import "io"

// NewWithOSRoot is New using the os.Root implementation even on Linux.
func NewWithOSRoot(cfg Config) (*Receiver, error) { return newReceiver(cfg, openOSRoot) }

// SetPreallocate turns preallocation of the announced size on or off.
func (r *Receiver) SetPreallocate(on bool) { r.prealloc = on }

// WrapWriter puts wrap around the file's writer (fault injection).
func (f *File) WrapWriter(wrap func(io.Writer) io.Writer) { f.w = wrap(f.w) }
