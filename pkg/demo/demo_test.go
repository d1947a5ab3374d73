package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"

	ledgerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/ledger/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/ledger"
)

// The walking node end to end: two real nodes, mTLS on loopback, fsync'd
// ledgers, and an audit of both.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	res, err := Run(context.Background(), Options{Dir: dir, Out: &out})
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "demo: ok") {
		t.Fatalf("last line %q", last)
	}
	for _, id := range []string{res.AlertID, res.OutcomeID} {
		if !strings.Contains(out.String(), id) {
			t.Errorf("transcript does not name message %s", id)
		}
	}
	// Each message is a fact in both ledgers, exactly once of each kind.
	want := map[string][2][]ledgerv1.EntryKind{
		res.AlertID: {
			{ledgerv1.EntryKind_ENTRY_KIND_SENT, ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_RECEIVED},
			{ledgerv1.EntryKind_ENTRY_KIND_RECEIVED, ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_ISSUED},
		},
		res.OutcomeID: {
			{ledgerv1.EntryKind_ENTRY_KIND_RECEIVED, ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_ISSUED},
			{ledgerv1.EntryKind_ENTRY_KIND_SENT, ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_RECEIVED},
		},
	}
	for i, path := range res.Ledgers {
		l, err := ledger.Open(path, ledger.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		for id, kinds := range want {
			entries, err := l.MessageEntries(id)
			if err != nil {
				t.Fatal(err)
			}
			var got []ledgerv1.EntryKind
			for _, e := range entries {
				got = append(got, e.GetKind())
			}
			if len(got) != 2 || got[0] != kinds[i][0] || got[1] != kinds[i][1] {
				t.Errorf("ledger %d, message %s: kinds %v, want %v", i, id, got, kinds[i])
			}
		}
		l.Close()
		// CONFIG, two entries for each message, and one entry each for the
		// cosignature received and the cosignature given.
		r := res.Reports[i]
		if r.Entries != 7 || r.Sent != 1 || r.Received != 1 || len(r.Pending) != 0 || r.Forks != 0 {
			t.Errorf("report %d: %+v", i, r)
		}
		if r.LatestCosignedSize < 5 || r.LatestWitnessedSize < 5 {
			t.Errorf("report %d: the ledgers were not witnessed up to their messages: %+v", i, r)
		}
	}
}
