package focal

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/focalpoint-gateway/focalpoint/pkg/exchange"
	focalv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/focal/v1"
	ledgerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/ledger/v1"
	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/ledger"
	"github.com/focalpoint-gateway/focalpoint/pkg/message"
)

// Cases, deadlines and statistics: what the local API says about a message
// beyond the message itself comes from the other messages of its case, read
// from the ledger each time, so it can never disagree with the ledger.

// decorate adds to a record where it stands in its case: its status, the
// messages answering it, its deadline.
func (s *Server) decorate(rec *focalv1.MessageRecord, first *ledgerv1.Entry) error {
	rec.Status = focalv1.MessageStatus_MESSAGE_STATUS_DELIVERED
	if rec.GetReceiptStatus() == focalv1.ReceiptStatus_RECEIPT_STATUS_PENDING {
		rec.Status = focalv1.MessageStatus_MESSAGE_STATUS_PENDING
	}
	id, thread := first.GetMessageId(), first.GetThreadId()
	if thread != "" {
		entries, err := s.ledger.ThreadEntries(thread)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.GetIndex() <= first.GetIndex() || !isMessageEntry(e) {
				continue
			}
			m, err := exchange.MessageOf(s.ledger, e)
			if err != nil {
				return err
			}
			if m.GetHeader().GetInReplyTo() != id {
				continue
			}
			rec.AnsweredBy = append(rec.AnsweredBy, e.GetMessageId())
			switch p := m.GetPayload().GetKind().(type) {
			case *messagev1.Payload_AlertWithdrawal:
				rec.Status, rec.WithdrawalReason = focalv1.MessageStatus_MESSAGE_STATUS_WITHDRAWN, p.AlertWithdrawal.GetReason()
			case *messagev1.Payload_Outcome:
				if rec.Status != focalv1.MessageStatus_MESSAGE_STATUS_WITHDRAWN {
					rec.Status = focalv1.MessageStatus_MESSAGE_STATUS_ANSWERED
				}
			case *messagev1.Payload_Acknowledgement:
				if rec.Status < focalv1.MessageStatus_MESSAGE_STATUS_ACKNOWLEDGED {
					rec.Status = focalv1.MessageStatus_MESSAGE_STATUS_ACKNOWLEDGED
				}
			}
		}
	}
	if rec.GetMessage() != nil {
		if due, ok := message.ResponseDeadline(rec.GetMessage(), s.deadlines.Urgent, s.deadlines.Normal); ok {
			rec.Deadline = timestamppb.New(due)
		}
	}
	if _, open, err := s.ledger.OpenRequest(id); err != nil {
		return err
	} else if open && rec.GetDeadline() != nil {
		rec.Overdue = s.now().After(rec.GetDeadline().AsTime())
	}
	return nil
}

// isMessageEntry is a SENT or RECEIVED entry: the one entry per message per
// ledger that holds it.
func isMessageEntry(e *ledgerv1.Entry) bool {
	return e.GetKind() == ledgerv1.EntryKind_ENTRY_KIND_SENT || e.GetKind() == ledgerv1.EntryKind_ENTRY_KIND_RECEIVED
}

