// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msgbench

import "github.com/pollen-dev/pollen/internal/report"

// fitFrom is the smallest size in the penalty fit (the V paper's range
// starts at 64 bytes).
const fitFrom = 64

// derive turns the medians into results: per transport the penalty P(n) =
// RTT/2 of the raw echo and its fitted line, Send/Receive/Reply against the
// raw ping-pong of the same size with pollen's overhead above 2·P(n), and
// MoveFrom against a raw push of the same bytes; then M1–M3.
func derive(s series, sizes []int) []report.Result {
	res := func(c, metric, unit string, v float64, better report.Better) report.Result {
		return report.Result{Bench: "msg", Case: c, Metric: metric, Unit: unit, Value: v, Better: better}
	}
	var out []report.Result
	for _, tr := range []string{tcpName, unixName} {
		var xs, ys []float64
		for _, n := range sizes {
			p := s.med(key("rtt", tr, n)) / 2
			out = append(out, res("penalty-"+tr+"-"+sizeName(n), "half-rtt", "us", p, report.Lower))
			if n >= fitFrom {
				xs, ys = append(xs, float64(n)), append(ys, p)
			}
		}
		a, b, err := Fit(xs, ys)
		if err == nil {
			out = append(out,
				res("fit-"+tr, "fixed-cost", "us", a, report.Lower),
				res("fit-"+tr, "per-byte", "ns/B", b*1e3, report.Lower))
		}
		for _, n := range sizes {
			if n > MaxMessage {
				continue // messages are at most MaxMessage
			}
			srr := s.med(key("srr", tr, n))
			out = append(out, res("srr-"+tr+"-"+sizeName(n), "latency", "us", srr, report.Lower).
				WithBaseline(tr, s.med(key("rtt", tr, n))))
			if err == nil {
				out = append(out, res("overhead-"+tr+"-"+sizeName(n), "above-2P", "us", srr-2*(a+b*float64(n)), report.Lower))
			}
		}
		for _, n := range sizes {
			mb := func(what string) float64 {
				if us := s.med(key(what, tr, n)); us > 0 {
					return float64(n) / us // bytes per µs = MB/s
				}
				return 0
			}
			out = append(out, res("movefrom-"+tr+"-"+sizeName(n), "throughput", "MB/s", mb("movefrom"), report.Higher).
				WithBaseline(tr, mb("push")))
		}
	}
	for _, n := range sizes {
		if n <= MaxMessage {
			out = append(out, res("srr-inproc-"+sizeName(n), "latency", "us", s.med(key("srr", inprocName, n)), report.Lower))
		}
	}
	for _, n := range sizes {
		if us := s.med(key("movefrom", inprocName, n)); us > 0 {
			out = append(out, res("movefrom-inproc-"+sizeName(n), "throughput", "MB/s", float64(n)/us, report.Higher))
		}
	}
	// M1, M2 at the smallest size (32 bytes, the V message).
	n := sizes[0]
	local := s.med(key("srr", inprocName, n))
	if local > 0 {
		for _, tr := range []string{tcpName, unixName} {
			out = append(out, res("m1-"+tr+"-vs-inproc-"+sizeName(n), "ratio", "x", s.med(key("srr", tr, n))/local, report.Lower))
		}
	}
	remote := s.med(key("srr", tcpName, n))
	over := remote - local - s.med(key("rtt", tcpName, n))
	out = append(out,
		res("m2-overhead-"+sizeName(n), "srr-local-2P", "us", over, report.Lower),
		res("m2-overhead-"+sizeName(n), "share-of-srr", "%", 100*over/remote, report.Lower))
	for _, n := range PageSizes {
		out = append(out, res("m3-page-read-"+sizeName(n), "latency", "us", s.med(key("page-rws", tcpName, n)), report.Lower).
			WithBaseline("moveto", s.med(key("page-moveto", tcpName, n))))
	}
	return out
}
