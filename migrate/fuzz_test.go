package migrate

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// Seeds for the fuzzers live in testdata/fuzz/<Fuzzer>/; go test runs
// them as regression cases. -update-seeds rewrites the generated ones.
var updateSeeds = flag.Bool("update-seeds", false, "rewrite the fuzz seeds in testdata/fuzz")

func FuzzDecodeHeader(f *testing.F) {
	f.Add(encodeHeader(FormatVersion, 1, 600, []byte("meta")))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, listeners, err := decodeHeader(b)
		if err != nil {
			return
		}
		if got := encodeHeader(h.Version, listeners, h.Sessions, h.Meta); !bytes.Equal(got, b) {
			t.Fatalf("re-encoded %x, want %x", got, b)
		}
	})
}

func FuzzDecodeBatch(f *testing.F) {
	for _, s := range batchSeeds() {
		f.Add(s.b, s.nfds)
	}
	f.Fuzz(func(t *testing.T, b []byte, nfds uint8) {
		recs, hasConn, err := decodeBatch(b, int(nfds))
		if err != nil {
			return
		}
		// Re-encode: only Conn's nil-ness counts.
		var data []byte
		for i := range recs {
			if hasConn[i] {
				recs[i].Conn = os.Stdin
			}
			data = append(data, recs[i].Data...)
		}
		if got := append(encodeBatchTable(recs), data...); !bytes.Equal(got, b) {
			t.Fatalf("re-encoded %x, want %x", got, b)
		}
	})
}

type batchSeed struct {
	b    []byte
	nfds uint8
}

func batchSeeds() []batchSeed {
	recs := []Record{{ID: 1, Data: []byte("one"), Conn: os.Stdin}, {ID: 2}, {ID: 3, Data: []byte("three"), Conn: os.Stdin}}
	return []batchSeed{
		{append(encodeBatchTable(recs), "onethree"...), 2},
		{append(encodeBatchTable(recs[1:2]), ""...), 0},
	}
}

// fakePackets replays packets to a channel, as a SEQPACKET socket would,
// without descriptors, and keeps what the channel sends.
type fakePackets struct{ packets, sent [][]byte }

func (f *fakePackets) ReadMsgUnix(b, oob []byte) (n, oobn, flags int, addr *net.UnixAddr, err error) {
	if len(f.packets) == 0 {
		return 0, 0, 0, nil, io.EOF
	}
	p := f.packets[0]
	f.packets = f.packets[1:]
	n = copy(b, p)
	if n < len(p) {
		flags |= unix.MSG_TRUNC
	}
	return n, 0, flags, nil, nil
}

func (f *fakePackets) WriteMsgUnix(b, oob []byte, addr *net.UnixAddr) (n, oobn int, err error) {
	f.sent = append(f.sent, append([]byte(nil), b...))
	return len(b), len(oob), nil
}

// splitPackets reads a fuzz input as packets, each a big-endian uint32
// length and that many bytes.
func splitPackets(b []byte) [][]byte {
	var ps [][]byte
	for len(b) >= 4 {
		n := int(min(binary.BigEndian.Uint32(b), uint32(len(b)-4)))
		ps = append(ps, b[4:4+n])
		b = b[4+n:]
	}
	return ps
}

func joinPackets(ps [][]byte) []byte {
	var b []byte
	for _, p := range ps {
		b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	return b
}

// receiveSeed is a whole handoff (a header, two batches) as Send writes
// it, without descriptors.
func receiveSeed() []byte {
	fp := &fakePackets{}
	recs := []Record{{ID: 1, Data: []byte("a")}, {ID: 2, Data: []byte("bb")}}
	for i := range maxFDsPerPacket + 1 {
		recs = append(recs, Record{ID: uint64(10 + i)})
	}
	if err := sendState(newChannel(fp), Header{Meta: []byte("m")}, nil, recs); err != nil {
		panic(err)
	}
	return joinPackets(fp.sent)
}

// updateSeed is a handoff that two UPDATEs precede, the second in two
// packets.
func updateSeed() []byte {
	return append(joinPackets([][]byte{
		{kindUpdate, 0, 'a'},
		{kindUpdate, flagMore, 'b'},
		{kindUpdate, 0, 'c'},
	}), receiveSeed()...)
}

// continuedSeed is a handoff whose header and batch each span two
// packets.
func continuedSeed() []byte {
	h := encodeHeader(FormatVersion, 0, 1, []byte("meta"))
	b := append(encodeBatchTable([]Record{{ID: 7, Data: []byte("data")}}), "data"...)
	return joinPackets([][]byte{
		append([]byte{kindHeader, flagMore}, h[:10]...),
		append([]byte{kindHeader, 0}, h[10:]...),
		append([]byte{kindBatch, flagMore}, b[:5]...),
		append([]byte{kindBatch, 0}, b[5:]...),
	})
}

// FuzzReceive runs whole handoffs, packet by packet, through Receive.
func FuzzReceive(f *testing.F) {
	receive := func(b []byte) (Header, []*os.File, []Record, error) {
		p := &Predecessor{ch: newChannel(&fakePackets{packets: splitPackets(b)}), pidfd: -1}
		p.HandleUpdates(func(data []byte) []byte { return data })
		return p.Receive()
	}
	for _, seed := range [][]byte{receiveSeed(), continuedSeed(), updateSeed()} {
		if _, _, _, err := receive(seed); err != nil {
			f.Fatalf("a seed handoff does not decode: %v", err)
		}
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, ls, recs, err := receive(b)
		if err != nil {
			return
		}
		if len(ls) != 0 || len(recs) != h.Sessions {
			t.Fatalf("%d listeners without descriptors, %d records for %d sessions", len(ls), len(recs), h.Sessions)
		}
		for _, r := range recs {
			if r.Conn != nil {
				t.Fatal("a connection without descriptors")
			}
		}
	})
}

