package sshrelay

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

var requests = []Request{
	{Kind: KindSession, User: "alice", Addr: "192.0.2.1:5555", Term: "xterm-256color", Width: 100, Height: 30},
	{Kind: KindSession, User: "x", Addr: "", Term: ""},
	{Kind: KindPassword, User: "alice", Addr: "[::1]:22", Password: "wonder land\xff"},
	{Kind: KindKey, User: "bob", Addr: "10.0.0.1:1", Key: []byte("\x00\x00\x00\x0bssh-ed25519")},
}

func TestRequestRoundTrip(t *testing.T) {
	for _, r := range requests {
		b, err := r.Marshal()
		if err != nil {
			t.Fatalf("%+v: %v", r, err)
		}
		// A session's stream follows its request: ReadRequest stops at it.
		rd := bytes.NewReader(append(b, "typed ahead"...))
		got, err := ReadRequest(rd)
		if err != nil || !reflect.DeepEqual(got, r) {
			t.Errorf("round trip of %+v: %+v, %v", r, got, err)
		}
		if rest := rd.Len(); rest != len("typed ahead") {
			t.Errorf("%c: ReadRequest left %d bytes, want %d", r.Kind, rest, len("typed ahead"))
		}
	}
}

func TestRequestRefused(t *testing.T) {
	good, _ := requests[0].Marshal()
	for _, tt := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"other magic", append([]byte{0, 5}, "HTTP/"...)},
		{"other version", append([]byte{0, 5}, 'T', 'R', 'L', 2, 'S')},
		{"unknown kind", append([]byte{0, 5}, 'T', 'R', 'L', 1, 'Z')},
		{"cut short", append([]byte{0, byte(len(good) - 4)}, good[2:len(good)-2]...)},
		{"trailing", append([]byte{0, byte(len(good) - 1)}, append(good[2:], 0)...)},
		{"too long", []byte{0xff, 0xff}},
		{"long field", append([]byte{0, 9}, 'T', 'R', 'L', 1, 'S', 0xff, 0xff, 'a', 'b')},
		{"window too wide", append(append([]byte{0, 14}, 'T', 'R', 'L', 1, 'S', 0, 0, 0, 0, 0, 0), 0xff, 0xff, 0, 0)},
	} {
		if _, err := ReadRequest(bytes.NewReader(tt.b)); err == nil || tt.name != "empty" && !errors.Is(err, ErrRequest) {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
	if _, err := (Request{Kind: KindPassword, User: strings.Repeat("u", maxUser+1)}).Marshal(); !errors.Is(err, ErrRequest) {
		t.Errorf("a name over the limit was encoded: %v", err)
	}
}

// FuzzRequest: any bytes decode to a request that encodes back to them,
// or to an error; nothing panics or reads past its frame.
func FuzzRequest(f *testing.F) {
	for _, r := range requests {
		b, _ := r.Marshal()
		f.Add(b[2:])
	}
	f.Add([]byte("TRL\x01K\x00\x01a\x00\x00\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := UnmarshalRequest(b)
		if err != nil {
			if !errors.Is(err, ErrRequest) {
				t.Fatalf("error not wrapping ErrRequest: %v", err)
			}
			return
		}
		again, err := r.Marshal()
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", r, err)
		}
		if !bytes.Equal(again[2:], b) {
			t.Fatalf("%q decoded and encoded to %q", b, again[2:])
		}
	})
}

func TestAnswer(t *testing.T) {
	for _, yes := range []bool{true, false} {
		var b bytes.Buffer
		Answer(&b, yes)
		if got, err := readAnswer(&b); got != yes || err != nil {
			t.Errorf("answer %v read as %v, %v", yes, got, err)
		}
	}
	if _, err := readAnswer(strings.NewReader("?")); !errors.Is(err, ErrRequest) {
		t.Errorf("a garbled answer: %v", err)
	}
}
