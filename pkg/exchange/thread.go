package exchange

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	envelopev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/envelope/v1"
	ledgerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/ledger/v1"
	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/ledger"
	"github.com/focalpoint-gateway/focalpoint/pkg/message"
)

// Cases. Every message but tests and statistics belongs to a case (thread).
// A reply names the message it answers; that message must be in this node's
// ledger, be of a kind the reply may answer, have come from the right side
// (message.Threading.Author) and be in the reply's case. The sender checks
// this before signing and the receiver again before ledgering, against their
// own ledgers, so neither side accepts a reply the other could not place.

// kinds maps message kinds to the ledger's kinds and back.
var kinds = map[string]ledgerv1.MessageKind{
	message.KindAlert:           ledgerv1.MessageKind_MESSAGE_KIND_ALERT,
	message.KindOutcome:         ledgerv1.MessageKind_MESSAGE_KIND_OUTCOME,
	message.KindTest:            ledgerv1.MessageKind_MESSAGE_KIND_TEST,
	message.KindAlertUpdate:     ledgerv1.MessageKind_MESSAGE_KIND_ALERT_UPDATE,
	message.KindAlertWithdrawal: ledgerv1.MessageKind_MESSAGE_KIND_ALERT_WITHDRAWAL,
	message.KindReferral:        ledgerv1.MessageKind_MESSAGE_KIND_REFERRAL,
	message.KindAcknowledgement: ledgerv1.MessageKind_MESSAGE_KIND_ACKNOWLEDGEMENT,
	message.KindStatistics:      ledgerv1.MessageKind_MESSAGE_KIND_STATISTICS,
}

// MessageKind maps a payload to the kind the ledger counts.
func MessageKind(m *messagev1.Message) ledgerv1.MessageKind {
	return kinds[message.Kind(m)]
}

// KindOf is the message kind name of a ledger kind, e.g. "alert".
func KindOf(k ledgerv1.MessageKind) string {
	for name, v := range kinds {
		if v == k {
			return name
		}
	}
	return ""
}

// KindName is a ledger message kind as people read it, e.g. "alert".
func KindName(k ledgerv1.MessageKind) string {
	if n := KindOf(k); n != "" {
		return n
	}
	return k.String()
}

// Deadlines are the agreed answer times for requests (alerts, referrals).
type Deadlines struct {
	Urgent, Normal time.Duration
}

// placement is where a message goes in the ledger's cases.
type placement struct {
	thread   string
	deadline time.Time
	closes   string
}

// place checks a message's reply against the ledger and works out its case,
// its deadline and the request it closes. outbound says whether this node is
// the message's sender. When the header has no thread and the message opens
// a case, place fills it in (the sender's compose does this before signing).
func place(l *ledger.Ledger, m *messagev1.Message, outbound bool, d Deadlines) (placement, error) {
	h := m.GetHeader()
	kind := message.Kind(m)
	th, ok := message.ThreadingOf(kind)
	if !ok {
		return placement{}, violation("payload", "unknown message kind")
	}
	var p placement
	if reply := h.GetInReplyTo(); reply != "" && th.InReplyTo != message.Forbidden {
		answered, err := l.MessageEntries(reply)
		if errors.Is(err, ledger.ErrNotFound) {
			return placement{}, violation("header.in_reply_to", "names no message in this node's ledger")
		}
		if err != nil {
			return placement{}, err
		}
		first := answered[0]
		answeredKind := KindOf(first.GetMessageKind())
		if !message.MayAnswer(kind, answeredKind) {
			return placement{}, violation("header.in_reply_to", fmt.Sprintf("names %s %s; %s may answer only %v", article(answeredKind), answeredKind, article(kind)+" "+kind, th.Answers))
		}
		sentHere := first.GetKind() == ledgerv1.EntryKind_ENTRY_KIND_SENT
		// Who wrote the answered message, seen from this node: an update by the
		// alert's sender answers what its sender sent, an outcome what its
		// recipient sent.
		switch th.Author {
		case message.SenderAuthor:
			if sentHere != outbound {
				return placement{}, violation("header.in_reply_to", "names a message of the other agency; only its author may "+verb(kind))
			}
		case message.RecipientAuthor:
			if sentHere == outbound {
				return placement{}, violation("header.in_reply_to", "names a message of the same agency; "+article(kind)+" "+kind+" answers the counterpart")
			}
		}
		switch {
		case h.GetThreadId() == "" && outbound:
			h.ThreadId = first.GetThreadId()
		case h.GetThreadId() != first.GetThreadId():
			return placement{}, violation("header.thread_id", "is not the case of the message it answers")
		}
		if kind == message.KindAlertUpdate || kind == message.KindAlertWithdrawal {
			if err := checkAlertStands(l, m, first); err != nil {
				return placement{}, err
			}
		}
		if kind == message.KindOutcome || kind == message.KindAlertWithdrawal {
			p.closes = reply
		}
	}
	if h.GetThreadId() == "" && th.Thread == message.Required && outbound {
		// A message that opens a case names the case after itself.
		h.ThreadId = h.GetMessageId()
	}
	p.thread = h.GetThreadId()
	if due, ok := message.ResponseDeadline(m, d.Urgent, d.Normal); ok {
		p.deadline = due
	}
	return p, nil
}

// checkAlertStands refuses an update or a withdrawal of an alert that was
// withdrawn, and checks an update against the alert it corrects.
func checkAlertStands(l *ledger.Ledger, m *messagev1.Message, alertEntry *ledgerv1.Entry) error {
	alert, err := MessageOf(l, alertEntry)
	if err != nil {
		return err
	}
	entries, err := l.ThreadEntries(alertEntry.GetThreadId())
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.GetMessageKind() != ledgerv1.MessageKind_MESSAGE_KIND_ALERT_WITHDRAWAL || !(e.GetKind() == ledgerv1.EntryKind_ENTRY_KIND_SENT || e.GetKind() == ledgerv1.EntryKind_ENTRY_KIND_RECEIVED) {
			continue
		}
		w, err := MessageOf(l, e)
		if err != nil {
			return err
		}
		if w.GetHeader().GetInReplyTo() == alertEntry.GetMessageId() {
			return violation("header.in_reply_to", "names an alert that was withdrawn ("+w.GetPayload().GetAlertWithdrawal().GetReason()+")")
		}
	}
	if m.GetPayload().GetAlertUpdate() != nil {
		return message.ValidateUpdate(alert, m)
	}
	return nil
}

// messageOf reads the message of a SENT or RECEIVED entry from the ledger.
// Its signature was checked before it was ledgered.
func MessageOf(l *ledger.Ledger, e *ledgerv1.Entry) (*messagev1.Message, error) {
	raw, err := l.Envelope(e)
	if err != nil {
		return nil, err
	}
	var env envelopev1.Envelope
	var m messagev1.Message
	if err := proto.Unmarshal(raw, &env); err != nil {
		return nil, fmt.Errorf("%w: envelope of entry %d: %w", ledger.ErrCorrupt, e.GetIndex(), err)
	}
	if err := proto.Unmarshal(env.GetMessage(), &m); err != nil {
		return nil, fmt.Errorf("%w: message of entry %d: %w", ledger.ErrCorrupt, e.GetIndex(), err)
	}
	return &m, nil
}

func article(kind string) string {
	if kind != "" && (kind[0] == 'a' || kind[0] == 'o') {
		return "an"
	}
	return "a"
}

func verb(kind string) string {
	if kind == message.KindAlertWithdrawal {
		return "withdraw it"
	}
	return "update it"
}
