// Package demo runs the whole link on one machine: two nodes with freshly made
// identities and keys, a real exchange over mutual TLS on loopback, and an
// offline audit of both ledgers. It is what `focalpoint demo` does, and its
// test is the end-to-end test of the walking node.
package demo

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/focalpoint-gateway/focalpoint/pkg/audit"
	"github.com/focalpoint-gateway/focalpoint/pkg/config"
	"github.com/focalpoint-gateway/focalpoint/pkg/devpki"
	focalv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/focal/v1"
	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/ledger"
	"github.com/focalpoint-gateway/focalpoint/pkg/message"
	"github.com/focalpoint-gateway/focalpoint/pkg/node"
)

// Options for Run.
type Options struct {
	// Dir holds the demo's identities, configs and ledgers; empty means a new
	// temporary directory, removed afterwards.
	Dir string
	// Out receives the transcript.
	Out io.Writer
	// Logger receives both nodes' logs; nil discards them.
	Logger *slog.Logger
}

// Result is what the demo exchanged, for its test to check.
type Result struct {
	AlertID, OutcomeID string
	Ledgers            [2]string
	Reports            [2]*audit.Report
}

// side is one node of the demo.
type side struct {
	layout devpki.NodeLayout
	cfg    *config.Config
	node   *node.Node
	client focalv1.FocalServiceClient
	done   chan error
}

// Run runs the demo and returns an error saying what failed.
func Run(ctx context.Context, opts Options) (*Result, error) {
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	dir := opts.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "focalpoint-demo-")
		if err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	out := opts.Out
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }

	layout, err := devpki.Write(filepath.Join(dir, "certs"), devpki.Default(), time.Now())
	if err != nil {
		return nil, fmt.Errorf("demo: dev PKI: %w", err)
	}
	id, kh := &side{layout: layout.Nodes[0]}, &side{layout: layout.Nodes[1]}
	say("identities and keys made in %s", layout.Dir)

	// Both peer ports are taken before either config is written, so each node
	// knows where the other listens.
	lisID, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	lisKH, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		lisID.Close()
		return nil, fmt.Errorf("demo: %w", err)
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	for _, s := range []struct {
		me, other *side
		lis       net.Listener
		otherAddr string
	}{{id, kh, lisID, lisKH.Addr().String()}, {kh, id, lisKH, lisID.Addr().String()}} {
		path, err := writeConfig(dir, s.me.layout, s.other.layout, s.lis.Addr().String(), s.otherAddr)
		if err != nil {
			return nil, err
		}
		if s.me.cfg, err = config.Load(path); err != nil {
			return nil, err
		}
		log := opts.Logger
		if log == nil {
			log = slog.New(slog.DiscardHandler)
		}
		if s.me.node, err = node.New(runCtx, s.me.cfg, node.Options{Logger: log.With("node", s.me.cfg.Agency), PeerListener: s.lis}); err != nil {
			return nil, err
		}
		s.me.done = make(chan error, 1)
		go func(me *side) { me.done <- me.node.Run(runCtx) }(s.me)
		conn, err := node.DialLocal(s.me.cfg.LocalSocket)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		s.me.client = focalv1.NewFocalServiceClient(conn)
		say("node %-7s %s  peer API %s, local API %s", s.me.cfg.Agency, s.me.cfg.ID, s.lis.Addr(), s.me.cfg.LocalSocket)
	}
	stopped := false
	stopNodes := func() error {
		if stopped {
			return nil
		}
		stopped = true
		stop()
		return errors.Join(<-id.done, <-kh.done)
	}
	defer stopNodes()

	res, err := exchange(ctx, say, id, kh)
	if err != nil {
		return nil, err
	}
	if err := witness(ctx, say, id, kh); err != nil {
		return nil, err
	}
	if err := stopNodes(); err != nil {
		return nil, fmt.Errorf("demo: stopping the nodes: %w", err)
	}
	if err := auditBoth(ctx, say, id, kh, res); err != nil {
		return nil, err
	}
	say("demo: ok: an alert and its outcome exchanged, both receipted, both ledgers cross-witnessed, verified and reconciled, and the alert proven")
	return res, nil
}

