// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package metrics

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestServeSnapshot(t *testing.T) {
	reg := NewRegistry()
	var rx float64 = 41
	reg.MustRegister(NewSnapshotCollector([]Metric{
		{Name: "pollen_test_rx_messages_total", Help: "Messages received.", Type: prometheus.CounterValue, Labels: []string{"conn"}},
		{Name: "pollen_test_queue_depth", Help: "Queued messages.", Type: prometheus.GaugeValue},
	}, func(emit func(int, Sample)) {
		emit(0, Sample{Value: rx, Labels: []string{"127.0.0.1:1"}})
		emit(0, Sample{Value: 1, Labels: []string{"127.0.0.1:2"}})
		emit(1, Sample{Value: 3})
	}))

	ctx, cancel := context.WithCancel(t.Context())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, "127.0.0.1:0", reg, nil, func(a net.Addr) { addrc <- a }) }()
	addr := <-addrc

	resp, err := http.Get("http://" + addr.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`pollen_test_rx_messages_total{conn="127.0.0.1:1"} 41`,
		`pollen_test_rx_messages_total{conn="127.0.0.1:2"} 1`,
		`pollen_test_queue_depth 3`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve after cancel = %v, want nil", err)
	}
}

func TestServeBadAddr(t *testing.T) {
	if err := Serve(t.Context(), "256.0.0.1:bad", NewRegistry(), nil, nil); err == nil {
		t.Error("Serve on a bad address returned nil")
	}
}