// ListMessages lists messages newest first, with filters. The page token is
// the ledger index to continue below.
func (s *Server) ListMessages(ctx context.Context, req *focalv1.ListMessagesRequest) (*focalv1.ListMessagesResponse, error) {
	size, err := pageSize(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	for i, k := range req.GetKinds() {
		if !slices.Contains(message.Kinds(), k) {
			return nil, invalid(fmt.Sprintf("kinds[%d]", i), fmt.Sprintf("%q is not a kind (%s)", k, strings.Join(message.Kinds(), ", ")))
		}
	}
	before, err := pageToken(req.GetPageToken(), s.ledger.Size())
	if err != nil {
		return nil, err
	}
	resp := &focalv1.ListMessagesResponse{}
	for ctx.Err() == nil {
		entries, err := s.ledger.EntriesBefore(before, 256)
		if err != nil {
			return nil, err
		}
		if len(entries) == 0 {
			return resp, nil
		}
		for _, e := range entries {
			before = e.GetIndex()
			if !s.entryMatches(req, e) {
				continue
			}
			rec, err := s.record(e.GetMessageId())
			if err != nil {
				return nil, err
			}
			if (req.GetStatus() != 0 && rec.GetStatus() != req.GetStatus()) || (req.GetOverdue() && !rec.GetOverdue()) {
				continue
			}
			if len(resp.Records) == size {
				resp.NextPageToken = strconv.FormatUint(e.GetIndex()+1, 10)
				return resp, nil
			}
			resp.Records = append(resp.Records, rec)
		}
	}
	return nil, ctx.Err()
}

// entryMatches applies the filters that the entry alone can answer.
func (s *Server) entryMatches(req *focalv1.ListMessagesRequest, e *ledgerv1.Entry) bool {
	if !isMessageEntry(e) {
		return false
	}
	if k := req.GetKinds(); len(k) > 0 && !slices.Contains(k, exchange.KindOf(e.GetMessageKind())) {
		return false
	}
	outbound := e.GetKind() == ledgerv1.EntryKind_ENTRY_KIND_SENT
	switch req.GetDirection() {
	case focalv1.Direction_DIRECTION_OUTBOUND:
		if !outbound {
			return false
		}
	case focalv1.Direction_DIRECTION_INBOUND:
		if outbound {
			return false
		}
	}
	if c := req.GetCaseId(); c != "" && e.GetThreadId() != c {
		return false
	}
	at := e.GetRecordedAt().AsTime()
	if t := req.GetSince(); t != nil && at.Before(t.AsTime()) {
		return false
	}
	if t := req.GetUntil(); t != nil && !at.Before(t.AsTime()) {
		return false
	}
	return true
}

func pageSize(n int32) (int, error) {
	switch {
	case n < 0:
		return 0, invalid("page_size", "must not be negative")
	case n == 0:
		return defaultPageSize, nil
	case n > maxPageSize:
		return maxPageSize, nil
	}
	return int(n), nil
}

func pageToken(t string, def uint64) (uint64, error) {
	if t == "" {
		return def, nil
	}
	n, err := strconv.ParseUint(t, 10, 64)
	if err != nil {
		return 0, invalid("page_token", "is not a token from an earlier answer")
	}
	return n, nil
}

// WatchInbox streams received messages from the cursor on, then each new one
// as it is ledgered, until the caller goes away.
func (s *Server) WatchInbox(req *focalv1.WatchInboxRequest, stream focalv1.FocalService_WatchInboxServer) error {
	// The cursor is the ledger index of the last RECEIVED entry sent, and the
	// watch resumes after it; "" starts from the first entry.
	from := uint64(0)
	if req.GetCursor() != "" {
		last, err := pageToken(req.GetCursor(), 0)
		if err != nil {
			return invalid("cursor", "is not a cursor from an earlier answer")
		}
		from = last + 1
	}
	ctx := stream.Context()
	for {
		// Taken before reading, so a message ledgered meanwhile wakes us.
		changed := s.ledger.Changed()
		items, err := s.ledger.InboxFrom(from, 256)
		if err != nil {
			return err
		}
		for _, it := range items {
			from = it.ReceivedIndex + 1
			rec, err := s.record(it.MessageID)
			if err != nil {
				return err
			}
			if req.GetExcludeTests() && rec.GetMessage().GetPayload().GetTest() != nil {
				continue
			}
			if err := stream.Send(&focalv1.WatchInboxResponse{Record: rec, Cursor: strconv.FormatUint(it.ReceivedIndex, 10)}); err != nil {
				return err
			}
		}
		if len(items) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
	}
}

// GetCase returns every message of a case.
func (s *Server) GetCase(ctx context.Context, req *focalv1.GetCaseRequest) (*focalv1.GetCaseResponse, error) {
	if req.GetId() == "" {
		return nil, invalid("id", "required: a message ID or a case ID")
	}
	thread := req.GetId()
	if entries, err := s.ledger.MessageEntries(req.GetId()); err == nil {
		thread = entries[0].GetThreadId()
		if thread == "" {
			return nil, invalid("id", "names a message that belongs to no case (a test or a statistics report)")
		}
	}
	entries, err := s.ledger.ThreadEntries(thread)
	if err != nil {
		return nil, err
	}
	resp := &focalv1.GetCaseResponse{CaseId: thread}
	for _, e := range entries {
		if !isMessageEntry(e) {
			continue
		}
		rec, err := s.record(e.GetMessageId())
		if err != nil {
			return nil, err
		}
		resp.Records = append(resp.Records, rec)
	}
	if len(resp.Records) == 0 {
		return nil, fmt.Errorf("%w: case %s", ledger.ErrNotFound, thread)
	}
	return resp, nil
}

// GetStatistics counts a month's messages from the ledger, and lists the
// statistics reports for that month.
func (s *Server) GetStatistics(ctx context.Context, req *focalv1.GetStatisticsRequest) (*focalv1.GetStatisticsResponse, error) {
	start, err := time.Parse("2006-01", req.GetPeriod())
	if err != nil {
		return nil, invalid("period", "is not a month, YYYY-MM")
	}
	end := start.AddDate(0, 1, 0)
	counts := map[string]*focalv1.KindCount{}
	outcomes := map[string]*focalv1.OutcomeTypeCount{}
	resp := &focalv1.GetStatisticsResponse{Period: req.GetPeriod()}
	var statReports []string
	before := s.ledger.Size()
	for ctx.Err() == nil {
		entries, err := s.ledger.EntriesBefore(before, 1024)
		if err != nil {
			return nil, err
		}
		if len(entries) == 0 {
			break
		}
		for _, e := range entries {
			before = e.GetIndex()
			if !isMessageEntry(e) {
				continue
			}
			kind := exchange.KindOf(e.GetMessageKind())
			if kind == message.KindStatistics {
				m, err := exchange.MessageOf(s.ledger, e)
				if err != nil {
					return nil, err
				}
				if m.GetPayload().GetStatistics().GetPeriod() == req.GetPeriod() {
					statReports = append(statReports, e.GetMessageId())
				}
				continue
			}
			// Counted by when the message was created: the same instant in both
			// ledgers, so both agencies' counts agree.
			m, err := exchange.MessageOf(s.ledger, e)
			if err != nil {
				return nil, err
			}
			at := m.GetHeader().GetCreatedAt().AsTime()
			if at.Before(start) || !at.Before(end) || kind == message.KindTest {
				continue
			}
			sent := e.GetKind() == ledgerv1.EntryKind_ENTRY_KIND_SENT
			c := counts[kind]
			if c == nil {
				c = &focalv1.KindCount{Kind: kind}
				counts[kind] = c
			}
			if sent {
				c.Sent++
			} else {
				c.Received++
			}
			if o := m.GetPayload().GetOutcome(); o != nil {
				name := o.GetOutcome().String()
				oc := outcomes[name]
				if oc == nil {
					oc = &focalv1.OutcomeTypeCount{Outcome: name}
					outcomes[name] = oc
				}
				if sent {
					oc.Sent++
				} else {
					oc.Received++
				}
			}
		}
	}
	for _, k := range message.Kinds() {
		if c := counts[k]; c != nil {
			resp.Kinds = append(resp.Kinds, c)
		}
	}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range outcomes {
			if !yield(k) {
				return
			}
		}
	}) {
		resp.Outcomes = append(resp.Outcomes, outcomes[name])
	}
	for _, id := range slices.Backward(statReports) {
		rec, err := s.record(id)
		if err != nil {
			return nil, err
		}
		resp.Reports = append(resp.Reports, rec)
	}
	return resp, ctx.Err()
}

// ReportFromLedger fills a statistics report's message counts from the
// ledger's figures, so a joint report's numbers come from the ledger rather
// than a spreadsheet.
func ReportFromLedger(st *focalv1.GetStatisticsResponse) *messagev1.StatisticsReport {
	r := &messagev1.StatisticsReport{Period: st.GetPeriod()}
	for _, k := range st.GetKinds() {
		switch k.GetKind() {
		case message.KindAlert:
			r.AlertsSent, r.AlertsReceived = k.GetSent(), k.GetReceived()
		case message.KindReferral:
			r.ReferralsSent, r.ReferralsReceived = k.GetSent(), k.GetReceived()
		}
	}
	for _, o := range st.GetOutcomes() {
		if o.GetSent() == 0 {
			continue
		}
		r.OutcomesByType = append(r.OutcomesByType, &messagev1.OutcomeCount{
			Outcome: messagev1.Outcome(messagev1.Outcome_value[o.GetOutcome()]), Count: o.GetSent(),
		})
	}
	return r
}
