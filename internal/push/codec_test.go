// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package push_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/push"
)

var (
	dig   = core.DigestOf([]byte("file"))
	taskT = core.TaskIDForDigest(dig, 1<<20)
)

// offers and results are samples with edge cases: empty and full
// optional parts, limits where cheap.
func offers() map[string]*push.Offer {
	pieces := make([]core.Digest, 3)
	for i := range pieces {
		pieces[i] = core.DigestOf([]byte{byte(i)})
	}
	return map[string]*push.Offer{
		"offer":        {Task: taskT, Name: "images/layer.tar", Layout: core.Layout{Size: 3<<20 - 5, PieceSize: 1 << 20}, Digest: dig, Token: "s3cret", Scheduler: "10.0.0.1:7600", Source: "http://10.0.0.1:7603/push/" + string(taskT)},
		"offer-pieces": {Task: taskT, Name: "a", Layout: core.Layout{Size: 3<<20 - 5, PieceSize: 1 << 20}, Digest: dig, Pieces: pieces},
		"offer-empty":  {Task: taskT, Name: "empty", Layout: core.Layout{Size: 0, PieceSize: core.MaxPieceSize}, Digest: core.DigestOf(nil)},
		"offer-long":   {Task: taskT, Name: strings.Repeat("n", push.MaxNameLen), Layout: core.Layout{Size: 1 << 40, PieceSize: core.MaxPieceSize}, Digest: dig, Token: strings.Repeat("t", push.MaxTokenLen), Scheduler: strings.Repeat("s", push.MaxAddrLen), Source: strings.Repeat("u", push.MaxURLLen)},
		"offer-odd":    {Task: taskT, Name: "../../etc/passwd\x00", Layout: core.Layout{Size: 1, PieceSize: 1}, Digest: dig}, // the codec carries it; the Receiver refuses it
	}
}

func results() map[string]*push.Result {
	return map[string]*push.Result{
		"result-ok":       {Task: taskT, Code: push.CodeOK, Bytes: 3 << 20, FromSeed: 1 << 20, Millis: 1234, Digest: dig, Name: "images/layer.tar"},
		"result-diskfull": {Task: taskT, Code: push.CodeDiskFull, Bytes: 100, Name: "x", Text: "push: write: disk full: no space left on device"},
		"result-notask":   {Code: push.CodeBadOffer, Text: strings.Repeat("e", push.MaxTextLen)},
		"result-unknown":  {Task: taskT, Code: 200, Millis: 1<<32 - 1},
		"result-accepted": {Task: taskT, Code: push.CodeAccepted, Name: "images/layer.tar"},
	}
}

func awaits() map[string]*push.Await {
	return map[string]*push.Await{
		"await":      {Task: taskT, Name: "images/layer.tar", Token: "s3cret"},
		"await-long": {Task: taskT, Name: strings.Repeat("n", push.MaxNameLen), Token: strings.Repeat("t", push.MaxTokenLen)},
	}
}

func samples() map[string]push.Message {
	out := map[string]push.Message{}
	for k, v := range offers() {
		out[k] = v
	}
	for k, v := range results() {
		out[k] = v
	}
	for k, v := range awaits() {
		out[k] = v
	}
	return out
}

