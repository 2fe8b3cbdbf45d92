// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package daemon

import "github.com/pollen-dev/pollen/internal/ratelimit"

// newLimiter returns the daemon's bucket for rate bytes/s, nil (unlimited)
// for rate 0. The burst is a quarter second of traffic, at least 256 KiB.
func newLimiter(rate int64) *ratelimit.Bucket {
	return ratelimit.New(rate, max(rate/4, 256<<10))
}
