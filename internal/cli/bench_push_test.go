// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package cli

import (
	"os"
	"strings"
	"testing"
)

// TestBenchPushFlags checks what `pollen bench push` does before it builds
// a lab: without root a one-line reason and exit 1; as root a bad receiver
// count is a usage error. The benchmark itself runs in
// internal/swarmbench's TestPushSmall.
func TestBenchPushFlags(t *testing.T) {
	t.Parallel()
	code, _, errOut := run(t, "bench", "push", "--receivers", "0", "--pollen-binary", "/bin/true")
	if os.Geteuid() != 0 {
		if code != 1 || !strings.Contains(errOut, "needs root") {
			t.Errorf("without root: exit %d, stderr %q", code, errOut)
		}
		return
	}
	if code != 2 || !strings.Contains(errOut, "receivers") {
		t.Errorf("--receivers 0: exit %d, stderr %q", code, errOut)
	}
}
