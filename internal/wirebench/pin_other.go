// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

//go:build !linux

package wirebench

import (
	"errors"
	"os/exec"
	"runtime"
	"strconv"
)

var errNoPinning = errors.New("wirebench: CPU pinning is only supported on Linux")

// PinCPU reports that pinning is not supported.
func PinCPU() (int, error) { return -1, errNoPinning }

func affinityList() string { return "0-" + strconv.Itoa(runtime.NumCPU()-1) }

func startPinned(c *exec.Cmd, cpu int) error {
	if cpu >= 0 {
		return errNoPinning
	}
	return c.Start()
}

// PinProcess reports that pinning is not supported.
func PinProcess(int) (func() error, error) { return nil, errNoPinning }
