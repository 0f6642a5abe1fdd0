package telnet

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"reflect"
	"testing"
	"time"
)

// viaJSON returns s as another process would receive it.
func viaJSON(t testing.TB, s State) State {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var out State
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// feed negotiates, then reads chunks through a Conn, one read each. With
// migrate it moves to a new Conn at every boundary, through State, JSON
// and Restore. With stuck the peer takes nothing after the offers until
// every chunk is read, as a write deadline would have it: the answers wait
// in the Conn, and move with it. It returns the data read, everything sent
// and the final state, and fails if memory is not bounded.
func feed(t testing.TB, chunks [][]byte, migrate, stuck bool) (data, sent []byte, st State) {
	t.Helper()
	sc := &scriptConn{}
	c := NewConn(sc)
	if err := c.Negotiate(); err != nil {
		t.Fatal(err)
	}
	sc.setStuck(stuck)
	buf := make([]byte, 4096)
	for _, chunk := range chunks {
		sc.push(chunk)
		d, err := readWith(t, c, buf)
		if err != io.EOF {
			t.Fatalf("Read failed with %v, want io.EOF", err)
		}
		data = append(data, d...)
		if cap(c.dec.sb) > maxSB || len(c.out) > maxUnsent || !stuck && len(c.out) > 0 {
			t.Fatalf("subnegotiation buffer %d bytes, %d answers unsent", cap(c.dec.sb), len(c.out))
		}
		if p := c.dec.pending(); len(p) > 2+2*maxSB+1 {
			t.Fatalf("%d bytes pending", len(p))
		}
		if migrate {
			c = Restore(sc, viaJSON(t, c.State()))
		}
	}
	if stuck {
		sc.setStuck(false)
		if _, err := c.Write(nil); err != nil { // sends what is owed first
			t.Fatal(err)
		}
	}
	return data, sc.take(), viaJSON(t, c.State())
}

func TestStateJSON(t *testing.T) {
	s := State{
		Options:      []OptionState{{Option: Echo, Us: QYes}, {Option: NAWS, Him: QWantNo, HimQ: true}},
		EchoAnswered: true,
		Width:        80, Height: 24,
		TerminalType: "xterm",
		Pending:      []byte{IAC, SB, byte(TTYPE), IAC},
		CR:           true,
	}
	if got := viaJSON(t, s); !reflect.DeepEqual(got, s) {
		t.Errorf("JSON round trip gave %+v, want %+v", got, s)
	}
}

// TestRestoreAnywhere moves the connection to a new Conn at every byte of
// an exchange and expects exactly what one Conn would have done.
func TestRestoreAnywhere(t *testing.T) {
	in := []byte("ab\r" + seq(IAC, DO, byte(Echo), IAC, WILL, byte(TTYPE), IAC, NOP) + "\ncd\xff\xff" +
		seq(IAC, SB, byte(NAWS), 0, IAC, IAC, 0, 24, IAC, SE) +
		seq(IAC, SB, byte(TTYPE), ttypeIS) + "vt100" + seq(IAC, SE) +
		seq(IAC, SB, byte(TTYPE)) + string(make([]byte, maxSB+10)) + seq(IAC, SE) +
		seq(IAC, AYT, IAC, DO, 42, IAC, WONT, byte(SGA)) + "e\r")
	wantData, wantSent, wantState := feed(t, [][]byte{in}, false, false)
	if !wantState.EchoAnswered || wantState.Width != 255 || wantState.TerminalType != "vt100" {
		t.Fatalf("the exchange did not go as planned: %+v", wantState)
	}
	for _, stuck := range []bool{false, true} {
		for i := range in {
			data, sent, st := feed(t, [][]byte{in[:i], in[i:]}, true, stuck)
			if !bytes.Equal(data, wantData) || !bytes.Equal(sent, wantSent) || !reflect.DeepEqual(st, wantState) {
				t.Errorf("moved after byte %d, peer not reading %v: data %q, sent %q, state %+v; want %q, %q, %+v",
					i, stuck, data, sent, st, wantData, wantSent, wantState)
			}
		}
	}
}

// TestRestoreMidNegotiation moves a real connection while its negotiation
// and a window size report are both half done.
func TestRestoreMidNegotiation(t *testing.T) {
	srv1, cli1 := net.Pipe()
	t.Cleanup(func() { srv1.Close(); cli1.Close() })
	c1 := NewConn(srv1)
	sent1 := drain(cli1)

	if err := c1.Negotiate(); err != nil {
		t.Fatal(err)
	}
	readErr := make(chan error, 1)
	go func() { // ends at the deadline below
		_, err := c1.Read(make([]byte, 64))
		readErr <- err
	}()
	// net.Pipe's Write returns once the reader has taken every byte.
	if _, err := cli1.Write([]byte(seq(IAC, DO, byte(Echo), IAC, WILL, byte(NAWS), IAC, SB, byte(NAWS), 0, 80))); err != nil {
		t.Fatal(err)
	}
	srv1.SetReadDeadline(time.Now())
	if err := <-readErr; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read failed with %v, want the deadline", err)
	}
	st := viaJSON(t, c1.State())
	srv1.Close()
	wantOffers := seq(IAC, WILL, byte(Echo), IAC, WILL, byte(SGA), IAC, DO, byte(SGA), IAC, DO, byte(NAWS), IAC, DO, byte(TTYPE))
	if got := sent1(); string(got) != wantOffers {
		t.Errorf("first Conn sent %q, want only the offers %q", got, wantOffers)
	}

	srv2, cli2 := net.Pipe()
	t.Cleanup(func() { srv2.Close(); cli2.Close() })
	c2 := Restore(srv2, st)
	sent2 := drain(cli2)
	if !answered(c2) || !c2.Enabled(Echo, true) || !c2.Enabled(NAWS, false) {
		t.Error("restored Conn lost the ECHO answer or NAWS")
	}
	if err := c2.Negotiate(); err != nil { // nothing left to offer
		t.Fatal(err)
	}
	peerErr := make(chan error, 1)
	go func() { // ends once c2 has read it all
		_, err := cli2.Write([]byte(seq(0, 24, IAC, SE, IAC, DO, byte(SGA), IAC, WILL, byte(SGA), IAC, WILL, byte(TTYPE)) + "hi\r\n"))
		peerErr <- err
	}()
	var data []byte
	buf := make([]byte, 64)
	for !bytes.HasSuffix(data, []byte("\r")) {
		n, err := c2.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, buf[:n]...)
	}
	if err := <-peerErr; err != nil {
		t.Fatal(err)
	}
	if string(data) != "hi\r" {
		t.Errorf("read %q, want \"hi\\r\"", data)
	}
	settle(t, c2) // the TTYPE request is written after the read that asked for it
	if w, h := c2.WindowSize(); w != 80 || h != 24 {
		t.Errorf("WindowSize = %d, %d, want 80, 24", w, h)
	}
	if !c2.Enabled(SGA, true) || !c2.Enabled(SGA, false) || !c2.Enabled(TTYPE, false) {
		t.Error("SGA or TTYPE not on")
	}
	srv2.Close()
	want := seq(IAC, SB, byte(TTYPE), ttypeSEND, IAC, SE)
	if got := sent2(); string(got) != want {
		t.Errorf("restored Conn sent %q, want only %q", got, want)
	}
}

