package cli_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sendWaited is what a send with --wait prints with -o json.
type sendWaited struct {
	MessageID   string    `json:"message_id"`
	LedgerIndex uint64    `json:"ledger_index"`
	ThreadID    string    `json:"thread_id"`
	AcceptedAt  time.Time `json:"accepted_at"`
	Receipted   *bool     `json:"receipted"`
	Receipt     *struct {
		Receiver            string    `json:"receiver"`
		ReceiverLedgerIndex uint64    `json:"receiver_ledger_index"`
		ReceivedAt          time.Time `json:"received_at"`
		LedgerIndex         uint64    `json:"ledger_index"`
		SHA256              string    `json:"sha256"`
	} `json:"receipt"`
}

// Sending with --wait: with the counterpart down the message is accepted and
// the officer told that no receipt came yet, which is not a failure (exit 0,
// or they would send it again); with the counterpart up the receipt is
// printed.
func TestSendWait(t *testing.T) {
	needBinary(t)
	dir := shortTempDir(t)
	certs := filepath.Join(dir, "certs")
	mustRun(t, "certs", "dev", "--out", certs)
	addrs := freeAddrs(t, 2)
	idState, khState := filepath.Join(dir, "id"), filepath.Join(dir, "kh")
	idConfig := writeFile(t, filepath.Join(dir, "id.yaml"), nodeConfig(certs, idState, indonesia, cambodia, addrs[0], addrs[1]))
	khConfig := writeFile(t, filepath.Join(dir, "kh.yaml"), nodeConfig(certs, khState, cambodia, indonesia, addrs[1], addrs[0]))

	id := startNode(t, "ID", idConfig, filepath.Join(idState, "focal.sock"))
	id.waitServing(t)
	alertFile := writeFile(t, filepath.Join(dir, "alert.yaml"), mustRun(t, "alert", "example").stdout)

	r := mustRun(t, "alert", "send", "--config", idConfig, "--file", alertFile, "--wait", "300ms")
	lines := r.lines()
	if !strings.HasPrefix(lines[0], "accepted alert ") || !strings.HasPrefix(lines[len(lines)-1], "accepted; no receipt yet within 300ms") {
		t.Fatalf("want 'accepted alert <id>' and 'accepted; no receipt yet within 300ms'\n%s", r)
	}
	first := strings.Fields(lines[0])[2]
	var down sendWaited
	decodeJSON(t, mustRun(t, "alert", "send", "--config", idConfig, "--file", alertFile, "--wait", "300ms", "-o", "json"), &down)
	if down.Receipted == nil || *down.Receipted || down.Receipt != nil || down.AcceptedAt.IsZero() {
		t.Fatalf("with the counterpart down: want receipted false, no receipt, accepted_at: %+v", down)
	}
	for _, wait := range []string{"2m", "-1s"} {
		r := run(t, "alert", "send", "--config", idConfig, "--file", alertFile, "--wait", wait)
		wantFailure(t, r, 2, "--wait")
		if r.stdout != "" {
			t.Errorf("a refusal printed on stdout\n%s", r)
		}
	}
	if n, r := outboxPending(t, idConfig); n != 2 {
		t.Fatalf("want the two accepted alerts pending and nothing of the refused ones\n%s", r)
	}

	kh := startNode(t, "KH", khConfig, filepath.Join(khState, "focal.sock"))
	id.waitReady(t)
	var up sendWaited
	decodeJSON(t, mustRun(t, "alert", "send", "--config", idConfig, "--file", alertFile, "--wait", "20s", "-o", "json"), &up)
	if up.Receipted == nil || !*up.Receipted || up.Receipt == nil {
		t.Fatalf("with the counterpart up: want the receipt: %+v", up)
	}
	if rc := up.Receipt; rc.Receiver != cambodia.agency || rc.ReceiverLedgerIndex == 0 || rc.ReceivedAt.IsZero() ||
		rc.LedgerIndex <= up.LedgerIndex || len(rc.SHA256) != 64 || up.AcceptedAt.After(rc.ReceivedAt.Add(time.Second)) {
		t.Fatalf("receipt of %s at ledger index %d: %+v", up.MessageID, up.LedgerIndex, rc)
	}
	eventually(t, 20*time.Second, "the alerts sent while KH was down delivered", func() (bool, string) {
		n, r := outboxPending(t, idConfig)
		return n == 0, r.String()
	})
	kh.waitFor(t, "show", "--config", khConfig, first)
	r = mustRun(t, "ack", "--config", khConfig, first, "--wait", "20s")
	if !strings.Contains(r.stdout, "accepted acknowledgement ") || !strings.Contains(r.stdout, "receipted by "+indonesia.agency+": its ledger index ") {
		t.Fatalf("ack --wait: want the acknowledgement accepted and receipted by %s\n%s", indonesia.agency, r)
	}
}
