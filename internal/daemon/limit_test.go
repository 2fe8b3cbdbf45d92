// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package daemon

import (
	"testing"
	"time"
)

// TestConfig checks defaults and validation.
func TestConfig(t *testing.T) {
	if err := (Config{}).Validate(); err == nil {
		t.Fatal("a config without DataDir validated")
	}
	bad := []Config{
		{DataDir: "d", Listen: "nonsense"},
		{DataDir: "d", UploadRate: -1},
		{DataDir: "d", PieceSize: 32 << 20},
		{DataDir: "d", Concurrency: -1},
		{DataDir: "d", PieceTimeout: -time.Second},
	}
	for _, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v validated", c)
		}
	}
	c := Config{DataDir: "d", Concurrency: 2}.withDefaults()
	if c.Listen != defaultListen || c.SourceConcurrency != 2 || c.UploadSlots != defaultUploadSlots || c.StallTimeout != defaultStall {
		t.Fatalf("defaults %+v", c)
	}
}
