package repl

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"
)

// What a pause sends of a history after a precopy is, put back on the
// precopy's entries, the history as it is: for each way the history can
// change since, or it goes whole.
func TestHistoryTail(t *testing.T) {
	add := func(n int) func(h *history) {
		return func(h *history) {
			for i := range n {
				h.Add(fmt.Sprintf("after %d", i))
			}
		}
	}
	tests := []struct {
		name   string
		before int // entries before the precopy
		change func(h *history)
		whole  bool
		budget int64 // bytes the precopy may carry; 0: plenty
	}{
		{"nothing since", 10, func(*history) {}, false, 0},
		{"added since", 10, add(5), false, 0},
		{"added past the size: the oldest dropped", historySize, add(30), false, 0},
		{"every precopied entry dropped", historySize, add(historySize + 7), false, 0},
		{"a multi-line input made one entry", 10, func(h *history) {
			h.markInput()
			h.Add("func f() {")
			h.Add("}")
			h.endInput("func f() {\n}")
		}, false, 0},
		{"an input that took back a precopied entry", 10, func(h *history) {
			h.markInput()
			h.mu.Lock()
			h.added = 3 // as if its lines began before the precopy
			h.mu.Unlock()
			h.endInput("joined")
		}, true, 0},
		{"cleared", 10, func(h *history) { h.clear(); h.Add("x") }, true, 0},
		{"loaded from the user's file", 10, func(h *history) { h.load([]string{"old"}) }, true, 0},
		{"over the precopy's budget", 10, add(5), true, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &history{}
			for i := range tt.before {
				h.Add(fmt.Sprintf("before %d", i))
			}
			budget := new(ListBudget)
			budget.left.Store(int64(cmp.Or(tt.budget, maxPrecopyLists)))
			base := h.precopy(budget)
			if tt.budget != 0 && base != nil {
				t.Errorf("the precopy carried %d entries over its budget", len(base))
			}
			tt.change(h)
			entries, skip, _ := h.export(true)
			if (skip == nil) != tt.whole {
				t.Fatalf("sent whole: %v, want %v", skip == nil, tt.whole)
			}
			got := entries
			if skip != nil {
				var err error
				if got, err = untail(base, *skip, entries); err != nil {
					t.Fatal(err)
				}
				if len(entries) > len(h.Entries())-(len(base)-*skip) {
					t.Errorf("a tail of %d entries, more than the %d added", len(entries), len(h.Entries())-(len(base)-*skip))
				}
			}
			if want := h.Entries(); !slices.Equal(got, want) {
				t.Errorf("the new process would have\n%q\nwant\n%q", got, want)
			}
			if entries, skip, _ := h.export(false); skip != nil || !slices.Equal(entries, h.Entries()) {
				t.Error("without tails, the history is not sent whole")
			}
		})
	}
}

func TestUntailRefusesWhatIsNotThere(t *testing.T) {
	for _, skip := range []int{-1, 4} {
		if _, err := untail([]string{"a", "b", "c"}, skip, nil); err == nil {
			t.Errorf("skip %d of 3: no error", skip)
		}
	}
}

// A migration's pause sends a session's history and record as tails to a
// process that built the session ahead from the precopy and says it keeps
// its lists; that process has them whole. To one that does not say so (an
// older build), they go whole.
func TestPauseSendsListTails(t *testing.T) {
	for _, tails := range []bool{true, false} {
		t.Run(fmt.Sprintf("tails=%v", tails), func(t *testing.T) {
			old := testServer(t)
			sess, client := runningSession(t, old, "x := 1\r")
			readUntil(t, client, ">>> ")
			for i := range 20 {
				fmt.Fprintf(client, "x = %d\r", i)
				readUntil(t, client, ">>> ")
			}
			// The precopy, through a file as between processes.
			live, err := sess.LiveState(true, NewListBudget(), nil)
			if err != nil {
				t.Fatal(err)
			}
			f := &SnapshotFile{Format: SnapshotFormat, Version: SnapshotFileVersion, Sessions: []SessionState{live}}
			pre, err := ReadSnapshotFile(bytes.NewReader(encodeFile(t, f)))
			if err != nil {
				t.Fatal(err)
			}
			next := testServer(t)
			p := Prebuild(next, &next.cfg, pre.Sessions[0])
			if p == nil {
				t.Fatal("nothing built ahead")
			}
			for _, line := range []string{"y := 2", "x + y"} {
				fmt.Fprintf(client, "%s\r", line)
				readUntil(t, client, ">>> ")
			}
			wantHist := sess.hist.Entries()
			sess.mu.Lock()
			wantRecord := slices.Clone(sess.record)
			sess.mu.Unlock()

			grace, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			sess.Pause(context.Background(), grace)
			defer sess.Resume()
			exported, err := sess.Export(p.Digest(), tails)
			if err != nil {
				t.Fatal(err)
			}
			st, err := decodeSessionState(exported.State)
			if err != nil {
				t.Fatal(err)
			}
			if sent := st.HistorySkip != nil && st.RecordSkip != nil; sent != tails {
				t.Fatalf("sent as tails: %v, want %v", sent, tails)
			}
			if tails && (len(st.History) != 2 || len(st.Record) != 2) {
				t.Errorf("tails of %d history entries and %d inputs, want the 2 typed since the precopy", len(st.History), len(st.Record))
			}
			got, _ := restoreOnPipe(t, next, st, p)
			if h := got.hist.Entries(); !slices.Equal(h, wantHist) {
				t.Errorf("history in the new process\n%q\nwant\n%q", h, wantHist)
			}
			if !slices.Equal(got.record, wantRecord) || got.recordBytes != recordSize(wantRecord) {
				t.Errorf("record in the new process\n%q\nwant\n%q", got.record, wantRecord)
			}
		})
	}
}

// A record whose lists are tails, arriving where no precopy was built,
// fails its restore instead of arriving with lists cut short.
func TestTailWithoutPrecopy(t *testing.T) {
	st := validState()
	skip := 0
	st.HistorySkip = &skip
	server, c := net.Pipe()
	defer c.Close()
	if _, err := testServer(t).restore(st, server, nil); err == nil {
		t.Fatal("restored a history tail with no precopy to put it on")
	}
}
