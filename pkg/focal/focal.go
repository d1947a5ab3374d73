// Package focal is the local API: how a focal point's officers and agency
// systems use their own node. It submits drafts through the exchange's Sender
// and reads the ledger, checking every signature it shows.
package focal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/focalpoint-gateway/focalpoint/pkg/envelope"
	"github.com/focalpoint-gateway/focalpoint/pkg/exchange"
	focalv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/focal/v1"
	ledgerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/ledger/v1"
	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/ledger"
	"github.com/focalpoint-gateway/focalpoint/pkg/message"
)

const (
	defaultPageSize = 50
	maxPageSize     = 500
	maxOutboxItems  = 100
	backupChunk     = 64 << 10
)

// Server implements focalv1.FocalServiceServer.
type Server struct {
	focalv1.UnimplementedFocalServiceServer
	sender *exchange.Sender
	ledger *ledger.Ledger
	// own verifies this node's signatures, peer the counterpart's.
	own, peer note.Verifiers
	deadlines exchange.Deadlines
	now       func() time.Time
}

// NewServer makes the local API over a node's sender and ledger.
func NewServer(s *exchange.Sender, l *ledger.Ledger, own, peer note.Verifiers, d exchange.Deadlines) *Server {
	return &Server{sender: s, ledger: l, own: own, peer: peer, deadlines: d, now: time.Now}
}

// SubmitMessage signs, ledgers and queues a draft and, if asked to, waits a
// while for the counterpart's receipt.
//
// Once the message is accepted, this call answers "accepted" whatever the
// wait brings: no receipt in time, the caller's deadline near, the node
// stopping. An officer who sees an error submits again, and a duplicate
// alert is a real harm (the counterpart opens a second case on the same
// person), so an accepted message must never come back as a failure.
// That is why a missing receipt is an unset field, not an error, and why the
// wait ends a little before the caller's own deadline.
func (s *Server) SubmitMessage(ctx context.Context, req *focalv1.SubmitMessageRequest) (*focalv1.SubmitMessageResponse, error) {
	// Checked before anything is signed: a refused request leaves no trace.
	wait, err := checkSubmit(req)
	if err != nil {
		return nil, err
	}
	// Sending needs more than the method's permission for some kinds.
	switch req.GetDraft().GetPayload().GetKind().(type) {
	case *messagev1.Payload_AlertWithdrawal:
		if err := allow(ctx, Withdraw, "SubmitMessage"); err != nil {
			return nil, err
		}
	case *messagev1.Payload_Acknowledgement:
		if err := allow(ctx, Acknowledge, "SubmitMessage"); err != nil {
			return nil, err
		}
	}
	res, err := s.sender.Submit(ctx, req.GetDraft())
	if err != nil {
		return nil, err
	}
	resp := &focalv1.SubmitMessageResponse{MessageId: res.MessageID, LedgerIndex: res.LedgerIndex, ThreadId: res.ThreadID}
	// The message is accepted: from here on nothing may turn the answer into
	// an error.
	if e, _, err := s.ledger.Entry(res.LedgerIndex); err == nil {
		resp.AcceptedAt = e.GetRecordedAt()
	} else {
		logger(ctx).ErrorContext(ctx, "accepted message: its SENT entry could not be read back", "message_id", res.MessageID, "ledger_index", res.LedgerIndex, "err", err)
	}
	if wait > 0 {
		resp.Receipt = s.receiptWithin(ctx, res.MessageID, wait)
	}
	return resp, nil
}

// MaxAwaitReceipt is the longest SubmitMessage waits for a receipt. On a
// working link a receipt takes milliseconds; a minute without one means the
// link or the counterpart is down, and the caller is better told "accepted,
// no receipt yet" than kept on an open call (AwaitReceipt waits longer).
const MaxAwaitReceipt = 60 * time.Second

// maxReplyMargin bounds how long before the caller's deadline a wait for a
// receipt ends.
const maxReplyMargin = 500 * time.Millisecond