// exchange is the walking-node story: Indonesia alerts, Cambodia answers.
func exchange(ctx context.Context, say func(string, ...any), id, kh *side) (*Result, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	now := time.Now()

	say("")
	alert, err := id.client.SubmitMessage(ctx, &focalv1.SubmitMessageRequest{Draft: &focalv1.Draft{
		Handling: message.ExampleHandling(),
		Payload:  &messagev1.Payload{Kind: &messagev1.Payload_Alert{Alert: message.ExampleAlert(now)}},
	}})
	if err != nil {
		return nil, fmt.Errorf("demo: Indonesia sends the alert: %w", err)
	}
	say("%s sends alert %s (case %s): SENT at %s ledger index %d", id.cfg.Agency, alert.GetMessageId(), alert.GetThreadId(), id.cfg.Agency, alert.GetLedgerIndex())
	if err := awaitReceipt(ctx, say, id, kh, alert.GetMessageId()); err != nil {
		return nil, err
	}

	inbox, err := kh.client.ListInbox(ctx, &focalv1.ListInboxRequest{})
	if err != nil {
		return nil, fmt.Errorf("demo: Cambodia reads its inbox: %w", err)
	}
	var got *focalv1.MessageRecord
	for _, r := range inbox.GetRecords() {
		if r.GetMessage().GetHeader().GetMessageId() == alert.GetMessageId() {
			got = r
		}
	}
	if got == nil || !got.GetSignatureValid() {
		return nil, fmt.Errorf("demo: the alert is not in Cambodia's inbox with a valid signature")
	}
	say("%s inbox shows the alert, signature valid (%s), handling %s", kh.cfg.Agency, got.GetSignedBy(),
		strings.TrimPrefix(got.GetMessage().GetHeader().GetHandling().GetCode().String(), "HANDLING_CODE_"))

	outcome, err := kh.client.SubmitMessage(ctx, &focalv1.SubmitMessageRequest{Draft: &focalv1.Draft{
		InReplyTo: alert.GetMessageId(),
		Handling:  message.ExampleHandling(),
		Payload:   &messagev1.Payload{Kind: &messagev1.Payload_Outcome{Outcome: message.ExampleOutcome(now)}},
	}})
	if err != nil {
		return nil, fmt.Errorf("demo: Cambodia sends the outcome: %w", err)
	}
	say("%s sends outcome %s in reply, same case: SENT at %s ledger index %d", kh.cfg.Agency, outcome.GetMessageId(), kh.cfg.Agency, outcome.GetLedgerIndex())
	if outcome.GetThreadId() != alert.GetThreadId() {
		return nil, fmt.Errorf("demo: the outcome is in case %s, the alert in %s", outcome.GetThreadId(), alert.GetThreadId())
	}
	if err := awaitReceipt(ctx, say, kh, id, outcome.GetMessageId()); err != nil {
		return nil, err
	}
	shown, err := id.client.GetMessage(ctx, &focalv1.GetMessageRequest{MessageId: outcome.GetMessageId()})
	if err != nil {
		return nil, fmt.Errorf("demo: Indonesia reads the outcome: %w", err)
	}
	o := shown.GetRecord().GetMessage().GetPayload().GetOutcome()
	if !shown.GetRecord().GetSignatureValid() || o == nil {
		return nil, fmt.Errorf("demo: Indonesia's view of the outcome is not a validly signed outcome")
	}
	say("%s reads the outcome: %s, %s, signature valid (%s)", id.cfg.Agency,
		strings.TrimPrefix(o.GetResult().String(), "OUTCOME_RESULT_"), strings.TrimPrefix(o.GetOutcome().String(), "OUTCOME_"), shown.GetRecord().GetSignedBy())
	return &Result{AlertID: alert.GetMessageId(), OutcomeID: outcome.GetMessageId(), Ledgers: [2]string{id.cfg.LedgerPath, kh.cfg.LedgerPath}}, nil
}

