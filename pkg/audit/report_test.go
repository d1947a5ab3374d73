package audit

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func sampleReport(pending int) *Report {
	base := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
	r := &Report{
		LedgerName: "imigrasi.go.id/focalpoint/ledger",
		Entries:    uint64(pending + 10),
		ByKind: map[string]uint64{"CONFIG": 1, "SENT": uint64(pending + 2), "RECEIVED": 1, "RECEIPT_ISSUED": 1, "RECEIPT_RECEIVED": 2,
			"CHECKPOINT_COSIGNED": 2, "CHECKPOINT_WITNESSED": 1},
		Sent:                uint64(pending + 2),
		Received:            1,
		Pending:             []PendingMessage{},
		First:               base,
		Last:                base.Add(90 * time.Minute),
		CheckpointSize:      uint64(pending + 10),
		LatestCosignedSize:  8,
		LatestCosignedAt:    base.Add(80 * time.Minute),
		LatestWitnessedSize: 6,
	}
	for i := range pending {
		r.Pending = append(r.Pending, PendingMessage{
			MessageID: fmt.Sprintf("0197299a-2e00-7000-8000-%012d", i),
			SentIndex: uint64(7 + i),
			SentAt:    base.Add(time.Duration(i) * time.Minute),
		})
	}
	return r
}

func TestReportText(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pending int
		edit    func(*Report)
	}{
		{"report-none-pending.txt", 0, nil},
		{"report-one-pending.txt", 1, func(r *Report) { r.Forks = 2 }},
		{"report-many-pending.txt", 23, nil},
		{"report-no-checkpoints.txt", 0, func(r *Report) {
			r.Entries -= 3
			r.ByKind["CHECKPOINT_COSIGNED"], r.ByKind["CHECKPOINT_WITNESSED"] = 0, 0
			r.CheckpointSize, r.LatestCosignedSize, r.LatestCosignedAt, r.LatestWitnessedSize = 0, 0, time.Time{}, 0
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			r := sampleReport(tc.pending)
			if tc.edit != nil {
				tc.edit(r)
			}
			if err := r.WriteText(&b); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name, b.Bytes())
		})
	}
}

func TestReportJSON(t *testing.T) {
	got, err := json.MarshalIndent(sampleReport(1), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "report.json", append(got, '\n'))

	// Pending is a list, never null, even when empty.
	none, err := json.Marshal(sampleReport(0))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(none, []byte(`"pending":[]`)) {
		t.Errorf("empty pending marshals as %s", none)
	}
}

// TestReportFromVerify checks the report Verify makes marshals as the golden
// shape says: same keys, every kind counted.
func TestReportFromVerify(t *testing.T) {
	f := newFixture(t)
	r, err := Verify(t.Context(), openRO(t, f.p.kh.path), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"ledger_name", "entries", "by_kind", "sent", "received", "pending", "first_recorded_at", "last_recorded_at",
		"checkpoint_size", "latest_cosigned_size", "latest_witnessed_size", "forks"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON has no %q: %s", k, b)
		}
	}
	if n := len(m["by_kind"].(map[string]any)); n != 7 {
		t.Errorf("by_kind has %d kinds, want 7: %s", n, b)
	}
	if p, ok := m["pending"].([]any); !ok || len(p) != 0 {
		t.Errorf("pending is %v, want []", m["pending"])
	}
}
