package exchange

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/google/uuid"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/focalpoint-gateway/focalpoint/pkg/envelope"
	focalv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/focal/v1"
	ledgerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/ledger/v1"
	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
	peerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/peer/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/ledger"
	"github.com/focalpoint-gateway/focalpoint/pkg/message"
)

// SenderOptions tune submission and delivery.
type SenderOptions struct {
	// Workers is how many Deliver calls may be in flight at once.
	Workers int
	// Batch is the most messages one Deliver call carries; 0 or more than
	// MaxDeliverBatch means MaxDeliverBatch.
	Batch int
	// InitialBackoff and MaxBackoff bound the wait between attempts.
	InitialBackoff, MaxBackoff time.Duration
	// AttemptTimeout bounds one delivery attempt.
	AttemptTimeout time.Duration
	// OutboxLimit is how many messages may wait before submissions are refused.
	OutboxLimit int
	// Deadlines are the agreed answer times of alerts and referrals.
	Deadlines Deadlines
	// CosignInterval is how often the witness loop looks for a checkpoint to
	// get cosigned; 0 means one second.
	CosignInterval time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger; nil discards.
	Logger *slog.Logger
	// Metrics; nil counts nothing.
	Metrics *Metrics
}

// Sender signs and ledgers drafts and delivers them to the counterpart.
type Sender struct {
	link    Link
	ledger  *ledger.Ledger
	peer    peerv1.PeerServiceClient
	opts    SenderOptions
	log     *slog.Logger
	metrics *Metrics

	kick chan struct{}

	mu       sync.Mutex
	inFlight map[string]bool
	retry    map[string]*retryState
	// linkDownUntil pauses all dispatch after a transport failure, so an absent
	// peer costs one probe per backoff, not one attempt per queued message.
	linkDownUntil time.Time
	linkFailures  int
}

type retryState struct {
	attempts  int
	lastError string
	notBefore time.Time
}

// NewSender makes a sender delivering through conn.
func NewSender(link Link, l *ledger.Ledger, conn grpc.ClientConnInterface, opts SenderOptions) *Sender {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Workers <= 0 {
		opts.Workers = 1
	}
	if opts.Batch <= 0 || opts.Batch > MaxDeliverBatch {
		opts.Batch = MaxDeliverBatch
	}
	if opts.CosignInterval <= 0 {
		opts.CosignInterval = time.Second
	}
	s := &Sender{
		link:     link,
		ledger:   l,
		peer:     peerv1.NewPeerServiceClient(conn),
		opts:     opts,
		log:      opts.Logger,
		metrics:  opts.Metrics,
		kick:     make(chan struct{}, 1),
		inFlight: make(map[string]bool),
		retry:    make(map[string]*retryState),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("peer", link.PeerID.String())
	if s.metrics == nil {
		s.metrics = NewMetrics(nil)
	}
	return s
}

// Submitted says a message is signed, durable in the ledger and queued.
type Submitted struct {
	MessageID   string
	ThreadID    string
	LedgerIndex uint64
}

// Submit turns a draft into a signed message, commits it with its outbox row,
// and returns once that is durable. Delivery happens in Run.
func (s *Sender) Submit(ctx context.Context, d *focalv1.Draft) (Submitted, error) {
	// A cheap early answer; the ledger enforces the limit exactly.
	if n := s.ledger.OutboxLen(); n >= s.opts.OutboxLimit {
		s.metrics.refused.WithLabelValues("outbox_full").Inc()
		return Submitted{}, &OutboxFullError{Pending: n, Limit: s.opts.OutboxLimit, RetryAfter: s.opts.MaxBackoff}
	}
	m, p, err := s.compose(d)
	if err != nil {
		return Submitted{}, err
	}
	raw, err := envelope.Seal(m, s.link.SelfSigner)
	if err != nil {
		return Submitted{}, err
	}
	h := m.GetHeader()
	kind := MessageKind(m)
	index, err := s.ledger.AppendSent(ctx, ledger.Message{
		ID: h.GetMessageId(), Kind: kind, ThreadID: h.GetThreadId(), Envelope: raw,
		Deadline: p.deadline, Closes: p.closes,
	}, s.opts.OutboxLimit)
	if errors.Is(err, ledger.ErrOutboxFull) {
		s.metrics.refused.WithLabelValues("outbox_full").Inc()
		return Submitted{}, &OutboxFullError{Pending: s.ledger.OutboxLen(), Limit: s.opts.OutboxLimit, RetryAfter: s.opts.MaxBackoff}
	}
	if err != nil {
		return Submitted{}, err
	}
	s.metrics.sent.WithLabelValues(KindName(kind)).Inc()
	s.log.InfoContext(ctx, "message accepted", "message_id", h.GetMessageId(), "kind", KindName(kind), "ledger_index", index)
	s.Kick()
	return Submitted{MessageID: h.GetMessageId(), ThreadID: h.GetThreadId(), LedgerIndex: index}, nil
}

// compose fills in what the node owns (ID, parties, time, thread) and
// validates the whole message before anything is signed.
func (s *Sender) compose(d *focalv1.Draft) (*messagev1.Message, placement, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, placement{}, fmt.Errorf("exchange: message ID: %w", err)
	}
	now := s.opts.Now()
	m := &messagev1.Message{
		Header: &messagev1.Header{
			MessageId:     id.String(),
			Sender:        s.link.Self,
			Recipient:     s.link.Counterpart,
			CreatedAt:     timestamppb.New(now),
			ThreadId:      d.GetThreadId(),
			InReplyTo:     d.GetInReplyTo(),
			Handling:      d.GetHandling(),
			SchemaVersion: message.SchemaVersion,
		},
		Payload: d.GetPayload(),
	}
	if m.GetPayload().GetTest() != nil && m.Header.Handling == nil {
		m.Header.Handling = &messagev1.Handling{Code: messagev1.HandlingCode_HANDLING_CODE_H0}
	}
	p, err := place(s.ledger, m, true, s.opts.Deadlines)
	if err != nil {
		return nil, placement{}, err
	}
	if err := message.Validate(m, now); err != nil {
		return nil, placement{}, err
	}
	return m, p, nil
}

