// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewRegistry returns a registry holding the Go runtime and process
// collectors, ready for pollen's own collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// Sample is one value of a snapshot metric with its label values.
type Sample struct {
	Value  float64
	Labels []string
}

// Metric describes one metric a [SnapshotCollector] reports.
type Metric struct {
	Name   string // full name, e.g. "pollen_wire_rx_messages_total"
	Help   string
	Type   prometheus.ValueType // prometheus.CounterValue or prometheus.GaugeValue
	Labels []string
}

// SnapshotCollector is a Prometheus collector whose values come from a
// function called at scrape time, typically reading a Stats() snapshot. It
// is safe for concurrent use if read is.
type SnapshotCollector struct {
	metrics []Metric
	descs   []*prometheus.Desc
	read    func(emit func(metric int, s Sample))
}

// NewSnapshotCollector returns a collector for metrics whose samples read
// emits at scrape time; emit's first argument indexes metrics.
func NewSnapshotCollector(metrics []Metric, read func(emit func(metric int, s Sample))) *SnapshotCollector {
	c := &SnapshotCollector{metrics: metrics, read: read}
	for _, m := range metrics {
		c.descs = append(c.descs, prometheus.NewDesc(m.Name, m.Help, m.Labels, nil))
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *SnapshotCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *SnapshotCollector) Collect(ch chan<- prometheus.Metric) {
	c.read(func(i int, s Sample) {
		if i < 0 || i >= len(c.descs) {
			return
		}
		m, err := prometheus.NewConstMetric(c.descs[i], c.metrics[i].Type, s.Value, s.Labels...)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(c.descs[i], err)
			return
		}
		ch <- m
	})
}

// Serve serves reg on addr at /metrics until ctx is done, then shuts the
// server down. It returns nil after a shutdown caused by ctx. ready, if not
// nil, is called with the bound address once the listener is open (useful
// with port 0).
func Serve(ctx context.Context, addr string, reg *prometheus.Registry, logger *slog.Logger, ready func(net.Addr)) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics: listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if ready != nil {
		ready(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("metrics: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("metrics: shutdown: %w", err)
	}
	return nil
}
