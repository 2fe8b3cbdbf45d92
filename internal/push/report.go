// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package push

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the pusher's record of one file at one receiver, a line of
// the `pollen push` summary.
type Report struct {
	Receiver string        // host:port as given to --to
	File     string        // the name offered
	Bytes    int64         // bytes the receiver got
	FromSeed int64         // of those, bytes that came from the pusher
	Elapsed  time.Duration // offer to verdict, as the pusher measured it
	Err      error         // nil: placed and verified
}

// ReportFrom builds the report of one receiver from the Send's outcome:
// sendErr is the transport's error (the receiver was not reached or did
// not answer), res the receiver's Result otherwise.
func ReportFrom(receiver, file string, res *Result, elapsed time.Duration, sendErr error) Report {
	r := Report{Receiver: receiver, File: file, Elapsed: elapsed, Err: sendErr}
	if sendErr == nil && res != nil {
		r.Bytes, r.FromSeed = int64(res.Bytes), int64(res.FromSeed)
		r.Err = res.Err()
	}
	if sendErr == nil && res == nil {
		r.Err = fmt.Errorf("%w: no result", ErrFetch)
	}
	return r
}

// ExitCode is `pollen push`'s exit status: 0 if every receiver placed
// every file, 1 if any failed (or there was nothing to report).
func ExitCode(reports []Report) int {
	if len(reports) == 0 || Failed(reports) > 0 {
		return 1
	}
	return 0
}

// Failed is how many of reports failed.
func Failed(reports []Report) int {
	n := 0
	for _, r := range reports {
		if r.Err != nil {
			n++
		}
	}
	return n
}

// WriteSummary writes the per-receiver table (receiver, file, bytes,
// from the pusher, time, rate, status) and a total line with how many
// times the file's bytes left the pusher, the figure that shows the swarm
// at work (about 1 however many receivers).
func WriteSummary(w io.Writer, reports []Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RECEIVER\tFILE\tBYTES\tFROM PUSHER\tTIME\tRATE\tSTATUS")
	var (
		fromSeed, files int64
		maxSize         = map[string]int64{}
	)
	for _, r := range reports {
		status := "ok"
		if r.Err != nil {
			status = "FAILED: " + oneLine(r.Err.Error())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Receiver, r.File, size(r.Bytes), size(r.FromSeed),
			r.Elapsed.Round(time.Millisecond), rate(r.Bytes, r.Elapsed), status)
		fromSeed += r.FromSeed
		maxSize[r.File] = max(maxSize[r.File], r.Bytes)
	}
	for _, n := range maxSize {
		files += n
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	copies := "-"
	if files > 0 {
		copies = fmt.Sprintf("%.2f", float64(fromSeed)/float64(files))
	}
	failed := Failed(reports)
	_, err := fmt.Fprintf(w, "%d of %d transfers ok, %d failed; the pusher uploaded %s (%s copies of the files)\n",
		len(reports)-failed, len(reports), failed, size(fromSeed), copies)
	return err
}

// size formats a byte count with a binary unit.
func size(n int64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	f, u := float64(n)/1024, 0
	for f >= 1024 && u < len(units)-1 {
		f /= 1024
		u++
	}
	return fmt.Sprintf("%.1f %ciB", f, units[u])
}

// rate formats bytes over d in MiB/s.
func rate(n int64, d time.Duration) string {
	if d <= 0 || n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f MiB/s", float64(n)/d.Seconds()/(1<<20))
}

// oneLine keeps an error text on one table row.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
