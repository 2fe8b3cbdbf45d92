// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package cli

import (
	"encoding/json"
	"errors"

	"github.com/spf13/cobra"

	"github.com/pollen-dev/pollen/internal/demo"
	"github.com/pollen-dev/pollen/internal/units"
)

func newDemoCmd() *cobra.Command {
	var (
		c          common
		peers      int
		size       = units.Size(demo.DefaultSize)
		originRate = units.Rate(demo.DefaultOriginRate)
		peerRate   = units.Rate(demo.DefaultPeerRate)
		peerDown   units.Rate
		asJSON     bool
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a whole pollen swarm in this process and distribute a generated file",
		Long: `demo starts an HTTP origin, a scheduler and --peers daemons on loopback in
this process, generates a --size file in a temporary directory and has every
daemon download it at once. The origin's and every daemon's upload are rate
limited, so the time is set by the links, not by this machine's CPUs. It
verifies every copy and prints each peer's time, the bytes the origin served
and the fluid lower bound max(F/u_origin, F/d_min, N·F/(u_origin + Σ u_peers)).
Nothing is left on disk. Exit status 1 if a copy does not verify.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := c.setup(cmd, "demo")
			if err != nil {
				return err
			}
			if peers < 1 || size < 1 || originRate < 1 || peerRate < 1 {
				return usageError(errors.New("demo: --peers, --size and the upload rates must be positive"))
			}
			cfg := demo.Config{
				Peers:            peers,
				Size:             int64(size),
				OriginRate:       int64(originRate),
				PeerRate:         int64(peerRate),
				PeerDownloadRate: int64(peerDown),
				Progress:         cmd.ErrOrStderr(),
				Logger:           log,
			}
			if err := cfg.Validate(); err != nil {
				return usageError(err)
			}
			res, err := demo.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if asJSON {
				err = json.NewEncoder(cmd.OutOrStdout()).Encode(res)
			} else {
				err = res.WriteText(cmd.OutOrStdout())
			}
			if err == nil && !res.Verified {
				err = errors.New("demo: a copy does not match the file")
			}
			return err
		},
	}
	c.addFlags(cmd, "warn")
	f := cmd.Flags()
	f.IntVar(&peers, "peers", demo.DefaultPeers, "number of daemons")
	f.Var(&size, "size", "size of the generated file")
	f.Var(&originRate, "origin-rate", "the origin's upload rate")
	f.Var(&peerRate, "peer-rate", "every daemon's upload rate")
	f.Var(&peerDown, "peer-download-rate", "every daemon's download rate (0: unlimited)")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}