// checkSubmit checks a submission's own fields (the draft is the sender's to
// validate) and returns how long to wait for the receipt.
func checkSubmit(req *focalv1.SubmitMessageRequest) (time.Duration, error) {
	var vs []message.FieldViolation
	if req.GetDraft() == nil {
		vs = append(vs, message.FieldViolation{Field: "draft", Description: "required"})
	}
	var wait time.Duration
	if a := req.GetAwaitReceipt(); a != nil {
		d := a.AsDuration()
		switch err := a.CheckValid(); {
		case err != nil:
			vs = append(vs, message.FieldViolation{Field: "await_receipt", Description: fmt.Sprintf("not a valid duration: %v", err)})
		case d < 0:
			vs = append(vs, message.FieldViolation{Field: "await_receipt", Description: fmt.Sprintf("%s is negative", d)})
		case d > MaxAwaitReceipt:
			vs = append(vs, message.FieldViolation{Field: "await_receipt", Description: fmt.Sprintf("%s is longer than the most a submission waits, %s; wait longer with AwaitReceipt", d, MaxAwaitReceipt)})
		default:
			wait = d
		}
	}
	if len(vs) > 0 {
		return 0, &message.ValidationError{Violations: vs}
	}
	return wait, nil
}

// receiptWithin waits up to wait for the receipt of a message just accepted,
// and returns nil if none came. It stops short of the caller's deadline, by a
// quarter of the time left up to maxReplyMargin: the answer must still cross
// back, and the caller's clock started before the request crossed here.
func (s *Server) receiptWithin(ctx context.Context, id string, wait time.Duration) *focalv1.AwaitReceiptResponse {
	now := time.Now()
	end := now.Add(wait)
	if dl, ok := ctx.Deadline(); ok {
		if early := dl.Add(-min(maxReplyMargin, dl.Sub(now)/4)); early.Before(end) {
			end = early
		}
	}
	wctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	r, err := s.receipt(wctx, id)
	switch {
	case err == nil:
		return r
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled), errors.Is(err, ledger.ErrClosed):
		// No receipt yet: the message waits in the outbox, and delivery
		// goes on (after a restart, if the node is stopping).
	default:
		// Not the caller's problem to act on, and not a reason to say the
		// accepted message failed; GetMessage and AwaitReceipt will show it.
		logger(ctx).ErrorContext(ctx, "accepted message: reading its receipt failed", "message_id", id, "err", err)
	}
	return nil
}

// GetMessage returns one message with its signature checked now.
func (s *Server) GetMessage(ctx context.Context, req *focalv1.GetMessageRequest) (*focalv1.GetMessageResponse, error) {
	rec, err := s.record(req.GetMessageId())
	if err != nil {
		return nil, err
	}
	return &focalv1.GetMessageResponse{Record: rec}, nil
}

// ListInbox lists received messages, newest first, leaving out test messages
// (ping proves the path; it is not an officer's business).
func (s *Server) ListInbox(ctx context.Context, req *focalv1.ListInboxRequest) (*focalv1.ListInboxResponse, error) {
	var kinds []string
	for _, k := range message.Kinds() {
		if k != message.KindTest {
			kinds = append(kinds, k)
		}
	}
	resp, err := s.ListMessages(ctx, &focalv1.ListMessagesRequest{
		Kinds: kinds, Direction: focalv1.Direction_DIRECTION_INBOUND,
		PageSize: req.GetPageSize(), PageToken: req.GetPageToken(),
	})
	if err != nil {
		return nil, err
	}
	return &focalv1.ListInboxResponse{Records: resp.GetRecords(), NextPageToken: resp.GetNextPageToken()}, nil
}

// AwaitReceipt waits for the counterpart's receipt of a sent message.
func (s *Server) AwaitReceipt(ctx context.Context, req *focalv1.AwaitReceiptRequest) (*focalv1.AwaitReceiptResponse, error) {
	if req.GetMessageId() == "" {
		return nil, invalid("message_id", "required")
	}
	return s.receipt(ctx, req.GetMessageId())
}

// receipt waits until the RECEIPT_RECEIVED entry of a sent message is in the
// ledger, or ctx ends, and returns the receipt as AwaitReceipt answers it.
func (s *Server) receipt(ctx context.Context, id string) (*focalv1.AwaitReceiptResponse, error) {
	e, err := s.ledger.WaitReceipt(ctx, id)
	if err != nil {
		return nil, err
	}
	raw, err := s.ledger.Receipt(e)
	if err != nil {
		return nil, err
	}
	// The delivery loop verified this receipt before ledgering it; a waiter
	// that wants it checked again calls GetMessage, which does.
	r, err := envelope.ParseReceipt(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: receipt in entry %d: %w", ledger.ErrCorrupt, e.GetIndex(), err)
	}
	return &focalv1.AwaitReceiptResponse{Receipt: r, ReceiptSha256: e.GetReceiptSha256(), LedgerIndex: e.GetIndex()}, nil
}

