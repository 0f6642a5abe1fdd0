package migrate

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// BenchmarkSendReceive passes n descriptors, each with a small record,
// through Send's batching and Receive's checks over a real SEQPACKET
// socket pair, in one process. Closing the received descriptors is not
// timed.
func BenchmarkSendReceive(b *testing.B) {
	for _, n := range []int{1, 100, 1000, 4000} {
		b.Run(fmt.Sprintf("descriptors=%d", n), func(b *testing.B) {
			a, c := seqpacketPair(b)
			conn := devNullFile(b)
			recs := make([]Record, n)
			for i := range recs {
				recs[i] = Record{ID: uint64(i), Data: []byte("a small record.."), Conn: conn}
			}
			wch, p := newChannel(a), newPredecessor(c)
			errc := make(chan error, 1)
			b.ResetTimer()
			for range b.N {
				go func() { errc <- sendState(wch, Header{}, nil, recs) }()
				_, _, got, err := p.Receive()
				if err := <-errc; err != nil {
					b.Fatal(err)
				}
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				for _, r := range got {
					r.Conn.Close()
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkPassDescriptors is BenchmarkSendReceive without Receive's
// wrapping of each descriptor in an *os.File (an fcntl and a finalizer
// each): the raw cost of moving n descriptors and their records.
func BenchmarkPassDescriptors(b *testing.B) {
	for _, n := range []int{1, 100, 1000, 4000} {
		b.Run(fmt.Sprintf("descriptors=%d", n), func(b *testing.B) {
			a, c := seqpacketPair(b)
			conn := devNullFile(b)
			recs := make([]Record, n)
			for i := range recs {
				recs[i] = Record{ID: uint64(i), Data: []byte("a small record.."), Conn: conn}
			}
			wch, rch := newChannel(a), newChannel(c)
			errc := make(chan error, 1)
			var got []int
			b.ResetTimer()
			for range b.N {
				go func() { errc <- sendState(wch, Header{}, nil, recs) }()
				got = got[:0]
				for _, want := range []byte{kindHeader} {
					if kind, _, _, err := rch.readMessage(); err != nil || kind != want {
						b.Fatal(kind, err)
					}
				}
				for len(got) < n {
					kind, payload, fds, err := rch.readMessage()
					if err != nil || kind != kindBatch {
						b.Fatal(kind, err)
					}
					if _, _, err := decodeBatch(payload, len(fds)); err != nil {
						b.Fatal(err)
					}
					got = append(got, fds...)
				}
				if err := <-errc; err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				closeFDs(got)
				b.StartTimer()
			}
		})
	}
}

// BenchmarkStartToReady measures fork+exec of a successor up to its
// READY (the timed part), then commits and waits for it to exit: the test
// binary, and testdata/successor, a minimal program built with the go
// command.
func BenchmarkStartToReady(b *testing.B) {
	b.Run("binary=test", func(b *testing.B) {
		benchmarkStartToReady(b, testBinary(b), []string{childArg, "ready"})
	})
	b.Run("binary=minimal", func(b *testing.B) {
		goCmd, err := exec.LookPath("go")
		if err != nil {
			b.Skip("no go command to build testdata/successor")
		}
		bin := filepath.Join(b.TempDir(), "successor")
		if out, err := exec.Command(goCmd, "build", "-o", bin, "./testdata/successor").CombinedOutput(); err != nil {
			b.Fatalf("building testdata/successor: %v\n%s", err, out)
		}
		benchmarkStartToReady(b, bin, nil)
	})
}

func benchmarkStartToReady(b *testing.B, bin string, args []string) {
	b.ResetTimer()
	for range b.N {
		s, err := Start(context.Background(), bin, args, os.Stderr, os.Stderr)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Send(context.Background(), Header{}, nil, nil); err != nil {
			b.Fatal(err)
		}
		if _, err := s.WaitReady(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := s.Commit(); err != nil {
			b.Fatal(err)
		}
		<-s.exited
		b.StartTimer()
	}
}
