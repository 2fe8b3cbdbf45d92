// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package streambench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pollen-dev/pollen/internal/daemon"
	"github.com/pollen-dev/pollen/internal/demo"
	"github.com/pollen-dev/pollen/internal/ratelimit"
	"github.com/pollen-dev/pollen/internal/report"
)

// Config describes a run. The zero value of each field means its default.
type Config struct {
	Peers      int           // daemons; 0 means 4
	Size       int64         // object size in bytes; 0 means 64 MiB
	PieceSize  int64         // 0: chosen from the size
	Window     int           // stream window in pieces; 0: the daemon's default (16)
	OriginRate int64         // origin upload cap in bytes/s; 0: unlimited
	Runs       int           // repetitions; medians are reported; 0 means 3
	Timeout    time.Duration // bound on one phase; 0 means 2 minutes
	Dir        string        // where the temporary files go; "" means os.TempDir()
	Logger     *slog.Logger  // nil discards
}

func (c Config) withDefaults() Config {
	if c.Peers == 0 {
		c.Peers = 4
	}
	if c.Size == 0 {
		c.Size = 64 << 20
	}
	if c.Runs == 0 {
		c.Runs = 3
	}
	if c.Timeout == 0 {
		c.Timeout = 2 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports a configuration Run cannot use.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Peers < 1 || c.Peers > 64:
		return fmt.Errorf("streambench: peers %d not in 1..64", c.Peers)
	case c.Size < 1:
		return fmt.Errorf("streambench: size %d is not positive", c.Size)
	case c.PieceSize < 0 || c.Window < 0 || c.OriginRate < 0 || c.Runs < 1 || c.Timeout < 0:
		return errors.New("streambench: negative piece size, window, rate, runs or timeout")
	}
	return nil
}

// phase is what one mode measured in one run.
type phase struct {
	ttfb     time.Duration // median over peers of the time to the consumer's first byte
	all      time.Duration // until every peer had every byte
	peakRSS  int64         // VmHWM during the phase, bytes (0: unknown)
	peakHeap int64         // largest sampled Go heap in use
	written  int64         // write_bytes during the phase (-1: unknown)
	origin   int64         // origin body bytes served during the phase
}

