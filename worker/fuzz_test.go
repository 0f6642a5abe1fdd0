package worker

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"translucent/namespace"
)

// TestFrameLimits: a frame over its kind's limit, of an unknown kind, or
// cut short is an error, never a panic or a large allocation.
func TestFrameLimits(t *testing.T) {
	header := func(kind byte, n uint32) []byte {
		return []byte{kind, 0, 0, 0, 0, 0, 0, 0, 1, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"unknown kind", header('?', 0), ErrProtocol},
		{"output over its limit", header(kindOutput, maxOutputFrame+1), ErrProtocol},
		{"interrupt with a payload", header(kindInterrupt, 1), ErrProtocol},
		{"collect with a payload", header(kindCollect, 1), ErrProtocol},
		{"a 4 GiB frame", header(kindSaved, 1<<32-1), ErrProtocol},
		{"cut in the header", header(kindEval, 3)[:5], io.ErrUnexpectedEOF},
		{"cut in the payload", append(header(kindEval, 3), 'x'), io.ErrUnexpectedEOF},
		{"empty", nil, io.EOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readFrame(bufio.NewReader(bytes.NewReader(tc.in)))
			if !errors.Is(err, tc.want) {
				t.Errorf("readFrame = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestMessagesRoundTrip: every message a front or worker writes reads
// back the same.
func TestMessagesRoundTrip(t *testing.T) {
	msgs := []struct {
		kind byte
		msg  any
		into any
	}{
		{kindHello, helloMsg{Version: WireVersion, Pid: 42}, &helloMsg{}},
		{kindOpen, openMsg{Version: "v", ServerPid: 7, Unrestricted: true, State: []byte{1, 2}, Recycle: 9, Idle: true}, &openMsg{}},
		{kindReplace, replaceMsg{State: []byte{3, 4}}, &replaceMsg{}},
		{kindOpened, openedMsg{Err: "no"}, &openedMsg{}},
		{kindEval, evalMsg{Src: "x + 1"}, &evalMsg{}},
		{kindDone, doneMsg{Line: 3, Kind: evalOK, Value: "42", HasValue: true}, &doneMsg{}},
		{kindSaved, savedMsg{Line: 3, State: []byte{9}, Lost: []string{"ch"}, Settled: true}, &savedMsg{}},
		{kindCall, callMsg{ID: 5, Op: opSnapshot, Args: []string{"a"}}, &callMsg{}},
		{kindReply, replyMsg{ID: 5, Vars: []namespace.Var{{Name: "x", Type: "int"}}, Rev: 8, OK: true}, &replyMsg{}},
		{kindCall, callMsg{ID: 6, Op: opComplete, Args: []string{"fmt.Pr", ")"}}, &callMsg{}},
		{kindReply, replyMsg{ID: 6, Completion: &namespace.Completion{Start: 4, Prefix: "Print", Candidates: []string{"Printf", "Println"}, Total: 2}}, &replyMsg{}},
		{kindAck, ackMsg{N: 100}, &ackMsg{}},
	}
	var buf bytes.Buffer
	w := newFrameWriter(&buf)
	for i, m := range msgs {
		if err := w.write(m.kind, uint64(i), m.msg); err != nil {
			t.Fatal(err)
		}
	}
	r := bufio.NewReader(&buf)
	for i, m := range msgs {
		f, err := readFrame(r)
		if err != nil {
			t.Fatal(err)
		}
		if f.kind != m.kind || f.session != uint64(i) {
			t.Fatalf("frame %d: kind %q session %d", i, f.kind, f.session)
		}
		if err := decode(f, m.into); err != nil {
			t.Fatal(err)
		}
		if got := reflect.ValueOf(m.into).Elem().Interface(); !reflect.DeepEqual(got, m.msg) {
			t.Errorf("%q: got %+v, want %+v", m.kind, got, m.msg)
		}
	}
}

// TestDoneErrors: an evaluation's outcome crosses the wire as the same
// namespace error.
func TestDoneErrors(t *testing.T) {
	for _, want := range []error{namespace.ErrIncomplete, namespace.ErrInterrupted, namespace.ErrBusy, namespace.ErrClosed} {
		if _, err := doneOf(namespace.Result{}, want).result(); !errors.Is(err, want) {
			t.Errorf("%v crossed as %v", want, err)
		}
	}
	if _, err := doneOf(namespace.Result{}, errors.New("1:1: undefined: x")).result(); err == nil || err.Error() != "1:1: undefined: x" {
		t.Errorf("an error crossed as %v", err)
	}
}

// FuzzReadFrame reads frames from arbitrary bytes, as the front reads
// what a worker (or the code running in it) writes, and decodes each as
// the message its kind names: errors, never a panic.
func FuzzReadFrame(f *testing.F) {
	var buf bytes.Buffer
	w := newFrameWriter(&buf)
	w.write(kindHello, 0, helloMsg{Version: 1, Pid: 2})
	w.write(kindOutput, 1, []byte("hello\n"))
	w.write(kindDone, 1, doneMsg{Line: 1, Value: "2", HasValue: true})
	w.write(kindSaved, 1, savedMsg{Line: 1, State: []byte{0xa0}})
	w.write(kindReply, 1, replyMsg{ID: 1, Strs: []string{"fmt"}})
	w.write(kindReply, 1, replyMsg{ID: 2, Completion: &namespace.Completion{Start: 1, Prefix: "ab", Candidates: []string{"abc"}, Total: 1}})
	f.Add(buf.Bytes())
	f.Add([]byte{kindOpened, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0xa0})
	f.Add([]byte("garbage, not a frame at all"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bufio.NewReader(bytes.NewReader(b))
		for {
			fr, err := readFrame(r)
			if err != nil {
				return
			}
			if limit, _ := frameLimit(fr.kind); len(fr.payload) > limit {
				t.Fatalf("frame %q of %d bytes passed its limit %d", fr.kind, len(fr.payload), limit)
			}
			var msg any
			switch fr.kind {
			case kindHello:
				msg = &helloMsg{}
			case kindOpen:
				msg = &openMsg{}
			case kindReplace:
				msg = &replaceMsg{}
			case kindOpened:
				msg = &openedMsg{}
			case kindEval:
				msg = &evalMsg{}
			case kindDone:
				msg = &doneMsg{}
			case kindSaved:
				msg = &savedMsg{}
			case kindCall:
				msg = &callMsg{}
			case kindReply:
				msg = &replyMsg{}
			case kindAck:
				msg = &ackMsg{}
			default:
				continue
			}
			if decode(fr, msg) == nil {
				if d, ok := msg.(*doneMsg); ok {
					d.result()
				}
				if r, ok := msg.(*replyMsg); ok && r.Completion != nil {
					src := "fmt.Pr"
					c := checkCompletion(*r.Completion, src, len(src))
					if c.Start < 0 || c.Start > len(src) || len(c.Candidates) > namespace.MaxCandidates {
						t.Fatalf("checkCompletion let %+v through", c)
					}
				}
			}
		}
	})
}

// FuzzFront feeds arbitrary frames to a namespace's receive, as a hostile
// worker would: an error ends that worker; nothing panics, and no
// evaluation is told it ended twice.
func FuzzFront(f *testing.F) {
	var buf bytes.Buffer
	w := newFrameWriter(&buf)
	w.write(kindOpened, 1, openedMsg{})
	w.write(kindOutput, 1, []byte("x"))
	w.write(kindDone, 1, doneMsg{Line: 1})
	w.write(kindDone, 1, doneMsg{Line: 2})
	w.write(kindSaved, 1, savedMsg{Line: 1, State: []byte{0xa0}})
	w.write(kindReply, 1, replyMsg{ID: 1})
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		p := &proc{}
		n := &Namespace{p: p, calls: map[uint64]chan replyMsg{1: make(chan replyMsg, 1)}, wake: make(chan struct{}, 1), opened: make(chan openedMsg, 1)}
		n.eval = &pending{p: p, arrived: make(chan struct{}), passed: make(chan struct{})}
		r := bufio.NewReader(bytes.NewReader(b))
		for {
			fr, err := readFrame(r)
			if err != nil {
				return
			}
			if err := n.receive(p, fr); err != nil {
				return
			}
		}
	})
}

// TestRolledBackText: what a user is told, for each way a restore went.
func TestRolledBackText(t *testing.T) {
	for _, tc := range []struct {
		name string
		rb   RolledBack
		want []string
	}{
		{"restored", RolledBack{Reason: "fatal error: concurrent map writes"},
			[]string{"ended: fatal error: concurrent map writes.", "restored as it was before this line."}},
		{"lost values", RolledBack{Reason: "SIGTRAP: trace trap", Lost: []string{"ch (chan int): channels cannot be carried"}},
			[]string{"before this line.", "Not carried: ch (chan int)"}},
		{"stale", RolledBack{Reason: "it was killed by SIGKILL", Stale: "it ended before the state after the last line reached the server"},
			[]string{"before an earlier line", "reached the server"}},
		{"empty", RolledBack{Reason: "x", Empty: "restore: type Point does not compile"},
			[]string{"could not be restored (restore: type Point does not compile): it starts empty."}},
		{"later", RolledBack{Reason: "x", Later: "worker: starting /proc/self/exe: no such file"},
			[]string{"No worker could be started for it yet", "the next line tries again."}},
		{"another session's line too", RolledBack{Reason: "SIGTRAP: trace trap", Others: 1},
			[]string{"running this line, and another session's, ended: SIGTRAP"}},
		{"other sessions' lines too", RolledBack{Reason: "SIGTRAP: trace trap", Others: 3},
			[]string{"running this line, and 3 other sessions' lines, ended: SIGTRAP"}},
	} {
		got := tc.rb.Error()
		if !errors.Is(&tc.rb, namespace.ErrRolledBack) {
			t.Errorf("%s: not namespace.ErrRolledBack", tc.name)
		}
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q lacks %q", tc.name, got, w)
			}
		}
	}
}
