package exchange

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/focalpoint-gateway/focalpoint/pkg/envelope"
	envelopev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/envelope/v1"
	ledgerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/ledger/v1"
	peerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/peer/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/identity"
	"github.com/focalpoint-gateway/focalpoint/pkg/ledger"
	"github.com/focalpoint-gateway/focalpoint/pkg/message"
)

// ReceiverOptions bound what the receiver accepts.
type ReceiverOptions struct {
	// MaxEnvelopeBytes is the largest envelope accepted.
	MaxEnvelopeBytes int
	// ClockSkew is how far in the future a message's creation time may be.
	ClockSkew time.Duration
	// MaxMessageAge is how far in the past a message's creation time may be. It
	// is long on purpose: a message queued through a days-long outage is still
	// delivered. Replays need no time window; the ledger knows every ID.
	MaxMessageAge time.Duration
	// Deadlines are the agreed answer times of alerts and referrals.
	Deadlines Deadlines
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger; nil discards.
	Logger *slog.Logger
	// Metrics; nil counts nothing.
	Metrics *Metrics
	// Status turns a refusal into the gRPC status error the sender gets for
	// that envelope, as the server's interceptor does for a call's error; nil
	// leaves it to status.Convert.
	Status func(error) error
}

// Receiver serves the peer API.
type Receiver struct {
	peerv1.UnimplementedPeerServiceServer
	link    Link
	ledger  *ledger.Ledger
	opts    ReceiverOptions
	log     *slog.Logger
	metrics *Metrics

	witnessMu sync.Mutex
}

// NewReceiver makes the peer API server.
func NewReceiver(link Link, l *ledger.Ledger, opts ReceiverOptions) *Receiver {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Receiver{link: link, ledger: l, opts: opts, log: opts.Logger, metrics: opts.Metrics}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.log = r.log.With("peer", link.PeerID.String())
	if r.metrics == nil {
		r.metrics = NewMetrics(nil)
	}
	return r
}

// Limits of one Deliver call. A batch shares one round trip and one commit
// of the receiver's ledger; the limits keep a call's memory and time bounded.
const (
	// MaxDeliverBatch is the most envelopes one call may carry.
	MaxDeliverBatch = 256
	// MaxDeliverBytes is how many envelope bytes a sender puts in one call,
	// unless a single envelope is larger (it then goes alone).
	MaxDeliverBytes = 1 << 20
)

// MaxDeliverRequestBytes is the largest Deliver request a node must take and
// may send, given the largest envelope it accepts.
func MaxDeliverRequestBytes(maxEnvelope int) int {
	// Each envelope is a length-delimited field: a tag and a length of at most
	// five bytes.
	return max(maxEnvelope, MaxDeliverBytes) + MaxDeliverBatch*6
}

// Deliver verifies envelopes from the counterpart, ledgers them and answers
// each with its signed receipt or its refusal. The envelopes are judged
// concurrently, so that their signatures are checked on every core and their
// ledger writes share commits.
func (r *Receiver) Deliver(ctx context.Context, req *peerv1.DeliverRequest) (*peerv1.DeliverResponse, error) {
	caller, err := r.checkCaller(ctx)
	if err == nil {
		switch n := len(req.GetEnvelopes()); {
		case n == 0:
			err = violation("envelopes", "required")
		case n > MaxDeliverBatch:
			err = violation("envelopes", fmt.Sprintf("%d envelopes, at most %d in one call", n, MaxDeliverBatch))
		}
	}
	if err != nil {
		r.refused(ctx, "", err)
		return nil, err
	}
	results := make([]*peerv1.DeliverResult, len(req.GetEnvelopes()))
	var wg sync.WaitGroup
	for i, raw := range req.GetEnvelopes() {
		wg.Go(func() { results[i] = r.judge(ctx, caller, raw) })
	}
	wg.Wait()
	return &peerv1.DeliverResponse{Results: results}, nil
}

// judge answers one envelope of a Deliver call.
func (r *Receiver) judge(ctx context.Context, caller spiffeid.ID, raw []byte) *peerv1.DeliverResult {
	res, id, kind, err := r.deliver(ctx, caller, raw)
	if err != nil {
		r.refused(ctx, id, err)
		b, merr := proto.Marshal(r.status(err).Proto())
		if merr != nil {
			// A status always marshals; this is a bug, and the sender retries.
			b, _ = proto.Marshal(status.New(codes.Internal, "exchange: refusal not encoded").Proto())
		}
		return &peerv1.DeliverResult{Result: &peerv1.DeliverResult_Refusal{Refusal: b}}
	}
	if res.Replayed {
		r.metrics.replayed.Inc()
		r.log.InfoContext(ctx, "peer delivery replayed; original receipt returned", "message_id", id, "ledger_index", res.Index)
	} else {
		r.metrics.received.WithLabelValues(KindName(kind)).Inc()
		r.log.InfoContext(ctx, "message received", "message_id", id, "kind", KindName(kind), "ledger_index", res.Index)
	}
	return &peerv1.DeliverResult{Result: &peerv1.DeliverResult_SignedReceipt{SignedReceipt: res.SignedReceipt}}
}

func (r *Receiver) refused(ctx context.Context, id string, err error) {
	reason := refusalReason(err)
	r.metrics.refused.WithLabelValues(reason).Inc()
	level := slog.LevelWarn
	if reason == "internal" {
		// Not the counterpart's doing: a bug or a failing disk. A refusal in
		// a batch does not pass the server's interceptor, which would log it
		// so.
		level = slog.LevelError
	}
	r.log.Log(ctx, level, "peer delivery refused", "message_id", id, "reason", reason, "err", err)
}

