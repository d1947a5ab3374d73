package audit

import (
	"context"
	"testing"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/note"

	"github.com/focalpoint-gateway/focalpoint/pkg/envelope"
	envelopev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/envelope/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/ledger"
)

// reconcile reconciles the pair's ledger files, read-only, with published keys.
func reconcile(t *testing.T, p *pair, idPath, khPath string) []Discrepancy {
	t.Helper()
	d, err := Reconcile(context.Background(), openRO(t, idPath), openRO(t, khPath), keysFor(t, p.id, p.kh))
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range d {
		t.Log(x)
	}
	return d
}

func wantDiscrepancies(t *testing.T, got []Discrepancy, want ...Discrepancy) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d discrepancies %v, want %d %v", len(got), got, len(want), want)
	}
	for i := range want {
		if got[i].Kind != want[i].Kind || got[i].MessageID != want[i].MessageID || got[i].Detail == "" {
			t.Errorf("discrepancy %d: got %v, want kind %q about %q", i, got[i], want[i].Kind, want[i].MessageID)
		}
	}
}

func TestReconcileAgrees(t *testing.T) {
	p := newPair(t)
	for i := 0; i < 5; i++ {
		p.exchange(p.id, p.kh)
		p.exchange(p.kh, p.id)
	}
	p.close()
	wantDiscrepancies(t, reconcile(t, p, p.id.path, p.kh.path))
	wantDiscrepancies(t, reconcile(t, p, p.kh.path, p.id.path))
}

func TestReconcileInFlight(t *testing.T) {
	f := newFixture(t)
	p := f.p
	// The fixture's m4 never reached Cambodia.
	wantDiscrepancies(t, reconcile(t, p, p.id.path, p.kh.path),
		Discrepancy{Kind: DiscrepancyUndelivered, MessageID: f.m4.ID})
	// The other way round, it is Cambodia's ledger that lacks what Indonesia sent.
	wantDiscrepancies(t, reconcile(t, p, p.kh.path, p.id.path),
		Discrepancy{Kind: DiscrepancyUndelivered, MessageID: f.m4.ID})

	p2 := newPair(t)
	x := p2.deliver(p2.kh, p2.id)
	p2.close()
	wantDiscrepancies(t, reconcile(t, p2, p2.id.path, p2.kh.path),
		Discrepancy{Kind: DiscrepancyInFlight, MessageID: x.ID})
}

// TestReconcileCatchesTruncation cuts the tail off one ledger, index rows and
// all, as if it were restored from an older copy. Each ledger still verifies
// by itself; only the counterpart's ledger shows what is missing.
func TestReconcileCatchesTruncation(t *testing.T) {
	p := newPair(t)
	p.exchange(p.id, p.kh)
	p.exchange(p.kh, p.id)
	last := p.exchange(p.id, p.kh) // the one that goes missing
	p.close()

	for _, tc := range []struct {
		name  string
		cut   *node
		from  uint64
		wants Discrepancy
	}{
		// Indonesia's ledger loses a message it sent and holds a receipt for.
		{"sender", p.id, last.Sent, Discrepancy{Kind: DiscrepancyNotSent, MessageID: last.ID}},
		// Cambodia's ledger loses a message it received and receipted.
		{"receiver", p.kh, last.Received, Discrepancy{Kind: DiscrepancyNotReceived, MessageID: last.ID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idPath, khPath := copyFile(t, p.id.path), copyFile(t, p.kh.path)
			cut := idPath
			if tc.cut == p.kh {
				cut = khPath
			}
			tamper(t, cut, func(tx *bolt.Tx) error { truncate(t, tx, tc.from); return nil })
			r, err := Verify(context.Background(), openRO(t, cut), keysFor(t, p.id, p.kh))
			if err != nil {
				t.Fatalf("the truncated ledger does not verify by itself: %v", err)
			}
			if r.Entries != tc.from {
				t.Fatalf("truncated ledger has %d entries, want %d", r.Entries, tc.from)
			}
			wantDiscrepancies(t, reconcile(t, p, idPath, khPath), tc.wants)
		})
	}
}

func TestReconcileMismatches(t *testing.T) {
	ctx := context.Background()

	t.Run("envelope", func(t *testing.T) {
		// Indonesia's node ledgers one envelope and delivers another under the
		// same message ID (signed twice, say, across a restart).
		p := newPair(t)
		m, _ := p.seal(p.id, p.kh)
		p.id.send(m)
		again, _ := p.seal(p.id, p.kh)
		again.ID = m.ID
		again.Envelope = resealWithID(t, p, again, m.ID)
		p.kh.receive(again, p.id)
		p.close()
		wantDiscrepancies(t, reconcile(t, p, p.id.path, p.kh.path),
			Discrepancy{Kind: DiscrepancyEnvelope, MessageID: m.ID})
	})

	t.Run("receipt", func(t *testing.T) {
		// Cambodia ledgers one receipt and returns another, validly signed.
		p := newPair(t)
		m, _ := p.seal(p.id, p.kh)
		p.id.send(m)
		res := p.kh.receive(m, p.id)
		other, err := p.kh.issuer(m, func(r *envelopev1.Receipt) { r.LedgerIndex = res.Index + 40 })(res.Index, p.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		p.id.receiptReceived(m.ID, other)
		p.close()
		wantDiscrepancies(t, reconcile(t, p, p.id.path, p.kh.path),
			Discrepancy{Kind: DiscrepancyReceipt, MessageID: m.ID})
	})

	t.Run("config", func(t *testing.T) {
		p := newPair(t)
		p.exchange(p.id, p.kh)
		p.close()
		d := reconcile(t, p, p.id.path, p.id.path)
		wantDiscrepancies(t, d, Discrepancy{Kind: DiscrepancyConfig})
		if d[0].String() != d[0].Kind+": "+d[0].Detail {
			t.Errorf("String() = %q", d[0].String())
		}
	})

	t.Run("invalid ledger", func(t *testing.T) {
		f := newFixture(t)
		kh := copyFile(t, f.p.kh.path)
		tamper(t, kh, func(tx *bolt.Tx) error { flipBlobByte(t, tx, f.m1.Receipt); return nil })
		_, err := Reconcile(ctx, openRO(t, f.p.id.path), openRO(t, kh), nil)
		wantProblem(t, err, 2)
	})
}

// resealWithID signs m's message again, as the sender, under message ID id.
func resealWithID(t *testing.T, p *pair, m ledger.Message, id string) []byte {
	t.Helper()
	op, err := envelope.Open(m.Envelope, note.VerifierList(p.id.signer.Verifier()))
	if err != nil {
		t.Fatal(err)
	}
	op.Message.GetHeader().MessageId = id
	env, err := envelope.Seal(op.Message, p.id.signer)
	if err != nil {
		t.Fatal(err)
	}
	return env
}
