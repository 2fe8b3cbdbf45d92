// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package swarmbench

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pollen-dev/pollen/internal/netlab"
)

// HTTP is the client-server baseline: nginx on the origin serving the file
// with sendfile, and one curl per peer, all started at once. The origin
// sends the whole file to every peer, so its link is the bottleneck.
type HTTP struct{}

// Name implements [System].
func (HTTP) Name() string { return "nginx" }

func (HTTP) tools() []string { return []string{"nginx", "curl"} }

// Run implements [System].
func (HTTP) Run(ctx context.Context, lab *netlab.Lab, task Task) (out Outcome, err error) {
	origin, peers := lab.Host(0), lab.Hosts()[1:]
	addr := net.JoinHostPort(origin.Addr.String(), strconv.Itoa(httpPort))
	server, err := startNginx(ctx, origin, filepath.Join(task.Dir, "nginx"), addr, filepath.Dir(task.File))
	if err != nil {
		return out, err
	}
	defer server.Stop()

	url := "http://" + addr + "/" + filepath.Base(task.File)
	start := time.Now()
	out.Started = start
	clients := make([]*netlab.Proc, len(peers))
	defer func() { netlab.StopAll(clients...) }()
	out.Copies = make([]string, len(peers))
	for i, h := range peers {
		dir := filepath.Join(task.Dir, "h"+strconv.Itoa(h.Index))
		if err := os.Mkdir(dir, 0o755); err != nil {
			return out, fmt.Errorf("peer dir: %w", err)
		}
		out.Copies[i] = filepath.Join(dir, filepath.Base(task.File))
		p, err := startLogged(ctx, h, filepath.Join(dir, "curl.log"), "curl", curlArgs(out.Copies[i], url)...)
		if err != nil {
			return out, err
		}
		clients[i] = p
	}
	out.PerHost = make([]time.Duration, len(peers))
	for i, p := range clients {
		if err := p.Wait(); err != nil {
			return out, fmt.Errorf("curl on host %d: %w (%s)", peers[i].Index, err,
				tailFile(filepath.Join(filepath.Dir(out.Copies[i]), "curl.log")))
		}
		out.PerHost[i] = p.Started().Add(p.Elapsed()).Sub(start)
		out.AllDone = max(out.AllDone, out.PerHost[i])
	}
	out.CPU, err = cpuOf(append([]*netlab.Proc{server}, clients...))
	return out, err
}

// curlArgs fetches url into file, failing on HTTP errors, never through a
// proxy.
func curlArgs(file, url string) []string {
	return []string{"--silent", "--show-error", "--fail", "--noproxy", "*", "-o", file, url}
}

// nginxConf is nginx's configuration for serving a directory with sendfile
// from one worker, logging only errors, keeping every file it writes under
// the run's directory.
const nginxConf = `daemon off;
master_process on;
worker_processes 1;
user root;
pid {{dir}}/nginx.pid;
error_log {{dir}}/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    default_type application/octet-stream;
    client_body_temp_path {{dir}}/body;
    proxy_temp_path {{dir}}/proxy;
    fastcgi_temp_path {{dir}}/fastcgi;
    uwsgi_temp_path {{dir}}/uwsgi;
    scgi_temp_path {{dir}}/scgi;
    server {
        listen {{addr}};
        root {{root}};
    }
}
`

// startNginx starts nginx in host h, serving root at addr, with its
// configuration and logs in dir, and waits until it accepts connections.
func startNginx(ctx context.Context, h *netlab.Host, dir, addr, root string) (*netlab.Proc, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("nginx dir: %w", err)
	}
	conf := strings.NewReplacer("{{dir}}", dir, "{{addr}}", addr, "{{root}}", root).Replace(nginxConf)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, fmt.Errorf("nginx conf: %w", err)
	}
	errLog := filepath.Join(dir, "error.log")
	p, err := startLogged(ctx, h, filepath.Join(dir, "nginx.out"), "nginx", "-c", confPath, "-p", dir, "-e", errLog)
	if err != nil {
		return nil, err
	}
	if err := waitReady(ctx, h, p, addr, errLog); err != nil {
		p.Stop()
		return nil, fmt.Errorf("nginx: %w", err)
	}
	return p, nil
}