// GetOutbox lists messages still waiting for their receipt.
func (s *Server) GetOutbox(ctx context.Context, _ *focalv1.GetOutboxRequest) (*focalv1.GetOutboxResponse, error) {
	rows, err := s.ledger.Outbox(0, maxOutboxItems)
	if err != nil {
		return nil, err
	}
	resp := &focalv1.GetOutboxResponse{Pending: uint64(s.ledger.OutboxLen())}
	for _, r := range rows {
		st := s.sender.Status(r.MessageID)
		resp.Items = append(resp.Items, &focalv1.OutboxItem{
			MessageId:   r.MessageID,
			LedgerIndex: r.SentIndex,
			AcceptedAt:  timestamppb.New(r.AcceptedAt),
			Attempts:    uint32(st.Attempts),
			LastError:   st.LastError,
		})
	}
	return resp, nil
}

// BackupLedger streams a consistent copy of the ledger file.
func (s *Server) BackupLedger(_ *focalv1.BackupLedgerRequest, stream focalv1.FocalService_BackupLedgerServer) error {
	_, err := s.ledger.Backup(&chunkWriter{send: stream.Send})
	return err
}

type chunkWriter struct {
	send func(*focalv1.BackupLedgerResponse) error
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	for off := 0; off < len(p); off += backupChunk {
		end := min(off+backupChunk, len(p))
		// Send may keep the slice until it is on the wire: give it its own copy.
		if err := w.send(&focalv1.BackupLedgerResponse{Chunk: append([]byte(nil), p[off:end]...)}); err != nil {
			return off, err
		}
	}
	return len(p), nil
}

// record builds the view of one message from its ledger entries.
func (s *Server) record(id string) (*focalv1.MessageRecord, error) {
	if id == "" {
		return nil, invalid("message_id", "required")
	}
	entries, err := s.ledger.MessageEntries(id)
	if err != nil {
		return nil, err
	}
	first := entries[0]
	rec := &focalv1.MessageRecord{EnvelopeSha256: first.GetEnvelopeSha256()}
	signer := s.own
	switch first.GetKind() {
	case ledgerv1.EntryKind_ENTRY_KIND_SENT:
		rec.Direction = focalv1.Direction_DIRECTION_OUTBOUND
		rec.ReceiptStatus = focalv1.ReceiptStatus_RECEIPT_STATUS_PENDING
	case ledgerv1.EntryKind_ENTRY_KIND_RECEIVED:
		rec.Direction = focalv1.Direction_DIRECTION_INBOUND
		signer = s.peer
	default:
		return nil, fmt.Errorf("%w: first entry of %s is %s", ledger.ErrCorrupt, id, ledger.KindName(first.GetKind()))
	}
	raw, err := s.ledger.Envelope(first)
	if err != nil {
		return nil, err
	}
	opened, err := envelope.Open(raw, signer)
	switch {
	case err == nil:
		rec.Message, rec.SignatureValid, rec.SignedBy = opened.Message, true, opened.SignedBy.Name()
	case errors.Is(err, envelope.ErrMalformed):
		return nil, fmt.Errorf("%w: envelope of %s: %w", ledger.ErrCorrupt, id, err)
	default:
		// Shown, but flagged: the officer must see that this signature fails.
		rec.SignatureValid = false
	}
	for _, e := range entries {
		rec.LedgerEntries = append(rec.LedgerEntries, &focalv1.LedgerRef{
			Index: e.GetIndex(), Kind: ledger.KindName(e.GetKind()), RecordedAt: e.GetRecordedAt(),
		})
		var receiptKeys note.Verifiers
		switch e.GetKind() {
		case ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_RECEIVED:
			rec.ReceiptStatus, receiptKeys = focalv1.ReceiptStatus_RECEIPT_STATUS_RECEIPTED, s.peer
		case ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_ISSUED:
			rec.ReceiptStatus, receiptKeys = focalv1.ReceiptStatus_RECEIPT_STATUS_ISSUED, s.own
		default:
			continue
		}
		rraw, err := s.ledger.Receipt(e)
		if err != nil {
			return nil, err
		}
		r, _, err := envelope.OpenReceipt(rraw, receiptKeys)
		if err != nil {
			return nil, fmt.Errorf("%w: receipt in entry %d: %w", ledger.ErrCorrupt, e.GetIndex(), err)
		}
		rec.Receipt, rec.ReceiptSha256 = r, e.GetReceiptSha256()
	}
	if err := s.decorate(rec, first); err != nil {
		return nil, err
	}
	return rec, nil
}

func invalid(field, description string) error {
	return &message.ValidationError{Violations: []message.FieldViolation{{Field: field, Description: description}}}
}

