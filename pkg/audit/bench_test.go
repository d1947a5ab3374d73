package audit

import (
	"testing"

	"github.com/focalpoint-gateway/focalpoint/pkg/ledger"
)

// BenchmarkVerify verifies a sender's ledger of a few thousand messages, each
// with its receipt: one envelope and one receipt signature a message.
func BenchmarkVerify(b *testing.B) {
	const messages = 3000
	p := newPairOpts(b, ledger.Options{NoSync: true})
	for range messages {
		p.exchange(p.id, p.kh)
	}
	p.close()
	l := openRO(b, p.id.path)
	keys := keysFor(b, p.id, p.kh)
	b.ReportAllocs()
	var entries uint64
	for b.Loop() {
		r, err := Verify(b.Context(), l, keys)
		if err != nil {
			b.Fatal(err)
		}
		entries += r.Entries
	}
	b.ReportMetric(float64(entries)/b.Elapsed().Seconds(), "entries/s")
}
