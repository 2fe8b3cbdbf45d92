// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package cli

import "github.com/spf13/cobra"

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure pollen's parts against their baselines in the same run",
		Long: `bench runs pollen's own benchmarks. Every figure is measured beside its
baseline in the same run; compare ratios, not absolute numbers, across
machines. --json prints one JSON object per line.`,
	}
	cmd.AddCommand(
		// Each benchmark adds its constructor here.
		newBenchWireCmd(),
		newBenchDatapathCmd(),
		newBenchMsgCmd(),
		newBenchSwarmCmd(),
		newBenchPushCmd(),
		newBenchStreamCmd(),
	)
	return cmd
}
