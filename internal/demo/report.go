// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package demo

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/pollen-dev/pollen/internal/units"
)

// WriteText prints r for people: one line per peer, then the summary.
func (r *Result) WriteText(w io.Writer) error {
	down := "unlimited"
	if r.PeerDownloadRate > 0 {
		down = units.Rate(r.PeerDownloadRate).String()
	}
	fmt.Fprintf(w, "pollen demo: %d peers, %s file in %s pieces; upload origin %s, peers %s; download %s\n\n",
		r.Peers, units.Size(r.FileBytes), units.Size(r.PieceBytes), units.Rate(r.OriginRate),
		units.Rate(r.PeerRate), down)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "peer\ttime\tfrom origin\tfrom peers\tuploaded\tverified\t\n")
	for _, p := range r.PerPeer {
		fmt.Fprintf(tw, "%d\t%.2fs\t%s\t%s\t%s\t%s\t\n", p.Peer, p.Seconds, units.Size(p.FromOrigin),
			units.Size(p.FromPeers), units.Size(p.Uploaded), yesNo(p.Verified))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	verdict := "every copy verified (SHA-256 and byte for byte)"
	if !r.Verified {
		verdict = "NOT every copy verified"
	}
	_, err := fmt.Fprintf(w, "\nall done in %.2fs; lower bound %.2fs (ratio %.2f); origin served %s (%.2fx the file); %s\n",
		r.AllDoneSeconds, r.LowerBoundSeconds, r.Ratio, units.Size(r.OriginBytesServed),
		float64(r.OriginBytesServed)/float64(max(r.FileBytes, 1)), verdict)
	return err
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
