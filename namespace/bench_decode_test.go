package namespace

import "testing"

// BenchmarkSnapshotDecode is the CBOR half of BenchmarkRestore: decoding
// one typical session's record, as the new process does before Restore.
func BenchmarkSnapshotDecode(b *testing.B) {
	ns := typicalNamespace(b)
	data, _, _ := carry(b, ns)
	ns.Close()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var rec sessionRecord
		if err := snapshotDecMode.Unmarshal(data, &rec); err != nil {
			b.Fatal(err)
		}
	}
}