// Run measures cfg and hands each result to add.
func Run(ctx context.Context, cfg Config, add func(report.Result) error) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.withDefaults()
	dir, err := os.MkdirTemp(cfg.Dir, "pollen-bench-stream-")
	if err != nil {
		return fmt.Errorf("streambench: %w", err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	sw, err := startSwarm(ctx, cfg, dir)
	if err != nil {
		return err
	}
	defer sw.stop()

	var stream, plain []phase
	for r := range cfg.Runs {
		modes := []bool{true, false}
		if r%2 == 1 {
			modes = []bool{false, true}
		}
		for _, streaming := range modes {
			p, err := sw.phase(ctx, cfg, dir, r, streaming)
			if err != nil {
				return err
			}
			cfg.Logger.Info("streambench: phase", "run", r, "stream", streaming, "ttfb", p.ttfb, "all", p.all,
				"peak_rss_mib", p.peakRSS>>20, "written_mib", p.written>>20, "origin_copies", float64(p.origin)/float64(cfg.Size))
			if streaming {
				stream = append(stream, p)
			} else {
				plain = append(plain, p)
			}
		}
	}
	return emit(cfg, stream, plain, add)
}

// emit reports the medians of stream beside those of plain.
func emit(cfg Config, stream, plain []phase, add func(report.Result) error) error {
	med := func(ps []phase, f func(phase) float64) float64 {
		xs := make([]float64, len(ps))
		for i, p := range ps {
			xs[i] = f(p)
		}
		return report.Median(xs)
	}
	name := fmt.Sprintf("%dpeers-%dMiB", cfg.Peers, cfg.Size>>20)
	if cfg.Window > 0 {
		name += "-w" + strconv.Itoa(cfg.Window)
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	mbps := func(p phase) float64 { return float64(cfg.Size) / 1e6 / p.all.Seconds() }
	mib := func(n int64) float64 { return float64(n) / (1 << 20) }
	results := []report.Result{
		{
			Bench: "stream", Case: name, Metric: "time-to-first-byte", Unit: "ms", Better: report.Lower,
			Value: med(stream, func(p phase) float64 { return ms(p.ttfb) }),
		},
		{
			Bench: "stream", Case: name, Metric: "all-done", Unit: "ms", Better: report.Lower,
			Value: med(stream, func(p phase) float64 { return ms(p.all) }),
		},
		{
			Bench: "stream", Case: name, Metric: "throughput-per-peer", Unit: "MB/s", Better: report.Higher,
			Value: med(stream, mbps),
		},
		{
			Bench: "stream", Case: name, Metric: "peak-rss", Unit: "MiB", Better: report.Lower,
			Value: med(stream, func(p phase) float64 { return mib(p.peakRSS) }),
		},
		{
			Bench: "stream", Case: name, Metric: "peak-heap", Unit: "MiB", Better: report.Lower,
			Value: med(stream, func(p phase) float64 { return mib(p.peakHeap) }),
		},
		{
			Bench: "stream", Case: name, Metric: "disk-writes", Unit: "MiB", Better: report.Lower,
			Value: med(stream, func(p phase) float64 { return mib(p.written) }),
		},
		{
			Bench: "stream", Case: name, Metric: "origin-copies", Unit: "copies", Better: report.Lower,
			Value: med(stream, func(p phase) float64 { return float64(p.origin) / float64(cfg.Size) }),
		},
	}
	bases := []float64{
		med(plain, func(p phase) float64 { return ms(p.all) }), // a file is readable only when complete
		med(plain, func(p phase) float64 { return ms(p.all) }),
		med(plain, mbps),
		med(plain, func(p phase) float64 { return mib(p.peakRSS) }),
		med(plain, func(p phase) float64 { return mib(p.peakHeap) }),
		med(plain, func(p phase) float64 { return mib(p.written) }),
		med(plain, func(p phase) float64 { return float64(p.origin) / float64(cfg.Size) }),
	}
	for i, r := range results {
		if err := add(r.WithBaseline("plain-get", bases[i])); err != nil {
			return err
		}
	}
	return nil
}

// swarm is the origin, scheduler and daemons of a run.
type swarm struct {
	*demo.Swarm
	origin *origin
	cancel context.CancelFunc
}

func startSwarm(ctx context.Context, cfg Config, dir string) (_ *swarm, err error) {
	ctx, cancel := context.WithCancel(ctx)
	sw := &swarm{Swarm: demo.NewSwarm(cfg.Logger), cancel: cancel}
	defer func() {
		if err != nil {
			sw.stop()
		}
	}()
	if sw.origin, err = newOrigin(filepath.Join(dir, "object"), cfg.Size, cfg.OriginRate); err != nil {
		return sw, err
	}
	sw.Go(ctx, "origin", func(ctx context.Context) error { sw.origin.serve(ctx); return nil })
	err = sw.Start(ctx, cfg.Peers, func(i int) daemon.Config {
		return daemon.Config{
			DataDir:      filepath.Join(dir, "peer"+strconv.Itoa(i+1)),
			PieceSize:    cfg.PieceSize,
			StreamWindow: cfg.Window,
			StreamLinger: time.Second,
		}
	})
	if err != nil {
		return sw, fmt.Errorf("streambench: %w", err)
	}
	return sw, nil
}

func (sw *swarm) stop() {
	sw.Stop(sw.cancel)
	if sw.origin != nil {
		_ = sw.origin.file.Close()
	}
}

// phase has every daemon fetch a fresh task in one mode at once.
func (sw *swarm) phase(ctx context.Context, cfg Config, dir string, run int, streaming bool) (phase, error) {
	mode := "plain"
	if streaming {
		mode = "stream"
	}
	url := fmt.Sprintf("%s?run=%d&mode=%s", sw.origin.url(), run, mode)
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	runtime.GC()
	resetPeakRSS()
	written0 := procIO("write_bytes")
	origin0 := sw.origin.served.Load()
	stopHeap := samplePeakHeap()
	start := time.Now()
	ttfb := make([]float64, len(sw.Daemons))
	errs := make([]error, len(sw.Daemons))
	var wg sync.WaitGroup
	for i, d := range sw.Daemons {
		wg.Go(func() {
			var first time.Duration
			var err error
			if streaming {
				first, err = streamOne(ctx, d, url, cfg.Size, start)
			} else {
				out := filepath.Join(dir, fmt.Sprintf("out-%d-%d", run, i))
				first, err = getOne(ctx, d, url, out, start)
				_ = os.Remove(out)
			}
			ttfb[i], errs[i] = float64(first), err
		})
	}
	wg.Wait()
	all := time.Since(start)
	heap := stopHeap()
	if err := errors.Join(errs...); err != nil {
		return phase{}, fmt.Errorf("streambench: %s run %d: %w", mode, run, err)
	}
	p := phase{
		ttfb: time.Duration(report.Median(ttfb)), all: all,
		peakRSS: procStatusKB("VmHWM") << 10, peakHeap: heap,
		origin: sw.origin.served.Load() - origin0, written: -1,
	}
	if written0 >= 0 {
		p.written = procIO("write_bytes") - written0
	}
	return p, nil
}

// streamOne streams url with d to a consumer that discards the bytes and
// returns when the first byte arrived.
func streamOne(ctx context.Context, d *daemon.Daemon, url string, size int64, start time.Time) (time.Duration, error) {
	s, err := d.Stream(ctx, daemon.Request{URL: url})
	if err != nil {
		return 0, err
	}
	defer func() { _ = s.Close() }()
	w := &firstByte{start: start}
	n, err := s.WriteTo(w)
	if err == nil && n != size {
		err = fmt.Errorf("streamed %d of %d bytes", n, size)
	}
	return w.first, err
}

// getOne downloads url with d to out; the consumer's first byte is the
// moment the file appears, complete.
func getOne(ctx context.Context, d *daemon.Daemon, url, out string, start time.Time) (time.Duration, error) {
	tr, err := d.Download(ctx, daemon.Request{URL: url, Output: out})
	if err != nil {
		return 0, err
	}
	if err := tr.Wait(ctx); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// firstByte discards what it is given and notes when the first byte came.
type firstByte struct {
	start time.Time
	first time.Duration
}

func (w *firstByte) Write(p []byte) (int, error) {
	if w.first == 0 && len(p) > 0 {
		w.first = time.Since(w.start)
	}
	return len(p), nil
}

// origin serves one generated file over HTTP on loopback, its upload
// optionally capped, counting the body bytes.
type origin struct {
	srv    *http.Server
	ln     net.Listener
	file   *os.File
	size   int64
	bucket *ratelimit.Bucket
	served atomic.Int64
}

func newOrigin(path string, size, rate int64) (*origin, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("streambench: %w", err)
	}
	r := rand.New(rand.NewPCG(uint64(size), 5))
	buf := make([]byte, 1<<20)
	for off := int64(0); off < size; off += int64(len(buf)) {
		for i := 0; i+8 <= len(buf); i += 8 {
			v := r.Uint64()
			for k := range 8 {
				buf[i+k] = byte(v >> (8 * k))
			}
		}
		if _, err := f.Write(buf[:min(int64(len(buf)), size-off)]); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("streambench: %w", err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("streambench: origin: %w", err)
	}
	o := &origin{ln: ln, file: f, size: size, bucket: ratelimit.ForChunks(rate, chunk)}
	o.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pw := ratelimit.PacedResponse(r.Context(), w, o.bucket, chunk, func(n int64) { o.served.Add(n) })
		http.ServeContent(pw, r, "object", time.Time{}, io.NewSectionReader(f, 0, size))
	})}
	return o, nil
}

// chunk is the most bytes the origin writes after one wait: small enough
// that concurrent responses share its upload fairly.
const chunk = 32 << 10

func (o *origin) url() string { return "http://" + o.ln.Addr().String() + "/object" }

func (o *origin) serve(ctx context.Context) {
	go func() {
		<-ctx.Done()
		_ = o.srv.Close()
	}()
	_ = o.srv.Serve(o.ln)
}

// samplePeakHeap samples the Go heap in use every 20ms until the function
// it returns is called, which returns the largest sample.
func samplePeakHeap() func() int64 {
	var peak int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, int64(ms.HeapInuse))
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() int64 {
		close(stop)
		<-done
		return peak
	}
}

// resetPeakRSS resets the process's VmHWM (Linux: clear_refs 5); it does
// nothing elsewhere.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// procIO returns a field of /proc/self/io, -1 if unreadable.
func procIO(field string) int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, field+": "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

// procStatusKB returns a "kB" field of /proc/self/status, 0 if missing.
func procStatusKB(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