// Kick wakes the delivery loop.
func (s *Sender) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// OutboxStatus is a queued message's delivery state as the loop knows it.
type OutboxStatus struct {
	Attempts  int
	LastError string
}

// PeerUp says whether the last delivery attempt reached the counterpart.
func (s *Sender) PeerUp() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.linkFailures == 0
}

// LinkReady tells the delivery loop that a connection to the counterpart is
// up again: the pause after failures ends now rather than when its backoff
// runs out, so a backlog starts draining as soon as the peer is back.
func (s *Sender) LinkReady() {
	s.mu.Lock()
	paused := s.linkDownUntil.After(s.opts.Now())
	s.linkDownUntil = time.Time{}
	s.mu.Unlock()
	if paused {
		s.Kick()
	}
}

// Status returns what the delivery loop knows of a queued message.
func (s *Sender) Status(id string) OutboxStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.retry[id]; r != nil {
		return OutboxStatus{Attempts: r.attempts, LastError: r.lastError}
	}
	return OutboxStatus{}
}

// Run delivers queued messages until ctx ends, then waits for attempts in flight.
// It resumes from the outbox alone, so a restart loses nothing.
func (s *Sender) Run(ctx context.Context) error {
	work := make(chan []ledger.OutboxRow)
	var wg sync.WaitGroup
	for range s.opts.Workers {
		wg.Go(func() {
			for batch := range work {
				s.attempt(ctx, batch)
			}
		})
	}
	wg.Go(func() { s.witnessLoop(ctx) })
	defer func() {
		close(work)
		wg.Wait()
	}()
	for {
		wait := s.dispatch(ctx, work)
		if ctx.Err() != nil {
			return nil
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-s.kick:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// dispatch hands every due message to the workers, oldest first, in batches
// of up to opts.Batch, and says how long to sleep before looking again. A
// batch waits for a free worker; meanwhile nothing else is read, so under
// load the batches fill up, and when the link is quiet a lone message goes at
// once.
func (s *Sender) dispatch(ctx context.Context, work chan<- []ledger.OutboxRow) time.Duration {
	const page = 512
	next := time.Second
	var batch []ledger.OutboxRow
	flush := func() bool {
		if len(batch) == 0 {
			return true
		}
		select {
		case work <- batch:
			batch = nil
			return true
		case <-ctx.Done():
			s.done(batch)
			batch = nil
			return false
		}
	}
	var from uint64
	for ctx.Err() == nil {
		rows, err := s.ledger.Outbox(from, page)
		if err != nil {
			s.log.ErrorContext(ctx, "reading the outbox failed", "err", err)
			flush()
			return next
		}
		for _, row := range rows {
			now := s.opts.Now()
			s.mu.Lock()
			if wait := s.linkDownUntil.Sub(now); wait > 0 {
				s.mu.Unlock()
				s.done(batch)
				return min(next, wait)
			}
			busy := s.inFlight[row.MessageID]
			r := s.retry[row.MessageID]
			due := r == nil || !now.Before(r.notBefore)
			if !busy && due {
				s.inFlight[row.MessageID] = true
			}
			s.mu.Unlock()
			if busy {
				continue
			}
			if !due {
				next = min(next, r.notBefore.Sub(now))
				continue
			}
			batch = append(batch, row)
			if len(batch) >= s.opts.Batch && !flush() {
				return next
			}
		}
		if len(rows) < page {
			break
		}
		from = rows[len(rows)-1].SentIndex + 1
	}
	flush()
	return next
}

func (s *Sender) done(batch []ledger.OutboxRow) {
	s.mu.Lock()
	for _, row := range batch {
		delete(s.inFlight, row.MessageID)
	}
	s.mu.Unlock()
}

// attempt delivers a batch once and records what happened to each message.
func (s *Sender) attempt(ctx context.Context, batch []ledger.OutboxRow) {
	defer s.done(batch)
	// An attempt under way when the node stops is finished, not abandoned: the
	// peer may already hold the messages, and their receipts belong in our
	// ledger.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.AttemptTimeout)
	defer cancel()
	errs, callErr := s.deliver(actx, batch)
	now := s.opts.Now()
	// Wake the loop when done, so a retry is scheduled by its backoff and not by
	// the loop's idle timer.
	defer s.Kick()
	s.mu.Lock()
	defer s.mu.Unlock()
	linkDown := callErr != nil
	for i, row := range batch {
		s.record(ctx, row, errs[i], linkDown, now)
	}
	switch {
	case linkDown:
		// Counted once per call, not per message: the backoff is the link's.
		s.metrics.peerUp.Set(0)
		s.linkFailures++
		s.linkDownUntil = now.Add(s.backoff(s.linkFailures))
	default:
		// It answered, if only to refuse.
		s.metrics.peerUp.Set(1)
		s.linkFailures = 0
	}
}

// record keeps one message's outcome. The caller holds s.mu.
func (s *Sender) record(ctx context.Context, row ledger.OutboxRow, err error, linkDown bool, now time.Time) {
	if err == nil {
		delete(s.retry, row.MessageID)
		s.metrics.attempts.WithLabelValues("receipted").Inc()
		s.metrics.roundTrip.Observe(now.Sub(row.AcceptedAt).Seconds())
		return
	}
	r := s.retry[row.MessageID]
	if r == nil {
		r = &retryState{}
		s.retry[row.MessageID] = r
	}
	r.attempts++
	r.lastError = err.Error()
	switch {
	case linkDown:
		// The link's pause decides when it goes again.
		s.metrics.attempts.WithLabelValues("unavailable").Inc()
		r.notBefore = now
		s.log.WarnContext(ctx, "delivery failed; will retry", "message_id", row.MessageID, "attempts", r.attempts, "err", err)
	case transient(err):
		// The peer answered the call but could not take this message now (its
		// disk, say): this message backs off, the others go on.
		s.metrics.attempts.WithLabelValues("unavailable").Inc()
		r.notBefore = now.Add(s.backoff(r.attempts))
		s.log.WarnContext(ctx, "delivery failed; will retry", "message_id", row.MessageID, "attempts", r.attempts, "err", err)
	default:
		// The peer refused this message. It stays in the outbox, visible with
		// its error, and is tried again slowly: a refusal caused by a
		// misconfiguration clears when the configuration is fixed, and nothing
		// accepted is dropped.
		s.metrics.attempts.WithLabelValues("refused").Inc()
		r.notBefore = now.Add(s.backoff(r.attempts))
		s.log.ErrorContext(ctx, "delivery refused by the counterpart", "message_id", row.MessageID, "attempts", r.attempts, "err", err)
	}
}

// outgoing is one message of a batch on its way.
type outgoing struct {
	row  ledger.OutboxRow
	sent *ledgerv1.Entry
	raw  []byte
	err  *error
}

// deliver sends a batch, in as few calls as MaxDeliverBytes allows, and
// ledgers the receipts. It returns each message's outcome and, if a call
// failed on the way (the link, not the counterpart's answer), that error:
// every message it carried, and every later one, failed with it.
func (s *Sender) deliver(ctx context.Context, batch []ledger.OutboxRow) ([]error, error) {
	errs := make([]error, len(batch))
	var ready []outgoing
	for i, row := range batch {
		o := outgoing{row: row, err: &errs[i]}
		if o.sent, o.raw, errs[i] = s.load(row); errs[i] == nil {
			ready = append(ready, o)
		}
	}
	for len(ready) > 0 {
		n, size := 1, len(ready[0].raw)
		for n < len(ready) && n < MaxDeliverBatch && size+len(ready[n].raw) <= MaxDeliverBytes {
			size += len(ready[n].raw)
			n++
		}
		if err := s.call(ctx, ready[:n]); err != nil {
			if linkFailure(err) {
				for _, o := range ready {
					*o.err = err
				}
				return errs, err
			}
			// The counterpart answered, refusing the call: that is about
			// what the call carried (an envelope over its size limit goes
			// alone), so the others still go.
			for _, o := range ready[:n] {
				*o.err = err
			}
		}
		ready = ready[n:]
	}
	return errs, nil
}

// load reads a queued message's SENT entry and envelope.
func (s *Sender) load(row ledger.OutboxRow) (*ledgerv1.Entry, []byte, error) {
	sent, _, err := s.ledger.Entry(row.SentIndex)
	if err != nil {
		return nil, nil, err
	}
	raw, err := s.ledger.Envelope(sent)
	if err != nil {
		return nil, nil, err
	}
	return sent, raw, nil
}

// call makes one Deliver call and ledgers its receipts, checking them on
// every core and committing them together.
func (s *Sender) call(ctx context.Context, batch []outgoing) error {
	req := &peerv1.DeliverRequest{Envelopes: make([][]byte, len(batch))}
	for i, o := range batch {
		req.Envelopes[i] = o.raw
	}
	resp, err := s.peer.Deliver(ctx, req)
	if err != nil {
		return fmt.Errorf("exchange: deliver %d messages: %w", len(batch), err)
	}
	if n := len(resp.GetResults()); n != len(batch) {
		err := fmt.Errorf("%w: %d answers to %d envelopes", ErrBadReceipt, n, len(batch))
		for _, o := range batch {
			*o.err = err
		}
		return nil
	}
	var wg sync.WaitGroup
	for i, o := range batch {
		wg.Go(func() { *o.err = s.take(ctx, o, resp.GetResults()[i]) })
	}
	wg.Wait()
	return nil
}

// take checks the counterpart's answer to one message and ledgers its receipt.
func (s *Sender) take(ctx context.Context, o outgoing, res *peerv1.DeliverResult) error {
	id := o.row.MessageID
	if b := res.GetRefusal(); b != nil {
		st := &spb.Status{}
		if err := proto.Unmarshal(b, st); err != nil {
			return fmt.Errorf("%w: refusal of %s does not parse: %w", ErrBadReceipt, id, err)
		}
		return fmt.Errorf("exchange: deliver %s: %w", id, status.FromProto(st).Err())
	}
	signed := res.GetSignedReceipt()
	receipt, _, err := envelope.OpenReceipt(signed, s.link.PeerKeys)
	if err != nil {
		return fmt.Errorf("exchange: receipt for %s: %w", id, err)
	}
	switch {
	case receipt.GetMessageId() != id:
		return fmt.Errorf("%w: receipt names message %s", ErrBadReceipt, receipt.GetMessageId())
	case string(receipt.GetEnvelopeSha256()) != string(o.sent.GetEnvelopeSha256()):
		return fmt.Errorf("%w: receipt names another envelope hash", ErrBadReceipt)
	case receipt.GetReceiver().GetSpiffeId() != s.link.PeerID.String():
		return fmt.Errorf("%w: receipt names receiver %s", ErrBadReceipt, receipt.GetReceiver().GetSpiffeId())
	}
	index, err := s.ledger.AppendReceiptReceived(ctx, id, signed)
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "receipt received", "message_id", id, "ledger_index", index, "peer_ledger_index", receipt.GetLedgerIndex())
	return nil
}

// linkFailure says a call failed on the way rather than being answered.
func linkFailure(err error) bool {
	if st, ok := status.FromError(err); ok {
		switch st.Code() {
		case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
			return true
		}
		return false
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// transient errors may pass by themselves: the link, a busy or failing
// counterpart. The others are refusals that need a person to act.
func transient(err error) bool {
	st, ok := status.FromError(err)
	if !ok {
		// Our own findings (a bad receipt, a ledger error) are not the link's fault.
		return errors.Is(err, context.DeadlineExceeded)
	}
	switch st.Code() {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.ResourceExhausted, codes.Aborted, codes.Internal, codes.Unknown:
		return true
	}
	return errors.Is(err, context.DeadlineExceeded)
}

// backoff is capped exponential with jitter: a random wait in [d/2, d].
func (s *Sender) backoff(failures int) time.Duration {
	d := s.opts.InitialBackoff
	for i := 1; i < failures && d < s.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.opts.MaxBackoff)
	return d/2 + rand.N(d/2+1)
}
