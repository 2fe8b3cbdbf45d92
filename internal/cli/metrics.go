// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package cli

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pollen-dev/pollen/internal/daemon"
	"github.com/pollen-dev/pollen/internal/metrics"
	"github.com/pollen-dev/pollen/internal/scheduler"
	"github.com/pollen-dev/pollen/msg"
)

// The collectors below adapt the Stats() snapshots of the components a
// command runs into Prometheus metrics, read at scrape time. Each is a
// table of metrics and one function that reads a snapshot into them.

var (
	counter = prometheus.CounterValue
	gauge   = prometheus.GaugeValue
)

type stat[S any] struct {
	name, help string
	typ        prometheus.ValueType
	value      func(S) float64
}

// snapshotCollector returns a collector that reads one snapshot per scrape
// and reports every stat of it.
func snapshotCollector[S any](stats []stat[S], read func() S) *metrics.SnapshotCollector {
	ms := make([]metrics.Metric, len(stats))
	for i, s := range stats {
		ms[i] = metrics.Metric{Name: s.name, Help: s.help, Type: s.typ}
	}
	return metrics.NewSnapshotCollector(ms, func(emit func(int, metrics.Sample)) {
		snap := read()
		for i, s := range stats {
			emit(i, metrics.Sample{Value: s.value(snap)})
		}
	})
}

func schedulerCollector(s *scheduler.Scheduler) prometheus.Collector {
	type S = scheduler.Stats
	return snapshotCollector([]stat[S]{
		{"pollen_scheduler_tasks", "Tasks with at least one peer.", gauge, func(s S) float64 { return float64(s.Tasks) }},
		{"pollen_scheduler_peers", "Registered peers.", gauge, func(s S) float64 { return float64(s.Peers) }},
		{"pollen_scheduler_waiting_requests", "Piece requests parked until work appears.", gauge, func(s S) float64 { return float64(s.Waiting) }},
		{"pollen_scheduler_assigned_from_source_total", "Pieces assigned to be fetched from the source.", counter, func(s S) float64 { return float64(s.AssignedFromSource) }},
		{"pollen_scheduler_assigned_from_peers_total", "Pieces assigned to be fetched from a peer.", counter, func(s S) float64 { return float64(s.AssignedFromPeers) }},
		{"pollen_scheduler_pieces_done_total", "Pieces reported done.", counter, func(s S) float64 { return float64(s.PiecesDone) }},
		{"pollen_scheduler_piece_failures_total", "Failed piece fetches reported.", counter, func(s S) float64 { return float64(s.Failures) }},
		{"pollen_scheduler_corrupt_parents_total", "Parents excluded for serving a corrupt piece.", counter, func(s S) float64 { return float64(s.Corrupt) }},
		{"pollen_scheduler_assign_timeouts_total", "Assignments taken back after their timeout.", counter, func(s S) float64 { return float64(s.Timeouts) }},
		{"pollen_scheduler_peers_expired_total", "Peers dropped for missing heartbeats.", counter, func(s S) float64 { return float64(s.PeersExpired) }},
		{"pollen_scheduler_piece_requests_total", "RequestPieces received.", counter, func(s S) float64 { return float64(s.PieceRequests) }},
		{"pollen_scheduler_done_reports_total", "PieceDone messages received.", counter, func(s S) float64 { return float64(s.DoneReports) }},
		{"pollen_scheduler_done_in_requests_total", "Pieces reported done inside a RequestPieces.", counter, func(s S) float64 { return float64(s.DoneInRequests) }},
		{"pollen_scheduler_evicted_pieces_total", "Pieces peers reported evicted from their stream windows (or collected).", counter, func(s S) float64 { return float64(s.Evicted) }},
	}, s.Stats)
}