func encode(t testing.TB, m push.Message) []byte {
	t.Helper()
	b, err := m.Append(nil)
	if err != nil {
		t.Fatalf("%v: append: %v", m.Type(), err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	for name, m := range samples() {
		t.Run(name, func(t *testing.T) {
			b := encode(t, m)
			if len(b) != m.Len() || b[0] != push.Version || push.Type(b[1]) != m.Type() {
				t.Fatalf("Len() = %d, encoded %d bytes, header % x", m.Len(), len(b), b[:2])
			}
			got, err := push.Decode(b)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !reflect.DeepEqual(got, m) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, m)
			}
			pre := []byte("prefix")
			b2, err := m.Append(pre)
			if err != nil || !bytes.Equal(b2[:6], []byte("prefix")) || !bytes.Equal(b2[6:], b) {
				t.Fatalf("Append(prefix) = % x, %v", b2, err)
			}
			// Cut at every length: a clean io.ErrUnexpectedEOF.
			for k := range len(b) {
				if m, err := push.Decode(b[:k]); !errors.Is(err, io.ErrUnexpectedEOF) || m != nil {
					t.Fatalf("Decode(%d of %d bytes) = %v, %v; want io.ErrUnexpectedEOF", k, len(b), m, err)
				}
			}
			if _, err := push.Decode(append(b, 0)); !errors.Is(err, push.ErrTrailing) {
				t.Fatalf("trailing byte: %v", err)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	good := encode(t, offers()["offer"])
	for name, tc := range map[string]struct {
		b    []byte
		want error
	}{
		"version":  {append([]byte{push.Version + 1}, good[1:]...), push.ErrVersion},
		"v1":       {append([]byte{1}, good[1:]...), push.ErrVersion},
		"type":     {append([]byte{push.Version, 0x41}, good[2:]...), push.ErrUnknownType},
		"zerotask": {append(append([]byte{push.Version, 0x60}, make([]byte, 32)...), good[34:]...), push.ErrMalformed},
	} {
		if _, err := push.Decode(tc.b); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	// A claimed count over the limit is refused before anything is
	// allocated, whatever follows.
	tail := good[len(good)-4:]
	binary.BigEndian.PutUint32(tail, push.MaxPieceDigests+1)
	if _, err := push.Decode(good); !errors.Is(err, push.ErrLimit) {
		t.Errorf("count over limit: %v", err)
	}
	binary.BigEndian.PutUint32(tail, 1<<31)
	if _, err := push.Decode(good); !errors.Is(err, push.ErrLimit) {
		t.Errorf("huge count: %v", err)
	}
	// A name length over the limit.
	b := encode(t, offers()["offer"])
	binary.BigEndian.PutUint16(b[2+32+8+4+32:], push.MaxNameLen+1)
	if _, err := push.Decode(b); !errors.Is(err, push.ErrLimit) {
		t.Errorf("long name: %v", err)
	}
	// Encoders refuse what decoders refuse.
	for name, m := range map[string]push.Message{
		"no name":       &push.Offer{Task: taskT, Layout: core.Layout{Size: 1, PieceSize: 1}, Digest: dig},
		"no digest":     &push.Offer{Task: taskT, Name: "a", Layout: core.Layout{Size: 1, PieceSize: 1}},
		"no task":       &push.Offer{Name: "a", Layout: core.Layout{Size: 1, PieceSize: 1}, Digest: dig},
		"bad layout":    &push.Offer{Task: taskT, Name: "a", Digest: dig},
		"pieces":        &push.Offer{Task: taskT, Name: "a", Layout: core.Layout{Size: 2, PieceSize: 1}, Digest: dig, Pieces: []core.Digest{dig}},
		"long token":    &push.Offer{Task: taskT, Name: "a", Layout: core.Layout{Size: 1, PieceSize: 1}, Digest: dig, Token: strings.Repeat("t", 256)},
		"ok no digest":  &push.Result{Task: taskT},
		"fail digest":   &push.Result{Task: taskT, Code: push.CodeDigest, Digest: dig},
		"seed > bytes":  &push.Result{Task: taskT, Code: push.CodeFetch, FromSeed: 2, Bytes: 1},
		"long text":     &push.Result{Task: taskT, Code: push.CodeFetch, Text: strings.Repeat("e", push.MaxTextLen+1)},
		"await no task": &push.Await{Name: "a"},
		"await no name": &push.Await{Task: taskT},
		"await token":   &push.Await{Task: taskT, Name: "a", Token: strings.Repeat("t", push.MaxTokenLen+1)},
	} {
		if b, err := m.Append([]byte("x")); err == nil || string(b) != "x" {
			t.Errorf("%s: Append = %q, %v; want an error and b unchanged", name, b, err)
		}
	}
}

func TestResultErrors(t *testing.T) {
	o := offers()["offer"]
	ok := push.NewResult(o, dig, 10, 20, 1500*time.Millisecond, nil)
	if ok.Err() != nil || ok.Code != push.CodeOK || ok.FromSeed != 10 || ok.Elapsed() != 1500*time.Millisecond || ok.Digest != dig {
		t.Fatalf("success result %+v", ok)
	}
	for _, tc := range []struct {
		err      error
		code     push.Code
		sentinel error // what the remote error matches; nil for none
	}{
		{fmt.Errorf("x: %w", push.ErrDiskFull), push.CodeDiskFull, push.ErrDiskFull},
		{&push.NameError{Name: "..", Reason: "dot"}, push.CodeBadName, push.ErrBadName},
		{&push.DigestError{}, push.CodeDigest, push.ErrDigest},
		{fmt.Errorf("%w: wrong token", push.ErrUnauthorized), push.CodeUnauthorized, push.ErrUnauthorized},
		{push.ErrTooLarge, push.CodeTooLarge, push.ErrTooLarge},
		{push.ErrExists, push.CodeExists, push.ErrExists},
		{push.ErrSize, push.CodeSize, push.ErrSize},
		{push.ErrFetch, push.CodeFetch, push.ErrFetch},
		{push.ErrClosed, push.CodeClosed, push.ErrClosed},
		{fmt.Errorf("decode: %w", push.ErrLimit), push.CodeBadOffer, push.ErrBadOffer},
		{errors.New("boom"), push.CodeInternal, nil},
	} {
		r := push.NewResult(o, dig, 5, 0, time.Second, tc.err)
		if r.Code != tc.code || !r.Digest.IsZero() || r.Text != tc.err.Error() {
			t.Errorf("NewResult(%v) = %+v, want code %v", tc.err, r, tc.code)
		}
		back, err := push.Decode(encode(t, r))
		if err != nil {
			t.Fatal(err)
		}
		rerr := back.(*push.Result).Err()
		var re *push.RemoteError
		if !errors.As(rerr, &re) || re.Code != tc.code || re.Text != tc.err.Error() {
			t.Errorf("Err() = %v", rerr)
		}
		if tc.sentinel != nil && !errors.Is(rerr, tc.sentinel) {
			t.Errorf("remote %v does not match %v", rerr, tc.sentinel)
		}
		if errors.Is(rerr, push.ErrDiskFull) != (tc.code == push.CodeDiskFull) {
			t.Errorf("remote %v: errors.Is(ErrDiskFull) wrong", rerr)
		}
	}
	if long := push.NewResult(o, dig, 0, 0, 0, errors.New(strings.Repeat("x", 5000))); len(long.Text) != push.MaxTextLen {
		t.Errorf("text not truncated: %d bytes", len(long.Text))
	}
}

var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/fuzz/FuzzOffer, FuzzResult and FuzzAwait from the samples")

// TestCorpus checks that every committed seed decodes, and with
// -update-corpus rewrites them: one file per sample, named after it.
func TestCorpus(t *testing.T) {
	for _, fz := range []struct {
		dir string
		typ push.Type
	}{{"FuzzOffer", push.TypeOffer}, {"FuzzResult", push.TypeResult}, {"FuzzAwait", push.TypeAwait}} {
		dir := filepath.Join("testdata", "fuzz", fz.dir)
		if *updateCorpus {
			must(t, os.MkdirAll(dir, 0o755))
			for name, m := range samples() {
				if m.Type() != fz.typ {
					continue
				}
				data := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", encode(t, m))
				must(t, os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644))
			}
		}
		ents, err := os.ReadDir(dir)
		must(t, err)
		if len(ents) == 0 {
			t.Fatalf("%s: empty corpus", dir)
		}
		for _, e := range ents {
			m, ok := samples()[e.Name()]
			if !ok {
				t.Errorf("%s/%s: no sample of that name", dir, e.Name())
				continue
			}
			raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
			must(t, err)
			want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", encode(t, m))
			if string(raw) != want {
				t.Errorf("%s/%s is stale: run go test -run TestCorpus -update-corpus", dir, e.Name())
			}
		}
	}
}