func FuzzReadFrame(f *testing.F) {
	var b bytes.Buffer
	writeFrame(&b, frameProgress, []byte("starting\n"))
	resp, _ := encodeResponse(Response{OK: true, Output: "pid 1"})
	writeFrame(&b, frameResponse, resp)
	f.Add(b.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		for {
			kind, payload, err := readFrame(r)
			if err != nil {
				if err != io.EOF && !errors.Is(err, ErrControlProtocol) {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var out bytes.Buffer
			writeFrame(&out, kind, payload)
			if again, p2, err := readFrame(&out); err != nil || again != kind || !bytes.Equal(p2, payload) {
				t.Fatalf("frame did not round-trip: %v", err)
			}
		}
	})
}

func FuzzDecodeRequest(f *testing.F) {
	for _, req := range requestSeeds() {
		b, _ := encodeRequest(req)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := decodeRequest(b)
		if err != nil {
			return
		}
		b2, err := encodeRequest(req)
		if err != nil {
			t.Fatalf("decoded request does not encode: %v", err)
		}
		req2, err := decodeRequest(b2)
		if err != nil || req2.Command != req.Command || !maps.Equal(req2.Args, req.Args) {
			t.Fatalf("round trip: %+v, %v; want %+v", req2, err, req)
		}
	})
}

func requestSeeds() []Request {
	return []Request{
		{Command: "status"},
		{Command: "migrate", Args: map[string]string{"binary": "/usr/local/bin/translucent", "timeout": "5s"}},
	}
}

func FuzzDecodeResponse(f *testing.F) {
	for _, resp := range responseSeeds() {
		b, _ := encodeResponse(resp)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		resp, err := decodeResponse(b)
		if err != nil {
			return
		}
		b2, err := encodeResponse(resp)
		if err != nil {
			t.Fatalf("decoded response does not encode: %v", err)
		}
		resp2, err := decodeResponse(b2)
		if err != nil || resp2.OK != resp.OK || resp2.Error != resp.Error || resp2.Output != resp.Output || !bytes.Equal(resp2.Data, resp.Data) {
			t.Fatalf("round trip: %+v, %v; want %+v", resp2, err, resp)
		}
	})
}

func responseSeeds() []Response {
	return []Response{
		{OK: true, Output: "new pid 4242, 3 sessions moved", Data: []byte{0xa1, 0x01, 0x02}},
		{Error: "successor refused the state: no"},
	}
}

// TestUpdateFuzzSeeds writes the seed corpus with -update-seeds.
func TestUpdateFuzzSeeds(t *testing.T) {
	if !*updateSeeds {
		t.Skip("run with -update-seeds to rewrite testdata/fuzz")
	}
	write := func(fuzzer, name string, values ...any) {
		dir := filepath.Join("testdata", "fuzz", fuzzer)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		s := "go test fuzz v1\n"
		for _, v := range values {
			switch v := v.(type) {
			case []byte:
				s += fmt.Sprintf("[]byte(%q)\n", v)
			case uint8:
				s += fmt.Sprintf("byte(%q)\n", v)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("FuzzDecodeHeader", "valid", encodeHeader(FormatVersion, 2, 600, []byte("old pid 1")))
	write("FuzzDecodeHeader", "version2", encodeHeader(2, 0, 0, nil))
	write("FuzzDecodeHeader", "meta-short", encodeHeader(FormatVersion, 0, 0, []byte("meta"))[:headerSize+2])
	for i, s := range batchSeeds() {
		write("FuzzDecodeBatch", fmt.Sprintf("valid%d", i), s.b, s.nfds)
	}
	write("FuzzDecodeBatch", "count-zero", []byte{0, 0}, uint8(0))
	write("FuzzReceive", "handoff", receiveSeed())
	write("FuzzReceive", "continued", continuedSeed())
	seed := splitPackets(receiveSeed())
	write("FuzzReceive", "truncated", joinPackets(seed[:2]))
	for i, req := range requestSeeds() {
		b, _ := encodeRequest(req)
		write("FuzzDecodeRequest", fmt.Sprintf("valid%d", i), b)
	}
	write("FuzzDecodeRequest", "dup-key", []byte{0xa2, 0x01, 0x61, 'a', 0x01, 0x61, 'b'})
	write("FuzzDecodeRequest", "deep", bytes.Repeat([]byte{0x81}, 40))
	for i, resp := range responseSeeds() {
		b, _ := encodeResponse(resp)
		write("FuzzDecodeResponse", fmt.Sprintf("valid%d", i), b)
	}
	write("FuzzDecodeResponse", "indefinite", []byte{0xbf, 0x01, 0xf5, 0xff})
	var frames bytes.Buffer
	writeFrame(&frames, frameProgress, []byte("step 1\n"))
	resp, _ := encodeResponse(responseSeeds()[0])
	writeFrame(&frames, frameResponse, resp)
	write("FuzzReadFrame", "progress-response", frames.Bytes())
	write("FuzzReadFrame", "huge", []byte{'A', 0xff, 0xff, 0xff, 0xff})
}