func daemonCollector(d *daemon.Daemon) prometheus.Collector {
	type S = daemon.Stats
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	return snapshotCollector([]stat[S]{
		{"pollen_daemon_source_bytes_total", "Piece bytes fetched from origins.", counter, func(s S) float64 { return float64(s.BytesFromSource) }},
		{"pollen_daemon_peer_bytes_total", "Piece bytes fetched from other daemons and verified.", counter, func(s S) float64 { return float64(s.BytesFromPeers) }},
		{"pollen_daemon_uploaded_bytes_total", "Piece bytes served to other daemons.", counter, func(s S) float64 { return float64(s.BytesUploaded) }},
		{"pollen_daemon_pieces_verified_total", "Pieces stored after verification.", counter, func(s S) float64 { return float64(s.PiecesVerified) }},
		{"pollen_daemon_pieces_failed_total", "Piece fetch attempts that failed.", counter, func(s S) float64 { return float64(s.PiecesFailed) }},
		{"pollen_daemon_pieces_corrupt_total", "Pieces from peers that failed verification.", counter, func(s S) float64 { return float64(s.PiecesCorrupt) }},
		{"pollen_daemon_pieces_served_total", "Pieces uploaded to other daemons.", counter, func(s S) float64 { return float64(s.PiecesServed) }},
		{"pollen_daemon_misses_total", "Piece requests answered with a miss (not held, busy).", counter, func(s S) float64 { return float64(s.Misses) }},
		{"pollen_daemon_uploads", "Pieces being uploaded now.", gauge, func(s S) float64 { return float64(s.Uploads) }},
		{"pollen_daemon_downloads", "Pieces being downloaded now.", gauge, func(s S) float64 { return float64(s.Downloads) }},
		{"pollen_daemon_active_tasks", "Downloads in progress.", gauge, func(s S) float64 { return float64(s.ActiveTasks) }},
		{"pollen_daemon_seeding_tasks", "Complete tasks being served.", gauge, func(s S) float64 { return float64(s.SeedingTasks) }},
		{"pollen_daemon_store_bytes", "Bytes held by the piece store.", gauge, func(s S) float64 { return float64(s.StoreBytes) }},
		{"pollen_daemon_registered", "1 while registered with a scheduler.", gauge, func(s S) float64 { return b2f(s.Registered) }},
	}, d.Stats)
}

// msgCollector reports a msg node's counters (and so the traffic of the
// wire muxes under it) with prefix "pollen_<role>_msg_".
func msgCollector(role string, n *msg.Node) prometheus.Collector {
	type S = msg.Stats
	p := "pollen_" + role + "_msg_"
	return snapshotCollector([]stat[S]{
		{p + "retransmits_total", "Requests sent again.", counter, func(s S) float64 { return float64(s.Retransmits) }},
		{p + "connects_total", "Connections dialed.", counter, func(s S) float64 { return float64(s.Connects) }},
		{p + "sessions_total", "Remote sessions opened at this node.", counter, func(s S) float64 { return float64(s.Sessions) }},
		{p + "duplicates_total", "Retransmitted requests recognised and not run again.", counter, func(s S) float64 { return float64(s.Duplicates) }},
		{p + "cached_replies_total", "Duplicates answered from the reply cache.", counter, func(s S) float64 { return float64(s.CachedReplies) }},
		{p + "queue_full_total", "Requests refused because the receive queue was full.", counter, func(s S) float64 { return float64(s.QueueFull) }},
		{p + "grant_violations_total", "Moves refused for lack of a grant.", counter, func(s S) float64 { return float64(s.GrantViolations) }},
		{p + "bad_frames_total", "Malformed or unexpected frames dropped.", counter, func(s S) float64 { return float64(s.BadFrames) }},
		{p + "aborts_total", "Connections aborted by wire.", counter, func(s S) float64 { return float64(s.Aborts) }},
		{p + "moved_in_bytes_total", "Bytes moved into this node by remote MoveFrom.", counter, func(s S) float64 { return float64(s.MovedFrom) }},
		{p + "moved_out_bytes_total", "Bytes moved out of this node by remote MoveTo.", counter, func(s S) float64 { return float64(s.MovedTo) }},
	}, n.Stats)
}
