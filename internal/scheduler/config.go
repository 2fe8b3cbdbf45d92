// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package scheduler

import (
	"fmt"
	"math"
	"time"

	"github.com/pollen-dev/pollen/internal/proto"
)

// Config is the scheduler's configuration. The zero value means defaults
// for every field.
type Config struct {
	// Token, when set, must equal Register.Token (compared in constant
	// time). Empty accepts every peer: use mutual TLS on the transport then.
	Token string

	// UploadSlots is how many pieces a peer of average upload capacity is
	// parent for at once (across its tasks); a peer that declared no
	// capacity gets exactly this many. 0 means 8: a parent's slot is held
	// for the child's whole fetch (round trips, verification, the report),
	// not only while bytes move, so a few more slots than links need keep
	// its upload busy.
	UploadSlots int

	// SlotBandwidth is the upload bandwidth (bytes/s) one slot stands for: a
	// peer gets its declared upload divided by SlotBandwidth, rounded, at
	// least 1 and at most MaxUploadSlots, so that every child of any parent
	// gets about the same rate. 0 means automatic: the mean declared upload
	// of the registered peers divided by UploadSlots.
	SlotBandwidth uint64

	// MaxUploadSlots caps a peer's upload slots. 0 means 16.
	MaxUploadSlots int

	// OriginConcurrency is the most source fetches of one task running at
	// once. The origin then serves each piece once unless a fetch fails.
	// Each fetch holds its slot for round trips, verification and the
	// report as well as the transfer, so enough must overlap for the
	// origin's link never to idle. 0 means 16.
	OriginConcurrency int

	// ParentsPerPiece is how many parents an assignment lists, best first;
	// the first one is counted against its upload slots, the others are
	// fallbacks. 0 means 3; at most proto.MaxParents.
	ParentsPerPiece int

	// MaxPending is how many pieces of one task may be assigned to one
	// peer and not yet reported done or failed. 0 means 16.
	MaxPending int

	// AssignTimeout is how long an assignment may stay unreported before it
	// is taken back (its parent slot freed, the piece offered elsewhere).
	// 0 means 60s.
	AssignTimeout time.Duration

	// HeartbeatInterval is how often daemons are told to send a Heartbeat.
	// 0 means 10s.
	HeartbeatInterval time.Duration

	// PeerTimeout is how long a peer may stay silent before it is dropped
	// as if it had left. 0 means 3×HeartbeatInterval.
	PeerTimeout time.Duration

	// MaxWait caps how long a RequestPieces may wait for work (its
	// WaitMillis). 0 means 30s.
	MaxWait time.Duration

	// RetryAfter is the retry hint in a Schedule that assigns nothing.
	// 0 means 1s.
	RetryAfter time.Duration

	// MaxPeers and MaxTasks bound the scheduler's memory: registrations and
	// new tasks beyond them are refused. 0 means 100000 and 10000.
	MaxPeers, MaxTasks int

	// Seed seeds the tie-breaking randomness; 0 means a random seed. Tests
	// set it to replay a run.
	Seed uint64
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.UploadSlots, 8)
	def(&c.MaxUploadSlots, 16)
	def(&c.OriginConcurrency, 16)
	def(&c.ParentsPerPiece, 3)
	def(&c.MaxPending, 16)
	def(&c.MaxPeers, 100000)
	def(&c.MaxTasks, 10000)
	defDur(&c.AssignTimeout, 60*time.Second)
	defDur(&c.HeartbeatInterval, 10*time.Second)
	defDur(&c.PeerTimeout, 3*c.HeartbeatInterval)
	defDur(&c.MaxWait, 30*time.Second)
	defDur(&c.RetryAfter, time.Second)
	return c
}

// Validate reports whether c (after defaults) is usable.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.UploadSlots < 0, c.MaxUploadSlots < 0, c.OriginConcurrency < 0, c.MaxPending < 0,
		c.MaxPeers < 0, c.MaxTasks < 0:
		return fmt.Errorf("scheduler: config: negative count")
	case c.ParentsPerPiece < 0 || c.ParentsPerPiece > proto.MaxParents:
		return fmt.Errorf("scheduler: config: ParentsPerPiece %d outside [1, %d]", c.ParentsPerPiece, proto.MaxParents)
	case c.MaxPending > proto.MaxBatch:
		return fmt.Errorf("scheduler: config: MaxPending %d over %d", c.MaxPending, proto.MaxBatch)
	case c.AssignTimeout < 0, c.HeartbeatInterval < 0, c.PeerTimeout < 0, c.MaxWait < 0, c.RetryAfter < 0:
		return fmt.Errorf("scheduler: config: negative duration")
	case c.PeerTimeout < c.HeartbeatInterval:
		return fmt.Errorf("scheduler: config: PeerTimeout %v shorter than HeartbeatInterval %v", c.PeerTimeout, c.HeartbeatInterval)
	case c.MaxWait > proto.MaxRetryMilli*time.Millisecond, c.RetryAfter > proto.MaxRetryMilli*time.Millisecond:
		return fmt.Errorf("scheduler: config: MaxWait or RetryAfter over %d ms", proto.MaxRetryMilli)
	}
	return nil
}

// slotsFor is the number of upload slots of a peer with the given declared
// capacity, when the mean declared capacity is mean (0: unknown).
func (c *Config) slotsFor(upload uint64, mean float64) int {
	per := float64(c.SlotBandwidth)
	if per == 0 {
		per = mean / float64(c.UploadSlots)
	}
	if upload == 0 || per <= 0 {
		return min(c.UploadSlots, c.MaxUploadSlots)
	}
	n := int(math.Round(float64(upload) / per))
	return max(1, min(n, c.MaxUploadSlots))
}
