// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pollen-dev/pollen/internal/netlab"
)

// namesHelperEnv selects the role of this test binary when TestNamesAcrossNamespaces
// re-executes it inside a lab host: whole processes live in the namespaces,
// so every socket of the role (the node's, the responder's, the querier's)
// is on the host's network.
const namesHelperEnv = "POLLEN_MSG_NAMES_HELPER"

// TestNamesAcrossNamespaces looks up a name between network namespaces
// with the default naming configuration: the query goes to the broadcast
// address of each host's eth0 (198.19.255.255 in the lab's 198.18.0.0/15)
// and to 127.255.255.255. Host 1 holds the name; host 2 runs a node that
// does not hold it and forges answers pointing at itself; host 0 looks the
// name up and must get host 1, confirmed.
func TestNamesAcrossNamespaces(t *testing.T) {
	if os.Getenv(namesHelperEnv) != "" {
		t.Skip("inside a helper process")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	if err := netlab.Supported(ctx); err != nil {
		t.Skipf("needs network namespaces (run as root with ip and tc): %v", err)
	}
	lab, err := netlab.New(ctx, netlab.Config{Hosts: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := lab.Close(); err != nil {
			t.Error(err)
		}
	}()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	start := func(h *netlab.Host, role string, args ...string) (*netlab.Proc, *bufio.Reader, io.Closer, *bytes.Buffer) {
		t.Helper()
		cmd := h.Command(ctx, exe, append([]string{"-test.run=^TestNamesHelper$", "-test.count=1", "-test.timeout=80s"}, args...)...)
		cmd.Env = append(cmd.Env, namesHelperEnv+"="+role)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		p, err := h.Start(cmd)
		if err != nil {
			t.Fatal(err)
		}
		return p, bufio.NewReader(out), stdin, &stderr
	}
	// readLine returns the first line of r that starts with prefix.
	readLine := func(r *bufio.Reader, prefix string, stderr *bytes.Buffer) string {
		t.Helper()
		for {
			line, err := r.ReadString('\n')
			if strings.HasPrefix(line, prefix) {
				return strings.TrimSpace(strings.TrimPrefix(line, prefix))
			}
			if err != nil {
				t.Fatalf("no %q line: %v; stderr:\n%s", prefix, err, stderr)
			}
		}
	}

	server, sout, sin, serr := start(lab.Host(1), "serve")
	defer func() { _ = sin.Close(); server.Stop() }()
	serverID := readLine(sout, "READY ", serr)
	decoy, dout, din, derr := start(lab.Host(2), "decoy")
	defer func() { _ = din.Close(); decoy.Stop() }()
	readLine(dout, "READY ", derr)

	for _, c := range []struct{ name, want string }{
		{"scheduler", "FOUND " + serverID + " tcp://" + lab.Host(1).Addr.String() + ":"},
		{"nobody", "ERROR msg: lookup \"nobody\": msg: name not found"},
	} {
		p, out, in, errb := start(lab.Host(0), "lookup", "-test.v", "--", c.name)
		got := readLine(out, "RESULT ", errb)
		_ = in.Close()
		if err := p.Wait(); err != nil {
			t.Errorf("lookup helper: %v; stderr:\n%s", err, errb)
		}
		t.Logf("lookup %q from %s: %s", c.name, lab.Host(0).Addr, got)
		if !strings.HasPrefix(got, c.want) {
			t.Errorf("lookup %q: got %q, want prefix %q", c.name, got, c.want)
		}
	}
}

// TestNamesHelper is the body of the processes TestNamesAcrossNamespaces
// starts; it skips unless namesHelperEnv is set.
func TestNamesHelper(t *testing.T) {
	role := os.Getenv(namesHelperEnv)
	if role == "" {
		t.Skip("helper process of TestNamesAcrossNamespaces")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	n, err := NewNode(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = n.Close() }()
	// Serving roles run until the parent closes stdin.
	waitParent := func() {
		done := make(chan struct{})
		go func() { // ends at EOF, which the parent or its death causes
			_, _ = io.Copy(io.Discard, os.Stdin)
			close(done)
		}()
		select {
		case <-done:
		case <-ctx.Done():
		}
	}
	switch role {
	case "serve":
		if err := n.Listen(ctx, "tcp://0.0.0.0:0"); err != nil {
			t.Fatal(err)
		}
		echo(t, n)
		if err := n.Register("scheduler", ScopeRemote); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("READY %v\n", n.ID())
		waitParent()
	case "decoy":
		if err := n.Listen(ctx, "tcp://0.0.0.0:0"); err != nil {
			t.Fatal(err)
		}
		echo(t, n)
		forger(t, DefaultDiscoveryPort, func(q discoveryPacket) []discoveryPacket {
			return []discoveryPacket{
				{Type: discoveryAnswer, Nonce: q.Nonce, Name: q.Name, Node: n.ID(), Addrs: n.Addrs()},
				{Type: discoveryAnswer, Nonce: q.Nonce, Name: q.Name, Node: 42, Addrs: n.Addrs()},
			}
		})
		fmt.Printf("READY %v\n", n.ID())
		waitParent()
	case "lookup":
		name := flagArgs()
		p, err := n.Lookup(ctx, name, ScopeBoth)
		if err == nil {
			var r []byte
			r, err = n.Send(ctx, p.Addr, []byte("hello"))
			if err == nil && string(r) != "hello" {
				err = errors.New("bad echo")
			}
		}
		st := n.NameStats()
		if err != nil {
			fmt.Printf("RESULT ERROR %v (stats %+v)\n", err, st)
			return
		}
		fmt.Printf("RESULT FOUND %v %s (stats %+v)\n", p.ID, p.Addr, st)
	default:
		t.Fatalf("unknown role %q", role)
	}
}

// flagArgs returns the argument after "--" on the command line.
func flagArgs() string {
	for i, a := range os.Args {
		if a == "--" && i+1 < len(os.Args) {
			return os.Args[i+1]
		}
	}
	return ""
}