// drain reads conn until it closes; the returned func waits for that and
// returns what was read.
func drain(conn net.Conn) func() []byte {
	ch := make(chan []byte, 1)
	go func() { // ends when conn's other end closes
		b, _ := io.ReadAll(conn)
		ch <- b
	}()
	return func() []byte { return <-ch }
}

// TestRestoreDistrusts: a State that State could not have produced is made
// harmless.
func TestRestoreDistrusts(t *testing.T) {
	sc := &scriptConn{}
	c := Restore(sc, State{
		Options: []OptionState{{Option: SGA, Us: 9, Him: QYes}},
		Pending: []byte(seq(IAC, DO, byte(Echo), IAC, AYT) + "x"),
	})
	if answered(c) || c.Enabled(Echo, true) {
		t.Error("a complete command in Pending acted")
	}
	if got := c.opts[SGA].us.state; got != QNo {
		t.Errorf("unknown QState restored as %v, want NO", got)
	}
	if !c.Enabled(SGA, false) {
		t.Error("valid option state lost")
	}
	sc.push([]byte("y"))
	if data, _ := readAll(t, c); string(data) != "y" {
		t.Errorf("read %q, want \"y\"", data)
	}
	if sent := sc.take(); len(sent) != 0 {
		t.Errorf("sent %q", sent)
	}
}
