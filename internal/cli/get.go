// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/daemon"
	"github.com/pollen-dev/pollen/internal/progress"
	"github.com/pollen-dev/pollen/internal/stream"
)

// downloader is what `pollen get` needs of a daemon: a local one through
// its socket ([daemon.Client]) or one in this process ([daemon.Daemon]).
type downloader interface {
	Download(ctx context.Context, req daemon.Request) (*daemon.Transfer, error)
	Stream(ctx context.Context, req daemon.Request) (*daemon.Stream, error)
}

func newGetCmd() *cobra.Command {
	var (
		c          common
		output     string
		streamMode bool
		window     int
		digest     string
		socket     string
		dataDir    string
	)
	cmd := &cobra.Command{
		Use:   "get URL",
		Short: "Download a file through the local daemon (or one in this process)",
		Long: `get downloads URL (http://, https:// or file://) through the daemon on
--socket, or, when none answers there (and --socket was not given on the
command line), through a daemon started in this process for the one download (its pieces kept in a temporary directory,
removed afterwards). The output appears only once it is complete and
verified: with --digest, its SHA-256 must match. -o - writes it to stdout
once verified. A progress bar with rate and time left is drawn on stderr
when stderr is a terminal.

With --stream the bytes are written in order as soon as they arrive
(pollen get --stream URL -o - | tar x): the daemon keeps only a window of
--window pieces in memory, writes nothing to disk, fetches the next piece
only when the reader has made room (a slow reader stalls the download, it
does not grow memory), and serves its window to the other peers streaming
the same file. The output is not atomic then: if the stream fails (a
--digest mismatch is found only at the end) get exits non-zero with a
one-line error after writing what it had, and removes an -o FILE.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.ExactArgs(1)(cmd, args); err != nil {
				return usageError(err)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			explicitSocket := cmd.Flags().Changed("socket") // a socket named on the command line must answer
			log, err := c.setup(cmd, "get")
			if err != nil {
				return err
			}
			if window < 0 || window > stream.MaxWindow {
				return usageError(fmt.Errorf("--window %d outside [0, %d]", window, stream.MaxWindow))
			}
			if window != 0 && !streamMode {
				return usageError(errors.New("--window needs --stream"))
			}
			req := daemon.Request{URL: args[0], Window: window}
			if digest != "" {
				if req.Digest, err = core.ParseDigest(digest); err != nil {
					return usageError(fmt.Errorf("--digest: %w", err))
				}
				if req.Digest.IsZero() {
					return usageError(errors.New("--digest: the zero digest matches nothing"))
				}
			}
			if output == "" {
				if output, err = outputName(req.URL); err != nil {
					return usageError(err)
				}
			}
			ctx := cmd.Context()
			dl, done, err := openDaemon(ctx, socket, explicitSocket, dataDir, log)
			if err != nil {
				return err
			}
			defer done()
			if streamMode {
				return getStream(ctx, dl, req, output, cmd.OutOrStdout())
			}
			if output != "-" {
				req.Output = output
				return get(ctx, dl, req, cmd.ErrOrStderr())
			}
			tmp, err := os.MkdirTemp("", "pollen-get-")
			if err != nil {
				return err
			}
			defer func() { _ = os.RemoveAll(tmp) }()
			req.Output = filepath.Join(tmp, "out")
			if err := get(ctx, dl, req, cmd.ErrOrStderr()); err != nil {
				return err
			}
			return catFile(cmd.OutOrStdout(), req.Output)
		},
	}
	c.addFlags(cmd, "warn")
	f := cmd.Flags()
	f.StringVarP(&output, "output", "o", "", "output file, - for stdout (default: the URL's base name)")
	f.BoolVar(&streamMode, "stream", false, "write bytes in order as they arrive, from a memory window, never to disk")
	f.IntVar(&window, "window", 0, "with --stream: pieces held in memory (0: the daemon's default, 16 pieces and at least 4 MiB)")
	f.StringVar(&digest, "digest", "", "expected SHA-256 of the whole file, sha256:HEX")
	f.StringVar(&socket, "socket", defaultSocket(), "the local daemon's Unix socket")
	f.StringVar(&dataDir, "data", "", "piece store of the in-process daemon (default: a temporary directory)")
	return cmd
}

// openDaemon returns the daemon on socket if one answers there, else (if
// the socket was not named explicitly) a daemon in this process, and the
// function that releases it.
func openDaemon(ctx context.Context, socket string, explicit bool, dataDir string, log *slog.Logger) (downloader, func(), error) {
	client := daemon.NewClient(socket)
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	err := client.Ping(pctx)
	cancel()
	if err == nil {
		log.Info("downloading through the local daemon", "socket", socket)
		return client, func() { _ = client.Close() }, nil
	}
	_ = client.Close()
	if explicit {
		return nil, nil, fmt.Errorf("get: no daemon answers on %s: %w", socket, err)
	}
	log.Info("no daemon on the socket; downloading in this process", "socket", socket)
	tmp := ""
	if dataDir == "" {
		if tmp, err = os.MkdirTemp("", "pollen-get-data-"); err != nil {
			return nil, nil, fmt.Errorf("get: %w", err)
		}
		dataDir = tmp
	}
	removeTmp := func() {
		if tmp != "" {
			_ = os.RemoveAll(tmp)
		}
	}
	d, err := daemon.New(daemon.Config{DataDir: dataDir, Listen: "127.0.0.1:0"}, log)
	if err != nil {
		removeTmp()
		return nil, nil, fmt.Errorf("get: %w", err)
	}
	return d, func() { _ = d.Close(); removeTmp() }, nil
}

// get downloads req with dl, drawing a progress bar on w if it is a
// terminal, and returns the transfer's error.
func get(ctx context.Context, dl downloader, req daemon.Request, w io.Writer) error {
	tr, err := dl.Download(ctx, req)
	if err != nil {
		return fmt.Errorf("get %s: %w", req.URL, err)
	}
	defer tr.Cancel()
	bars := progress.New(ctx, w)
	bar := bars.Add(path.Base(req.Output), tr.Progress().Size)
	bar.Follow(ctx, tr.Done(), func() (int64, int64) {
		p := tr.Progress()
		return p.Done, p.Size
	})
	err = tr.Wait(ctx)
	if err == nil {
		bar.Done(tr.Progress().Size)
	}
	bars.Wait()
	if err != nil {
		return fmt.Errorf("get %s: %w", req.URL, err)
	}
	return nil
}

// getStream streams req with dl to output ("-": stdout) and returns the
// stream's error. A failed stream removes an output file it created.
func getStream(ctx context.Context, dl downloader, req daemon.Request, output string, stdout io.Writer) (err error) {
	s, err := dl.Stream(ctx, req)
	if err != nil {
		return fmt.Errorf("get --stream %s: %w", req.URL, err)
	}
	defer func() { _ = s.Close() }()
	w := stdout
	if output != "-" {
		f, ferr := os.OpenFile(output, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
		if ferr != nil {
			return fmt.Errorf("get --stream: %w", ferr)
		}
		defer func() {
			if cerr := f.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("get --stream: %w", cerr)
			}
			if err != nil {
				_ = os.Remove(output)
			}
		}()
		w = f
	}
	if _, err := s.WriteTo(w); err != nil {
		return fmt.Errorf("get --stream %s: %w", req.URL, err)
	}
	return nil
}

// outputName is the default output file of `pollen get URL`: the base
// name of the URL's path.
func outputName(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("get: %w", err)
	}
	name := path.Base(u.Path)
	if name == "." || name == "/" || name == "" {
		return "", fmt.Errorf("get: %s names no file; give -o FILE", raw)
	}
	return name, nil
}

// catFile copies the file at p to w.
func catFile(w io.Writer, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	if _, err := io.Copy(w, f); err != nil {
		return fmt.Errorf("get: write to stdout: %w", err)
	}
	return nil
}
