package cli_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The workflow commands on two running nodes: acknowledge, refer, follow the
// case, withdraw, and the month's statistics, as people and scripts use them.
func TestWorkflowCommands(t *testing.T) {
	needBinary(t)
	dir := shortTempDir(t)
	certs := filepath.Join(dir, "certs")
	mustRun(t, "certs", "dev", "--out", certs)
	addrs := freeAddrs(t, 2)
	idState, khState := filepath.Join(dir, "id"), filepath.Join(dir, "kh")
	idConfig := writeFile(t, filepath.Join(dir, "id.yaml"), nodeConfig(certs, idState, indonesia, cambodia, addrs[0], addrs[1]))
	khConfig := writeFile(t, filepath.Join(dir, "kh.yaml"), nodeConfig(certs, khState, cambodia, indonesia, addrs[1], addrs[0]))
	idNode := startNode(t, "ID", idConfig, filepath.Join(idState, "focal.sock"))
	khNode := startNode(t, "KH", khConfig, filepath.Join(khState, "focal.sock"))
	idNode.waitReady(t)
	khNode.waitReady(t)

	type sent struct {
		MessageID   string    `json:"message_id"`
		LedgerIndex uint64    `json:"ledger_index"`
		ThreadID    string    `json:"thread_id"`
		AcceptedAt  time.Time `json:"accepted_at"`
	}
	alertFile := writeFile(t, filepath.Join(dir, "alert.yaml"), mustRun(t, "alert", "example").stdout)
	var alert sent
	decodeJSON(t, mustRun(t, "alert", "send", "--config", idConfig, "--file", alertFile, "-o", "json"), &alert)
	khNode.waitFor(t, "show", "--config", khConfig, alert.MessageID)

	var ack sent
	decodeJSON(t, mustRun(t, "ack", "--config", khConfig, alert.MessageID, "--unit", "Airport victim-screening team", "-o", "json"), &ack)
	if ack.ThreadID != alert.ThreadID {
		t.Fatalf("the acknowledgement is in case %s, the alert in %s", ack.ThreadID, alert.ThreadID)
	}
	// Acknowledging one's own alert is refused: an acknowledgement answers
	// the counterpart.
	wantFailure(t, run(t, "ack", "--config", idConfig, alert.MessageID), 1, "header.in_reply_to")

	referralFile := writeFile(t, filepath.Join(dir, "referral.yaml"), mustRun(t, "referral", "example").stdout)
	if !strings.HasPrefix(referralFile, dir) || !strings.Contains(mustRun(t, "referral", "example").stdout, "# A referral draft") {
		t.Fatal("referral example has no header")
	}
	var referral sent
	decodeJSON(t, mustRun(t, "referral", "send", "--config", idConfig, "--file", referralFile, "-o", "json"), &referral)

	// The case, as Indonesia sees it once Cambodia's acknowledgement arrived.
	var c struct {
		CaseID  string `json:"case_id"`
		Records []struct {
			Status string `json:"status"`
		} `json:"records"`
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := mustRun(t, "case", "show", "--config", idConfig, alert.MessageID, "-o", "json")
		c.Records = nil
		// Only the fields this test needs: a record has many more.
		if err := json.Unmarshal([]byte(r.stdout), &c); err != nil {
			t.Fatalf("case show -o json: %v\n%s", err, r)
		}
		if len(c.Records) >= 2 && c.Records[0].Status == "MESSAGE_STATUS_ACKNOWLEDGED" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the case never showed the acknowledged alert\n%s", r)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if c.CaseID != alert.ThreadID {
		t.Fatalf("case %s, want %s", c.CaseID, alert.ThreadID)
	}
	table := mustRun(t, "case", "show", "--config", idConfig, alert.MessageID).stdout
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if !strings.HasPrefix(lines[1], "HANDLING") || !strings.Contains(table, "acknowledgement") || !strings.Contains(table, "alert") {
		t.Fatalf("case table:\n%s", table)
	}

	// Withdrawal: the unix socket's callers are supervisors by default.
	wantFailure(t, run(t, "withdraw", "--config", idConfig, alert.MessageID), 2, "--reason")
	mustRun(t, "withdraw", "--config", idConfig, alert.MessageID, "--reason", "travel cancelled", "--code", "resolved")
	r := mustRun(t, "show", "--config", idConfig, alert.MessageID, "-o", "json")
	if !strings.Contains(r.stdout, "MESSAGE_STATUS_WITHDRAWN") || !strings.Contains(r.stdout, "travel cancelled") {
		t.Fatalf("the withdrawn alert:\n%s", r)
	}
	wantFailure(t, run(t, "withdraw", "--config", idConfig, alert.MessageID, "--reason", "again"), 1, "withdrawn")

	month := time.Now().UTC().Format("2006-01")
	stats := mustRun(t, "stats", "show", "--config", idConfig, "--month", month).stdout
	if !strings.Contains(stats, "alert") || !strings.Contains(stats, "referral") {
		t.Fatalf("stats show:\n%s", stats)
	}
	var report sent
	decodeJSON(t, mustRun(t, "stats", "send", "--config", idConfig, "--month", month, "--deferred-departures", "120", "-o", "json"), &report)
	khNode.waitFor(t, "show", "--config", khConfig, report.MessageID)
	kh := mustRun(t, "stats", "show", "--config", khConfig, "--month", month, "-o", "json").stdout
	if !strings.Contains(kh, report.MessageID) {
		t.Fatalf("Cambodia does not list Indonesia's report:\n%s", kh)
	}
	wantFailure(t, run(t, "stats", "show", "--config", idConfig, "--month", "2026-13"), 1, "period")
}
