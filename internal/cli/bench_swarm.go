// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package cli

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/pollen-dev/pollen/internal/report"
	"github.com/pollen-dev/pollen/internal/swarmbench"
	"github.com/pollen-dev/pollen/internal/units"
)

func newBenchSwarmCmd() *cobra.Command {
	var (
		c           common
		peers       int
		size        = units.Size(64 << 20)
		originRate  = units.Rate(100e6 / 8)
		peerRate    = units.Rate(100e6 / 8)
		peerDown    = units.Rate(200e6 / 8)
		asJSON      bool
		baselines   bool
		loopback    bool
		timeout     time.Duration
		pollenBin   string
		pieceSize   units.Size
		installPkgs bool
		systemNames []string
		wholeDigest bool
		dir         string
		tsoSegs     int
		noSwarm     bool
		schedArgs   []string
		daemonArgs  []string
		pollenLogs  string
	)
	cmd := &cobra.Command{
		Use:   "swarm",
		Short: "Copy one file to N hosts in network namespaces: pollen against BitTorrent and nginx",
		Long: `swarm builds N+1 hosts in network namespaces with rate-limited links (tc),
one of them the origin, generates a --size file on it and copies it to the
N peers with pollen (scheduler, daemons, pollen get), then, in the same lab,
with a BitTorrent swarm (opentracker, mktorrent, aria2c) and with nginx
serving N concurrent curl clients. For each it reports the time until every
copy is complete and verified beside the fluid lower bound
max(F/u_origin, F/d_min, N·F/(u_origin + Σ u_peers)), the bytes the origin's
link sent beside the file's size, and the CPU time of all the system's
processes. Needs root and the Debian packages aria2, opentracker, mktorrent,
nginx-light and curl (--install-packages installs them).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := c.setup(cmd, "bench.swarm")
			if err != nil {
				return err
			}
			if pollenBin, err = labBinary("bench swarm", pollenBin); err != nil {
				return err
			}
			if installPkgs {
				if err := swarmbench.InstallPackages(cmd.Context(), cmd.ErrOrStderr()); err != nil {
					return err
				}
			}
			if !baselines {
				systemNames = []string{"pollen"}
			}
			var systems []swarmbench.System
			for _, name := range systemNames {
				switch name {
				case "pollen":
					systems = append(systems, swarmbench.Pollen{
						Binary: pollenBin, PieceSize: int64(pieceSize), WholeDigest: wholeDigest, Logger: log,
						SchedulerArgs: schedArgs, DaemonArgs: daemonArgs, LogDir: pollenLogs,
					})
				case "bittorrent":
					systems = append(systems, swarmbench.BitTorrent{})
				case "nginx":
					systems = append(systems, swarmbench.HTTP{})
				default:
					return usageError(fmt.Errorf("--systems: unknown system %q (pollen, bittorrent, nginx)", name))
				}
			}
			if len(systems) == 0 {
				return usageError(errors.New("--systems: none given"))
			}
			cfg := swarmbench.Config{
				Peers:        peers,
				Size:         size,
				OriginUp:     originRate,
				PeerUp:       peerRate,
				PeerDown:     peerDown,
				Systems:      systems,
				Loopback:     loopback,
				NoSwarm:      noSwarm,
				PollenBinary: pollenBin,
				Timeout:      timeout,
				Dir:          dir,
				MinTSOSegs:   tsoSegs,
				Logger:       log,
			}
			if err := cfg.Validate(); err != nil {
				return usageError(err)
			}
			w := report.NewWriter(cmd.OutOrStdout(), asJSON)
			if err := swarmbench.Run(cmd.Context(), cfg, w); err != nil {
				return err
			}
			return w.Flush()
		},
	}
	c.addFlags(cmd, "info")
	f := cmd.Flags()
	f.IntVar(&peers, "peers", 8, "number of peer hosts (N); the origin is one more")
	f.Var(&size, "size", "size of the file (F)")
	f.Var(&originRate, "origin-rate", "the origin's upload rate")
	f.Var(&peerRate, "peer-rate", "every peer's upload rate")
	f.Var(&peerDown, "peer-download-rate", "every host's download rate")
	f.BoolVar(&asJSON, "json", false, "print one JSON object per result")
	f.BoolVar(&baselines, "baselines", true, "also run BitTorrent and nginx+curl in the same lab (false: --systems pollen)")
	f.StringSliceVar(&systemNames, "systems", []string{"pollen", "bittorrent", "nginx"},
		"systems to run in turn in the same lab: pollen, bittorrent, nginx (nginx takes N times the bound)")
	f.IntVar(&tsoSegs, "min-tso-segs", 0, "the hosts' net.ipv4.tcp_min_tso_segs, segments per GSO packet on the shaped links (0: 44, one 64 KiB packet; -1: the kernel's 2)")
	f.StringVar(&dir, "dir", "", "where the run's files go: the file, every copy and every piece store (default: $TMPDIR or /tmp; /dev/shm keeps a shared disk out of the measurement)")
	f.StringArrayVar(&schedArgs, "pollen-scheduler-arg", nil, "extra argument for `pollen scheduler` (repeatable; tuning experiments)")
	f.StringArrayVar(&daemonArgs, "pollen-daemon-arg", nil, "extra argument for every `pollen daemon` (repeatable; tuning experiments)")
	f.StringVar(&pollenLogs, "pollen-logs", "", "keep pollen's scheduler and daemon logs in this directory (with --pollen-daemon-arg=--log-level=debug: every piece's timeline)")
	f.BoolVar(&wholeDigest, "pollen-digest", false,
		"pollen's daemons also check the whole file's SHA-256 (a second hash pass), besides the per-piece manifest")
	f.BoolVar(&loopback, "loopback", false, "also measure one transfer on loopback: iperf3, nginx to curl, pollen daemon to daemon")
	f.BoolVar(&noSwarm, "no-swarm", false, "skip the swarm (with --loopback: only the single-transfer figures)")
	f.DurationVar(&timeout, "timeout", 0, "bound on each system's run (0: twice the longer of 5 times the bound and N·F/u_origin, plus a minute)")
	f.Var(&pieceSize, "piece-size", "pollen's piece size (0: chosen from the file size)")
	f.StringVar(&pollenBin, "pollen-binary", "", "pollen executable to run in the hosts (default: this one)")
	f.BoolVar(&installPkgs, "install-packages", false, "install the baselines' Debian packages with apt-get first")
	return cmd
}

// labBinary checks that a benchmark on network namespaces can run here
// (it needs root) and returns the pollen binary its hosts run: bin if set,
// else this executable.
func labBinary(name, bin string) (string, error) {
	if os.Geteuid() != 0 {
		return "", fmt.Errorf("%s: skipped: needs root (it builds network namespaces and shapes links with tc)", name)
	}
	if bin != "" {
		return bin, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("%s: find the pollen binary: %w", name, err)
	}
	return exe, nil
}
