// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wirebench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
)

// TestMain turns the test binary into the benchmark server when it is
// re-executed by StartServer (TestRunChildServer).
func TestMain(m *testing.M) {
	if IsChild() {
		if err := ServeMain(context.Background(), []Transport{TCP(), Wire(WireOptions{})}, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// checkLeaks fails t if goroutines started during the test are still
// running shortly after it.
func checkLeaks(t testing.TB) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<20)
			t.Errorf("%d goroutines leaked:\n%s", n-before, buf[:runtime.Stack(buf, true)])
		}
	})
}
