package node_test

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/focalpoint-gateway/focalpoint/pkg/config"
	"github.com/focalpoint-gateway/focalpoint/pkg/demo"
	"github.com/focalpoint-gateway/focalpoint/pkg/focal"
	focalv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/focal/v1"
	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/message"
)

type linked struct{ id, kh *running }

func startLinked(t *testing.T, edit func(*config.File)) *linked {
	t.Helper()
	f := newFixture(t)
	id, kh := f.layout.Nodes[0], f.layout.Nodes[1]
	listen := func() net.Listener {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	idLis, khLis := listen(), listen()
	idFile := demo.DevConfig(f.dir, id, kh, idLis.Addr().String(), khLis.Addr().String())
	khFile := demo.DevConfig(f.dir, kh, id, khLis.Addr().String(), idLis.Addr().String())
	for _, c := range []*config.File{idFile, khFile} {
		c.Delivery.InitialBackoff = config.Duration(20 * time.Millisecond)
		if edit != nil {
			edit(c)
		}
	}
	return &linked{
		kh: runNode(t, filepath.Join(f.dir, "kh.yaml"), khFile, khLis),
		id: runNode(t, filepath.Join(f.dir, "id.yaml"), idFile, idLis),
	}
}

func send(t *testing.T, ctx context.Context, r *running, d *focalv1.Draft) *focalv1.SubmitMessageResponse {
	t.Helper()
	resp, err := r.client.SubmitMessage(ctx, &focalv1.SubmitMessageRequest{Draft: d})
	if err != nil {
		t.Fatalf("%s submits: %v", r.cfg.Agency, err)
	}
	if _, err := r.client.AwaitReceipt(ctx, &focalv1.AwaitReceiptRequest{MessageId: resp.GetMessageId()}); err != nil {
		t.Fatalf("receipt of %s: %v", resp.GetMessageId(), err)
	}
	return resp
}

func recordOf(t *testing.T, ctx context.Context, r *running, id string) *focalv1.MessageRecord {
	t.Helper()
	m, err := r.client.GetMessage(ctx, &focalv1.GetMessageRequest{MessageId: id})
	if err != nil {
		t.Fatal(err)
	}
	return m.GetRecord()
}

// The case this link exists for: an Indonesian officer alerts on a departing
// passenger suspected of being recruited into a scam compound; Cambodia
// acknowledges, later reports the person rescued and identified as a victim;
// Indonesia refers the case for repatriation; Cambodia reports the
// repatriation; the monthly statistics of both sides agree with their ledgers.
func TestScamCompoundCase(t *testing.T) {
	l := startLinked(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	now := time.Now()
	h := message.ExampleHandling()

	alert := send(t, ctx, l.id, &focalv1.Draft{Handling: h, Payload: &messagev1.Payload{
		Kind: &messagev1.Payload_Alert{Alert: message.ExampleAlert(now)}}})
	caseID := alert.GetThreadId()
	if s := recordOf(t, ctx, l.kh, alert.GetMessageId()); s.GetDeadline() == nil || s.GetOverdue() || s.GetStatus() != focalv1.MessageStatus_MESSAGE_STATUS_DELIVERED {
		t.Fatalf("the alert in Cambodia's inbox: status %v, deadline %v, overdue %v", s.GetStatus(), s.GetDeadline(), s.GetOverdue())
	}

	ack := send(t, ctx, l.kh, &focalv1.Draft{InReplyTo: alert.GetMessageId(), Handling: h, Payload: &messagev1.Payload{
		Kind: &messagev1.Payload_Acknowledgement{Acknowledgement: message.ExampleAcknowledgement()}}})
	if s := recordOf(t, ctx, l.id, alert.GetMessageId()); s.GetStatus() != focalv1.MessageStatus_MESSAGE_STATUS_ACKNOWLEDGED {
		t.Fatalf("after the acknowledgement, Indonesia sees %v", s.GetStatus())
	}

	rescued := message.ExampleOutcome(now)
	rescued.Outcome = messagev1.Outcome_OUTCOME_RESCUED_VICTIM_IDENTIFIED
	rescued.Result = messagev1.OutcomeResult_OUTCOME_RESULT_HIT_ACTION_TAKEN
	outcome1 := send(t, ctx, l.kh, &focalv1.Draft{InReplyTo: alert.GetMessageId(), Handling: h, Payload: &messagev1.Payload{
		Kind: &messagev1.Payload_Outcome{Outcome: rescued}}})

	referral := send(t, ctx, l.id, &focalv1.Draft{InReplyTo: outcome1.GetMessageId(), Handling: h, Payload: &messagev1.Payload{
		Kind: &messagev1.Payload_Referral{Referral: message.ExampleReferral(now)}}})
	if referral.GetThreadId() != caseID {
		t.Fatalf("the referral opened case %s, not the alert's %s", referral.GetThreadId(), caseID)
	}
	repatriated := message.ExampleOutcome(now)
	repatriated.Outcome = messagev1.Outcome_OUTCOME_REPATRIATED
	outcome2 := send(t, ctx, l.kh, &focalv1.Draft{InReplyTo: referral.GetMessageId(), Handling: h, Payload: &messagev1.Payload{
		Kind: &messagev1.Payload_Outcome{Outcome: repatriated}}})

	for _, side := range []*running{l.id, l.kh} {
		c, err := side.client.GetCase(ctx, &focalv1.GetCaseRequest{Id: outcome2.GetMessageId()})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range c.GetRecords() {
			got = append(got, r.GetMessage().GetHeader().GetMessageId())
			if !r.GetSignatureValid() || r.GetMessage().GetHeader().GetHandling().GetCode() == messagev1.HandlingCode_HANDLING_CODE_UNSPECIFIED {
				t.Fatalf("%s: case record %s unsigned or without handling", side.cfg.Agency, r.GetMessage().GetHeader().GetMessageId())
			}
		}
		want := []string{alert.GetMessageId(), ack.GetMessageId(), outcome1.GetMessageId(), referral.GetMessageId(), outcome2.GetMessageId()}
		if c.GetCaseId() != caseID || len(got) != len(want) {
			t.Fatalf("%s: case %s holds %v, want %v", side.cfg.Agency, c.GetCaseId(), got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s: case in order %v, want %v", side.cfg.Agency, got, want)
			}
		}
		for _, id := range []string{alert.GetMessageId(), referral.GetMessageId()} {
			if s := recordOf(t, ctx, side, id); s.GetStatus() != focalv1.MessageStatus_MESSAGE_STATUS_ANSWERED || s.GetOverdue() {
				t.Fatalf("%s: %s is %v (overdue %v), want answered", side.cfg.Agency, id, s.GetStatus(), s.GetOverdue())
			}
		}
	}

	// Monthly statistics: each side's report is made from its ledger, and
	// agrees with what the other side's ledger holds.
	period := now.UTC().Format("2006-01")
	stats := map[string]*focalv1.GetStatisticsResponse{}
	for _, side := range []*running{l.id, l.kh} {
		st, err := side.client.GetStatistics(ctx, &focalv1.GetStatisticsRequest{Period: period})
		if err != nil {
			t.Fatal(err)
		}
		stats[side.cfg.Agency] = st
		send(t, ctx, side, &focalv1.Draft{Handling: &messagev1.Handling{Code: messagev1.HandlingCode_HANDLING_CODE_H0},
			Payload: &messagev1.Payload{Kind: &messagev1.Payload_Statistics{Statistics: focal.ReportFromLedger(st)}}})
	}
	idReport := focal.ReportFromLedger(stats["ID-DJI"])
	khReport := focal.ReportFromLedger(stats["KH-GDI"])
	if idReport.GetAlertsSent() != 1 || idReport.GetReferralsSent() != 1 || khReport.GetAlertsReceived() != 1 || khReport.GetReferralsReceived() != 1 {
		t.Fatalf("reports: ID %v, KH %v", idReport, khReport)
	}
	if idReport.GetAlertsSent() != khReport.GetAlertsReceived() || idReport.GetReferralsSent() != khReport.GetReferralsReceived() {
		t.Fatalf("the two reports disagree: ID %v, KH %v", idReport, khReport)
	}
	if len(khReport.GetOutcomesByType()) != 2 {
		t.Fatalf("Cambodia reports outcomes %v, want rescued and repatriated", khReport.GetOutcomesByType())
	}
	st, err := l.id.client.GetStatistics(ctx, &focalv1.GetStatisticsRequest{Period: period})
	if err != nil || len(st.GetReports()) != 2 {
		t.Fatalf("Indonesia lists %d reports for %s (%v), want its own and Cambodia's", len(st.GetReports()), period, err)
	}
}

// Deadlines: a request past its deadline is listed overdue, and the metric
// moves.
func TestOverdueRequests(t *testing.T) {
	l := startLinked(t, func(c *config.File) {
		c.Deadlines.Urgent = config.Duration(300 * time.Millisecond)
		c.Deadlines.Normal = config.Duration(time.Hour)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	alert := send(t, ctx, l.id, &focalv1.Draft{Handling: message.ExampleHandling(), Payload: &messagev1.Payload{
		Kind: &messagev1.Payload_Alert{Alert: message.ExampleAlert(time.Now())}}}) // urgent
	overdue := func(r *running, owedBy string) float64 {
		return gaugeValue(t, r.reg, "focalpoint_exchange_requests_overdue", owedBy)
	}
	if overdue(l.kh, "us") != 0 {
		t.Fatal("overdue before the deadline")
	}
	time.Sleep(400 * time.Millisecond)
	if overdue(l.kh, "us") != 1 || overdue(l.id, "counterpart") != 1 {
		t.Fatalf("overdue: Cambodia owes %v, Indonesia waits on %v; want 1 and 1", overdue(l.kh, "us"), overdue(l.id, "counterpart"))
	}
	list, err := l.kh.client.ListMessages(ctx, &focalv1.ListMessagesRequest{Overdue: true})
	if err != nil || len(list.GetRecords()) != 1 || list.GetRecords()[0].GetMessage().GetHeader().GetMessageId() != alert.GetMessageId() {
		t.Fatalf("overdue list: %v %v", list, err)
	}
	send(t, ctx, l.kh, &focalv1.Draft{InReplyTo: alert.GetMessageId(), Handling: message.ExampleHandling(), Payload: &messagev1.Payload{
		Kind: &messagev1.Payload_Outcome{Outcome: message.ExampleOutcome(time.Now())}}})
	if overdue(l.kh, "us") != 0 || overdue(l.id, "counterpart") != 0 {
		t.Fatal("an answered request still counted overdue")
	}
	list, err = l.kh.client.ListMessages(ctx, &focalv1.ListMessagesRequest{Overdue: true})
	if err != nil || len(list.GetRecords()) != 0 {
		t.Fatalf("overdue after the answer: %v %v", list, err)
	}
}

func gaugeValue(t *testing.T, reg *prometheus.Registry, name, owedBy string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "owed_by" && lp.GetValue() == owedBy {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no metric %s{owed_by=%q}", name, owedBy)
	return 0
}

// Watch: a consumer disconnected mid-stream and reconnected with its cursor
// sees every message exactly once.
func TestWatchInboxResumes(t *testing.T) {
	l := startLinked(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ids := submitTests(t, l.id.client, 10, "watch")
	seen := map[string]int{}
	cursor := ""
	read := func(n int) {
		t.Helper()
		wctx, stop := context.WithCancel(ctx)
		defer stop() // the consumer goes away mid-stream
		stream, err := l.kh.client.WatchInbox(wctx, &focalv1.WatchInboxRequest{Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for range n {
			r, err := stream.Recv()
			if err != nil {
				t.Fatal(err)
			}
			seen[r.GetRecord().GetMessage().GetHeader().GetMessageId()]++
			cursor = r.GetCursor()
		}
	}
	read(4)
	read(6) // the rest of the first batch
	more := submitTests(t, l.id.client, 5, "watch later")
	read(5) // waits for messages as they arrive
	for _, id := range append(ids, more...) {
		if seen[id] != 1 {
			t.Fatalf("message %s seen %d times", id, seen[id])
		}
	}
	if len(seen) != 15 {
		t.Fatalf("%d messages seen, want 15", len(seen))
	}
}
