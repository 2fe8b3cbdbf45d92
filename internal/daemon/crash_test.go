// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package daemon_test

// helperEnv makes the test binary run as a daemon process (see helperMain).
const helperEnv = "POLLEN_DAEMON_TEST_HELPER"

func helperMain() int { return 0 }