// GetCheckpoint returns the ledger's checkpoints.
func (s *Server) GetCheckpoint(ctx context.Context, _ *focalv1.GetCheckpointRequest) (*focalv1.GetCheckpointResponse, error) {
	cosigned, err := s.ledger.LatestCosigned()
	if err != nil {
		return nil, err
	}
	witnessed, err := s.ledger.LatestWitnessed()
	if err != nil {
		return nil, err
	}
	return &focalv1.GetCheckpointResponse{
		Checkpoint:          s.ledger.Checkpoint(),
		CosignedCheckpoint:  cosigned.Note,
		CosignedSize:        cosigned.Size,
		WitnessedCheckpoint: witnessed.Note,
	}, nil
}

// GetInclusionProof proves an entry is in the tree, by default against the
// newest checkpoint the counterpart cosigned that covers it.
func (s *Server) GetInclusionProof(ctx context.Context, req *focalv1.GetInclusionProofRequest) (*focalv1.GetInclusionProofResponse, error) {
	var index uint64
	switch e := req.GetEntry().(type) {
	case *focalv1.GetInclusionProofRequest_MessageId:
		entries, err := s.ledger.MessageEntries(e.MessageId)
		if err != nil {
			return nil, err
		}
		index = entries[0].GetIndex()
	case *focalv1.GetInclusionProofRequest_Index:
		index = e.Index
	default:
		return nil, invalid("entry", "required: a message_id or an index")
	}
	_, raw, err := s.ledger.Entry(index)
	if err != nil {
		return nil, err
	}
	size, note, err := s.proofSize(index, req.GetTreeSize())
	if err != nil {
		return nil, err
	}
	hashes, err := s.ledger.InclusionProof(index, size)
	if err != nil {
		return nil, err
	}
	return &focalv1.GetInclusionProofResponse{Index: index, TreeSize: size, Hashes: hashes, Entry: raw, Checkpoint: note}, nil
}

// proofSize picks the tree size of a proof and the checkpoint that goes with it.
func (s *Server) proofSize(index, want uint64) (uint64, []byte, error) {
	cosigned, err := s.ledger.LatestCosigned()
	if err != nil {
		return 0, nil, err
	}
	own := s.ledger.Checkpoint()
	var ownSize uint64
	if own != nil {
		cp, err := ledger.CheckpointOf(own)
		if err != nil {
			return 0, nil, err
		}
		ownSize = cp.Size
	}
	switch {
	case want == 0 && cosigned.Note != nil && cosigned.Size > index:
		return cosigned.Size, cosigned.Note, nil
	case want == 0 && own != nil:
		return ownSize, own, nil
	case want == 0:
		return s.ledger.Size(), nil, nil
	case want <= index:
		return 0, nil, invalid("tree_size", fmt.Sprintf("a tree of size %d does not hold entry %d", want, index))
	case cosigned.Note != nil && want == cosigned.Size:
		return want, cosigned.Note, nil
	case own != nil && want == ownSize:
		return want, own, nil
	}
	return want, nil, nil
}

// GetConsistencyProof proves the tree of to_size extends that of from_size.
func (s *Server) GetConsistencyProof(ctx context.Context, req *focalv1.GetConsistencyProofRequest) (*focalv1.GetConsistencyProofResponse, error) {
	if req.GetFromSize() == 0 || req.GetFromSize() > req.GetToSize() {
		return nil, invalid("from_size", "must be at least 1 and at most to_size")
	}
	hashes, err := s.ledger.ConsistencyProof(req.GetFromSize(), req.GetToSize())
	if err != nil {
		return nil, err
	}
	return &focalv1.GetConsistencyProofResponse{Hashes: hashes}, nil
}

// ExportEntries streams entries exactly as stored.
func (s *Server) ExportEntries(req *focalv1.ExportEntriesRequest, stream focalv1.FocalService_ExportEntriesServer) error {
	const chunk = 512
	next, sent := req.GetFromIndex(), uint64(0)
	for req.GetLimit() == 0 || sent < req.GetLimit() {
		n := chunk
		if l := req.GetLimit(); l > 0 {
			n = int(min(uint64(chunk), l-sent))
		}
		raws, err := s.ledger.Entries(next, n)
		if err != nil {
			return err
		}
		if len(raws) == 0 {
			return nil
		}
		for _, raw := range raws {
			if err := stream.Send(&focalv1.ExportEntriesResponse{Index: next, Entry: raw}); err != nil {
				return err
			}
			next++
			sent++
		}
	}
	return nil
}