// witness waits until each node has had its latest checkpoint cosigned by the
// other, so that both ledgers are witnessed up to the last message.
func witness(ctx context.Context, say func(string, ...any), sides ...*side) error {
	deadline := time.Now().Add(30 * time.Second)
	for _, s := range sides {
		for {
			need, err := s.node.Ledger().NeedsCosign()
			if err != nil {
				return fmt.Errorf("demo: %w", err)
			}
			if !need {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("demo: %s's ledger was not cosigned by its counterpart in time", s.cfg.Agency)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
		c, err := s.client.GetCheckpoint(ctx, &focalv1.GetCheckpointRequest{})
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		say("%s ledger checkpoint at size %d cosigned by its counterpart", s.cfg.Agency, c.GetCosignedSize())
	}
	return nil
}

func awaitReceipt(ctx context.Context, say func(string, ...any), from, to *side, id string) error {
	r, err := from.client.AwaitReceipt(ctx, &focalv1.AwaitReceiptRequest{MessageId: id})
	if err != nil {
		return fmt.Errorf("demo: waiting for %s's receipt of %s: %w", to.cfg.Agency, id, err)
	}
	say("%s returns a signed receipt: RECEIVED at %s ledger index %d; receipt sha256:%s; RECEIPT_RECEIVED at %s ledger index %d",
		to.cfg.Agency, to.cfg.Agency, r.GetReceipt().GetLedgerIndex(), hex.EncodeToString(r.GetReceiptSha256())[:16], from.cfg.Agency, r.GetLedgerIndex())
	return nil
}

// auditBoth checks the stopped nodes' ledgers as an auditor would: offline,
// with only the ledgers and the two agencies' published keys.
func auditBoth(ctx context.Context, say func(string, ...any), id, kh *side, res *Result) error {
	keysText := fmt.Sprintf("messages %s\nmessages %s\nlog %s\nlog %s\n",
		id.layout.MessagesVKey, kh.layout.MessagesVKey, id.layout.LogVKey, kh.layout.LogVKey)
	keys, err := audit.ParseKeys(strings.NewReader(keysText))
	if err != nil {
		return fmt.Errorf("demo: published keys: %w", err)
	}
	var ledgers [2]*ledger.Ledger
	for i, s := range []*side{id, kh} {
		l, err := ledger.Open(s.cfg.LedgerPath, ledger.Options{ReadOnly: true})
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		defer l.Close()
		ledgers[i] = l
		rep, err := audit.Verify(ctx, l, keys)
		if err != nil {
			return fmt.Errorf("demo: audit of %s's ledger: %w", s.cfg.Agency, err)
		}
		if len(rep.Pending) > 0 {
			return fmt.Errorf("demo: %s's ledger has %d messages without a receipt", s.cfg.Agency, len(rep.Pending))
		}
		res.Reports[i] = rep
		say("audit %s ledger: %d entries verified (sent %d, received %d, none pending)", s.cfg.Agency, rep.Entries, rep.Sent, rep.Received)
	}
	found, err := audit.Reconcile(ctx, ledgers[0], ledgers[1], keys)
	if err != nil {
		return fmt.Errorf("demo: reconcile: %w", err)
	}
	if len(found) > 0 {
		return fmt.Errorf("demo: the ledgers disagree: %v", found)
	}
	say("audit: the two ledgers agree on every message and every receipt")

	// Anyone can check, with the published keys and public libraries alone,
	// that the alert is in Indonesia's ledger under a checkpoint Cambodia
	// cosigned.
	p, err := audit.Prove(ledgers[0], res.AlertID)
	if err != nil {
		return fmt.Errorf("demo: prove the alert: %w", err)
	}
	c, err := audit.CheckProof(p.TLog.Marshal(), p.Entry, id.layout.LogVKey, kh.layout.LogVKey)
	if err != nil {
		return fmt.Errorf("demo: check the alert's proof: %w", err)
	}
	say("proof: alert %s is entry %d of %s at size %d, cosigned by %s at %s", res.AlertID, c.Index, c.Origin, c.Size, c.CosignedBy, c.CosignedAt.Format(time.RFC3339))
	return nil
}
