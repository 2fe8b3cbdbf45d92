// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package swarmbench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pollen-dev/pollen/internal/netlab"
	"github.com/pollen-dev/pollen/internal/report"
)

// loopbackTools are the programs of the loopback baselines.
var loopbackTools = []string{"iperf3", "nginx", "curl"}

const (
	iperfPort    = 5201
	loopbackPort = 8081
	gib          = 1 << 30
)

// runLoopback measures, on the loopback of a one-host lab (so the
// machine's own loopback and ports are left alone): one iperf3 TCP stream,
// plain and with sendfile (-Z), and nginx sendfile serving one curl, with
// the server's CPU per GiB. Each figure is the median of cfg.LoopbackRuns.
func runLoopback(ctx context.Context, cfg Config, dir string, w *report.Writer) error {
	lab, err := netlab.New(ctx, netlab.Config{Hosts: 1, Logger: cfg.Logger})
	if err != nil {
		return err
	}
	defer func() { _ = lab.Close() }()
	h := lab.Host(0)

	for _, zerocopy := range []bool{false, true} {
		var tputs []float64
		for range cfg.LoopbackRuns {
			bps, err := iperf(ctx, h, dir, cfg.IperfTime, zerocopy)
			if err != nil {
				return err
			}
			tputs = append(tputs, bps/8/1e6)
		}
		c := "loopback-iperf3"
		if zerocopy {
			c += "-sendfile"
		}
		cfg.Logger.Info("swarmbench: loopback", "case", c, "MB/s", tputs)
		r := report.Result{
			Bench: "swarm", Case: c, Metric: "throughput", Unit: "MB/s",
			Value: report.Median(tputs), Better: report.Higher,
		}
		if err := w.Add(r); err != nil {
			return err
		}
	}

	file, err := makeFile(dir, "loopback.bin", int64(cfg.LoopbackSize))
	if err != nil {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(loopbackPort)
	server, err := startNginx(ctx, h, filepath.Join(dir, "nginx-loopback"), addr, filepath.Dir(file.path))
	if err != nil {
		return err
	}
	defer server.Stop()
	url := "http://" + addr + "/" + filepath.Base(file.path)
	var tputs, serverCPU, clientCPU []float64
	for range cfg.LoopbackRuns {
		before, err := server.CPU()
		if err != nil {
			return err
		}
		var size bytes.Buffer
		cmd := h.Command(ctx, "curl", append(curlArgs("/dev/null", url), "--write-out", "%{size_download}")...)
		cmd.Stdout = &size
		p, err := h.Start(cmd)
		if err != nil {
			return err
		}
		if err := p.Wait(); err != nil {
			return fmt.Errorf("curl on loopback: %w", err)
		}
		after, err := server.CPU()
		if err != nil {
			return err
		}
		if n, _ := strconv.ParseInt(strings.TrimSpace(size.String()), 10, 64); n != file.size {
			return fmt.Errorf("curl on loopback got %q bytes, want %d", size.String(), file.size)
		}
		cpu, _ := p.CPU()
		g := float64(file.size) / gib
		tputs = append(tputs, float64(file.size)/p.Elapsed().Seconds()/1e6)
		serverCPU = append(serverCPU, (after-before).Seconds()/g)
		clientCPU = append(clientCPU, cpu.Seconds()/g)
	}
	cfg.Logger.Info("swarmbench: loopback nginx", "MB/s", tputs, "server s/GiB", serverCPU, "client s/GiB", clientCPU)
	for _, r := range []report.Result{
		{Metric: "throughput", Unit: "MB/s", Value: report.Median(tputs), Better: report.Higher},
		{Metric: "server_cpu_per_gib", Unit: "s/GiB", Value: report.Median(serverCPU), Better: report.Lower},
		{Metric: "client_cpu_per_gib", Unit: "s/GiB", Value: report.Median(clientCPU), Better: report.Lower},
	} {
		r.Bench, r.Case = "swarm", "loopback-nginx-curl"
		if err := w.Add(r); err != nil {
			return err
		}
	}
	if cfg.PollenBinary != "" {
		server.Stop()
		return loopbackPollen(ctx, cfg, h, dir, file, w)
	}
	return nil
}

// iperf runs one iperf3 TCP stream over h's loopback for d and returns the
// receiver's bits per second.
func iperf(ctx context.Context, h *netlab.Host, dir string, d time.Duration, zerocopy bool) (float64, error) {
	port := strconv.Itoa(iperfPort)
	server, err := startLogged(ctx, h, filepath.Join(dir, "iperf3-server.log"),
		"iperf3", "--server", "--one-off", "--bind", "127.0.0.1", "--port", port)
	if err != nil {
		return 0, err
	}
	defer server.Stop()
	secs := strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
	args := []string{"--client", "127.0.0.1", "--port", port, "--json", "--time", secs}
	if zerocopy {
		args = append(args, "--zerocopy")
	}
	// The server is ready when a client gets through; until then the
	// client fails at once with "connection refused".
	for try := 0; ; try++ {
		var out bytes.Buffer
		cmd := h.Command(ctx, "iperf3", args...)
		cmd.Stdout = &out
		p, err := h.Start(cmd)
		if err != nil {
			return 0, err
		}
		werr := p.Wait()
		var res struct {
			End struct {
				SumReceived struct {
					BitsPerSecond float64 `json:"bits_per_second"`
				} `json:"sum_received"`
			} `json:"end"`
			Error string `json:"error"`
		}
		jerr := json.Unmarshal(out.Bytes(), &res)
		if werr == nil && jerr == nil && res.Error == "" && res.End.SumReceived.BitsPerSecond > 0 {
			return res.End.SumReceived.BitsPerSecond, nil
		}
		if try >= 50 || !strings.Contains(res.Error, "refused") {
			return 0, fmt.Errorf("iperf3 %v: %q (%s): %w", args, res.Error, lastLines(out.Bytes()), errors.Join(werr, jerr))
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