// status is the gRPC status a refusal travels as.
func (r *Receiver) status(err error) *status.Status {
	if r.opts.Status != nil {
		err = r.opts.Status(err)
	}
	return status.Convert(err)
}

// checkCaller admits only the counterpart node. The TLS authorizer already
// does; this is the second lock on the same door.
func (r *Receiver) checkCaller(ctx context.Context) (spiffeid.ID, error) {
	caller, err := identity.PeerID(ctx)
	if err != nil {
		return spiffeid.ID{}, fmt.Errorf("%w: %w", ErrNotPeer, err)
	}
	if caller != r.link.PeerID {
		return spiffeid.ID{}, fmt.Errorf("%w: caller is %s", ErrNotPeer, caller)
	}
	return caller, nil
}

func (r *Receiver) deliver(ctx context.Context, caller spiffeid.ID, raw []byte) (ledger.Received, string, ledgerv1.MessageKind, error) {
	none := ledgerv1.MessageKind_MESSAGE_KIND_UNSPECIFIED
	if len(raw) == 0 {
		return ledger.Received{}, "", none, violation("envelope", "required")
	}
	if len(raw) > r.opts.MaxEnvelopeBytes {
		return ledger.Received{}, "", none, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(raw), r.opts.MaxEnvelopeBytes)
	}
	opened, err := envelope.Open(raw, r.link.PeerKeys)
	if err != nil {
		return ledger.Received{}, "", none, err
	}
	m := opened.Message
	id := m.GetHeader().GetMessageId()
	now := r.opts.Now()
	if err := message.Validate(m, now); err != nil {
		return ledger.Received{}, id, none, err
	}
	h := m.GetHeader()
	// The signature says who wrote it; the connection says who delivered it. A
	// counterpart may only deliver what it signed itself.
	if h.GetSender().GetSpiffeId() != caller.String() || h.GetSender().GetAgency() != r.link.Counterpart.GetAgency() {
		return ledger.Received{}, id, none, fmt.Errorf("%w: signed sender %s (%s) is not the connected peer %s",
			ErrNotPeer, h.GetSender().GetSpiffeId(), h.GetSender().GetAgency(), caller)
	}
	if h.GetRecipient().GetSpiffeId() != r.link.SelfID.String() || h.GetRecipient().GetAgency() != r.link.Self.GetAgency() {
		return ledger.Received{}, id, none, violation("header.recipient", fmt.Sprintf("is %s (%s), this node is %s (%s)",
			h.GetRecipient().GetSpiffeId(), h.GetRecipient().GetAgency(), r.link.SelfID, r.link.Self.GetAgency()))
	}
	// A message already received is answered from the ledger (the original
	// receipt, or a conflict) whatever its age and whatever has happened in its
	// case since: a sender whose receipt was lost must get it back.
	var p placement
	if _, err := r.ledger.MessageEntries(id); errors.Is(err, ledger.ErrNotFound) {
		if err := r.checkFresh(h.GetCreatedAt().AsTime(), now); err != nil {
			return ledger.Received{}, id, none, err
		}
		if p, err = place(r.ledger, m, false, r.opts.Deadlines); err != nil {
			return ledger.Received{}, id, none, err
		}
	} else if err != nil {
		return ledger.Received{}, id, none, err
	}
	kind := MessageKind(m)
	res, err := r.ledger.AppendReceived(ctx, ledger.Message{
		ID: id, Kind: kind, ThreadID: h.GetThreadId(), Envelope: raw,
		Deadline: p.deadline, Closes: p.closes,
	}, r.issue(id, opened.SHA256[:]))
	return res, id, kind, err
}

// checkFresh refuses creation times from the future (beyond the clock skew) or
// from too long ago.
func (r *Receiver) checkFresh(created, now time.Time) error {
	if d := created.Sub(now); d > r.opts.ClockSkew {
		return violation("header.created_at", fmt.Sprintf("is %s ahead of this node's clock, more than the allowed clock skew of %s", d.Round(time.Second), r.opts.ClockSkew))
	}
	if d := now.Sub(created); d > r.opts.MaxMessageAge {
		return violation("header.created_at", fmt.Sprintf("is %s old, more than the allowed %s", d.Round(time.Second), r.opts.MaxMessageAge))
	}
	return nil
}

func (r *Receiver) issue(id string, envelopeSHA []byte) ledger.IssueFunc {
	return func(index uint64, at time.Time) ([]byte, error) {
		return envelope.SignReceipt(&envelopev1.Receipt{
			MessageId:      id,
			EnvelopeSha256: envelopeSHA,
			LedgerIndex:    index,
			ReceivedAt:     timestamppb.New(at),
			Receiver:       r.link.Self,
		}, r.link.SelfSigner)
	}
}

func violation(field, description string) error {
	return &message.ValidationError{Violations: []message.FieldViolation{{Field: field, Description: description}}}
}

// refusalReason is a short, bounded label for metrics and logs.
func refusalReason(err error) string {
	switch {
	case errors.Is(err, ErrNotPeer):
		return "not_peer"
	case errors.Is(err, ErrFork):
		return "fork"
	case errors.Is(err, ErrTooLarge):
		return "too_large"
	case errors.Is(err, envelope.ErrMalformed):
		return "malformed"
	case errors.Is(err, envelope.ErrUnknownKey):
		return "unknown_key"
	case errors.Is(err, envelope.ErrBadSignature):
		return "bad_signature"
	case errors.Is(err, message.ErrInvalid):
		return "invalid"
	case errors.Is(err, ledger.ErrConflict):
		return "conflict"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "cancelled"
	}
	return "internal"
}
