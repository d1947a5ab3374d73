package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"

	"github.com/focalpoint-gateway/focalpoint/pkg/ledger"
)

// BenchmarkVerify verifies a generated sender's ledger: messages, each with
// its receipt (one signature an entry), and every 1000 entries a checkpoint
// the counterpart cosigned and one of the counterpart's this node cosigned
// (two signatures each). Signature checks dominate, and Verify spreads them
// over every core, so beside entries/s it measures, in the same run, how fast
// one core checks Ed25519 signatures and reports
//
//	ratio = entries/s / (cores × verify/s/core)
//
// which should be at least 0.8, and ratio-to-parallel, the same against what
// all cores verify together, measured just before (on a shared machine, less
// than cores × one core's rate). peak-live-heap-MiB shows Verify's memory does not
// grow with the ledger. FOCALPOINT_BENCH_ENTRIES sets the ledger's size
// (default 20000); with 1000000, generating the ledger takes over a minute
// and one Verify about half a minute: run it with -benchtime 1x.
func BenchmarkVerify(b *testing.B) {
	n := 20000
	if s := os.Getenv("FOCALPOINT_BENCH_ENTRIES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1000 {
			b.Fatalf("FOCALPOINT_BENCH_ENTRIES=%q: want a number of entries, at least 1000", s)
		}
		n = v
	}
	// As the audit commands run it.
	defer debug.SetGCPercent(debug.SetGCPercent(BatchGCPercent))
	start := time.Now()
	p := generateLedger(b, n)
	b.Logf("generated %d entries in %s", p.id.l.Size(), time.Since(start).Round(time.Millisecond))
	p.close()
	l := openRO(b, p.id.path)
	keys := keysFor(b, p.id, p.kh)

	before := verifyRate(time.Second)
	cores := runtime.GOMAXPROCS(0)
	// What all cores together verify on this machine now: on a shared
	// machine, less than cores × one core's rate.
	parallel := parallelVerifyRate(cores, time.Second)
	var entries uint64
	b.ReportAllocs()
	runtime.GC() // what the generator left is not Verify's
	peak := watchHeap()
	for b.Loop() {
		r, err := Verify(b.Context(), l, keys)
		if err != nil {
			b.Fatal(err)
		}
		entries += r.Entries
	}
	elapsed := b.Elapsed()
	b.ReportMetric(float64(peak())/(1<<20), "peak-live-heap-MiB")
	after := verifyRate(time.Second)
	perCore := (before + after) / 2
	rate := float64(entries) / elapsed.Seconds()
	b.ReportMetric(rate, "entries/s")
	b.ReportMetric(perCore, "verify/s/core")
	b.ReportMetric(float64(cores), "cores")
	b.ReportMetric(rate/(float64(cores)*perCore), "ratio")
	b.ReportMetric(rate/parallel, "ratio-to-parallel")
	b.Logf("one core verified %.0f then %.0f signatures/s; %d cores at once %.0f/s", before, after, cores, parallel)
}

// watchHeap samples the bytes of live heap objects (as of the last GC) until
// stop is called, which returns the most seen: Verify's memory must not grow
// with the ledger.
func watchHeap() (stop func() uint64) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak
	}
}

// parallelVerifyRate is how many signatures n goroutines check a second
// together, measured for about d.
func parallelVerifyRate(n int, d time.Duration) float64 {
	rates := make([]float64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { rates[i] = verifyRate(d) })
	}
	wg.Wait()
	sum := 0.0
	for _, r := range rates {
		sum += r
	}
	return sum
}

// verifyRate is how many Ed25519 signatures over 256 bytes one goroutine
// checks a second, measured for about d. The signatures are many and
// different, by different keys, as in a ledger: checking one signature over
// and over lets the processor learn the one path that verification takes
// through its variable-time code, and runs some 5% faster than any auditor
// can.
func verifyRate(d time.Duration) float64 {
	type signed struct{ pub, msg, sig []byte }
	set := make([]signed, 1024)
	for i := range set {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			panic(err)
		}
		msg := make([]byte, 256)
		rand.Read(msg)
		set[i] = signed{pub, msg, ed25519.Sign(priv, msg)}
	}
	start := time.Now()
	n := 0
	for time.Since(start) < d {
		for range 64 {
			s := set[n%len(set)]
			if !ed25519.Verify(s.pub, s.msg, s.sig) {
				panic("verify")
			}
			n++
		}
	}
	return float64(n) / time.Since(start).Seconds()
}

// generateLedger writes about n entries into the Indonesian node's ledger as
// its node would, without fsync: messages sent and receipted (the receipts
// signed by the Cambodian key, as the counterpart would), and every 1000
// entries a checkpoint cosigned by Cambodia and one of Cambodia's cosigned by
// Indonesia. Many writers at once, so the ledger's group commit batches them.
func generateLedger(b *testing.B, n int) *pair { return generateLedgerT(b, n) }

func generateLedgerT(b testing.TB, n int) *pair {
	b.Helper()
	p := newPairWith(b, pairConfig{ledger: ledger.Options{NoSync: true}, logs: true})
	ctx := context.Background()
	const writers = 32
	khSize := uint64(1)
	for p.id.l.Size() < uint64(n) {
		messages := min(500, (uint64(n)-p.id.l.Size()+1)/2)
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		per := (int(messages) + writers - 1) / writers
		for w := range writers {
			count := min(per, int(messages)-w*per)
			if count <= 0 {
				break
			}
			wg.Go(func() {
				for range count {
					m, _ := p.seal(p.id, p.kh)
					i, err := p.id.l.AppendSent(ctx, m, 0)
					if err != nil {
						errs <- err
						return
					}
					receipt, err := p.kh.issuer(m, nil)(i, p.clock.Now())
					if err != nil {
						errs <- err
						return
					}
					if _, err := p.id.l.AppendReceiptReceived(ctx, m.ID, receipt); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
		if p.id.l.Size() >= uint64(n) {
			break
		}
		// Cambodia cosigns Indonesia's latest checkpoint…
		signed := bytes.Clone(p.id.l.Checkpoint())
		cp, err := ledger.CheckpointOf(signed)
		if err != nil {
			b.Fatal(err)
		}
		both := cosignNote(b, signed, p.id.logSigner.Verifier(), p.kh.cosigner)
		if _, err := p.id.l.AppendCheckpointCosigned(ctx, cp.Size, both); err != nil {
			b.Fatal(err)
		}
		// … and Indonesia one of Cambodia's (its ledger is not kept here).
		khSize += 1000
		root := make([]byte, 32)
		rand.Read(root)
		text := log.Checkpoint{Origin: p.kh.name, Size: khSize, Hash: root}.Marshal()
		khSigned, err := note.Sign(&note.Note{Text: string(text)}, p.kh.logSigner)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.id.l.AppendWitnessed(ctx, khSize, cosignNote(b, khSigned, p.kh.logSigner.Verifier(), p.id.cosigner)); err != nil {
			b.Fatal(err)
		}
	}
	return p
}

func cosignNote(b testing.TB, signed []byte, v note.Verifier, s note.Signer) []byte {
	b.Helper()
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		b.Fatal(err)
	}
	out, err := note.Sign(n, s)
	if err != nil {
		b.Fatal(fmt.Errorf("cosign: %w", err))
	}
	return out
}
