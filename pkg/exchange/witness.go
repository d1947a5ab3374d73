package exchange

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	peerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/peer/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/ledger"
)

// Cross-witnessing. Each node asks the other to cosign its checkpoints; the
// witness cosigns a checkpoint only if it extends the last one it cosigned
// (an RFC 6962 consistency proof), and each side records the result in its own
// log. A node that rewrites or rolls back its ledger is then caught the next
// time it asks: its new checkpoint cannot be proven consistent with the one the
// counterpart holds. Witnessing runs on its own RPC, one request at a time, so
// the witness's view never races concurrent deliveries.

// ErrFork: the counterpart presented a checkpoint that contradicts one this
// node cosigned. Its ledger was rewritten or rolled back.
var ErrFork = errors.New("exchange: fork: the counterpart's checkpoint contradicts one this node cosigned")

// ErrNoWitness: this node was set up without log keys and cosigns nothing.
var ErrNoWitness = errors.New("exchange: this node does not witness the counterpart's ledger")

// Cosign witnesses the counterpart's checkpoint.
func (r *Receiver) Cosign(ctx context.Context, req *peerv1.CosignRequest) (*peerv1.CosignResponse, error) {
	if _, err := r.checkCaller(ctx); err != nil {
		return nil, err
	}
	// One at a time: the check against the last cosigned checkpoint and the
	// record of the new one must not interleave with another request's.
	r.witnessMu.Lock()
	defer r.witnessMu.Unlock()
	if r.link.PeerLog == nil || r.link.Cosigner == nil {
		return nil, ErrNoWitness
	}

	cp, _, n, err := log.ParseCheckpoint(req.GetCheckpoint(), r.link.PeerOrigin, r.link.PeerLog)
	if err != nil {
		return nil, violation("checkpoint", "not a checkpoint of "+r.link.PeerOrigin+" signed by its log key: "+err.Error())
	}
	prev, err := r.ledger.LatestWitnessed()
	if err != nil {
		return nil, err
	}
	prevCP := &log.Checkpoint{}
	if prev.Note != nil {
		if prevCP, err = ledger.CheckpointOf(prev.Note); err != nil {
			return nil, err
		}
	}
	switch {
	case prev.Note != nil && cp.Size < prevCP.Size:
		return nil, r.fork(ctx, req, prev.Note, fmt.Sprintf("size %d is smaller than size %d already cosigned: the ledger was rolled back", cp.Size, prevCP.Size))
	case prev.Note != nil && cp.Size == prevCP.Size:
		if !bytes.Equal(cp.Hash, prevCP.Hash) {
			return nil, r.fork(ctx, req, prev.Note, fmt.Sprintf("size %d has another root than the checkpoint of that size already cosigned", cp.Size))
		}
		return &peerv1.CosignResponse{CosignedCheckpoint: prev.Note, WitnessedSize: prev.Size}, nil
	case req.GetProofFromSize() != prevCP.Size:
		return &peerv1.CosignResponse{WitnessedSize: prevCP.Size}, nil
	case prevCP.Size > 0:
		if err := proof.VerifyConsistency(rfc6962.DefaultHasher, prevCP.Size, cp.Size, req.GetConsistencyProof(), prevCP.Hash, cp.Hash); err != nil {
			return nil, r.fork(ctx, req, prev.Note, fmt.Sprintf("no consistency from size %d to %d: %v", prevCP.Size, cp.Size, err))
		}
	}
	// note.Sign keeps the log's verified signature and adds ours after it.
	cosigned, err := note.Sign(n, r.link.Cosigner)
	if err != nil {
		return nil, fmt.Errorf("exchange: cosign: %w", err)
	}
	rec, err := r.ledger.AppendWitnessed(ctx, cp.Size, cosigned)
	if err != nil {
		return nil, err
	}
	r.metrics.witnessed.Set(float64(cp.Size))
	r.log.InfoContext(ctx, "counterpart checkpoint cosigned", "size", cp.Size, "ledger_index", rec.Index)
	return &peerv1.CosignResponse{CosignedCheckpoint: rec.Note, WitnessedSize: cp.Size}, nil
}

// fork keeps the evidence, counts it and says so loudly.
func (r *Receiver) fork(ctx context.Context, req *peerv1.CosignRequest, cosigned []byte, what string) error {
	r.metrics.forks.Inc()
	var b strings.Builder
	fmt.Fprintf(&b, "fork: %s\ncheckpoint presented:\n%s\nproof from size %d:\n", what, req.GetCheckpoint(), req.GetProofFromSize())
	for _, h := range req.GetConsistencyProof() {
		fmt.Fprintln(&b, base64.StdEncoding.EncodeToString(h))
	}
	fmt.Fprintf(&b, "checkpoint cosigned before:\n%s", cosigned)
	if err := r.ledger.RecordFork(ctx, []byte(b.String())); err != nil {
		r.log.ErrorContext(ctx, "keeping fork evidence failed", "err", err)
	}
	r.log.ErrorContext(ctx, "FORK DETECTED: the counterpart's ledger contradicts a checkpoint this node cosigned; its history was rewritten or rolled back. Evidence kept; tell both agencies' auditors.",
		"peer", r.link.PeerID.String(), "detail", what)
	return fmt.Errorf("%w: %s", ErrFork, what)
}

// witnessLoop asks the counterpart to cosign this node's latest checkpoint
// whenever entries other than checkpoint records were added since the last
// cosignature, at most once per interval.
func (s *Sender) witnessLoop(ctx context.Context) {
	if s.link.SelfLog == nil || s.link.PeerCosigner == nil {
		return // a link without log keys keeps no witnessed history
	}
	t := time.NewTicker(s.opts.CosignInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		need, err := s.ledger.NeedsCosign()
		if err != nil {
			s.log.ErrorContext(ctx, "witness: reading the ledger failed", "err", err)
			continue
		}
		if !need {
			continue
		}
		actx, cancel := context.WithTimeout(ctx, s.opts.AttemptTimeout)
		err = s.cosign(actx)
		cancel()
		if err != nil {
			s.metrics.cosigns.WithLabelValues("failed").Inc()
			s.log.WarnContext(ctx, "witness: the counterpart did not cosign the latest checkpoint", "err", err)
		}
	}
}

// cosign gets the latest checkpoint cosigned and records it.
func (s *Sender) cosign(ctx context.Context) error {
	signed := s.ledger.Checkpoint()
	cp, _, _, err := log.ParseCheckpoint(signed, s.link.SelfOrigin, s.link.SelfLog)
	if err != nil {
		return fmt.Errorf("exchange: own checkpoint: %w", err)
	}
	prev, err := s.ledger.LatestCosigned()
	if err != nil {
		return err
	}
	from := prev.Size
	for range 2 {
		var hashes [][]byte
		if from > 0 && from < cp.Size {
			if hashes, err = s.ledger.ConsistencyProof(from, cp.Size); err != nil {
				return err
			}
		}
		resp, err := s.peer.Cosign(ctx, &peerv1.CosignRequest{Checkpoint: signed, ProofFromSize: from, ConsistencyProof: hashes})
		if err != nil {
			return fmt.Errorf("exchange: cosign: %w", err)
		}
		if len(resp.GetCosignedCheckpoint()) == 0 {
			if resp.GetWitnessedSize() > cp.Size {
				return fmt.Errorf("exchange: the counterpart cosigned size %d of this ledger, which has only %d entries: this ledger lost entries", resp.GetWitnessedSize(), cp.Size)
			}
			from = resp.GetWitnessedSize()
			continue
		}
		return s.recordCosigned(ctx, cp, signed, resp.GetCosignedCheckpoint())
	}
	return fmt.Errorf("exchange: cosign: the counterpart keeps asking for another proof")
}

// recordCosigned checks the counterpart's answer before it is ledgered: the
// same checkpoint text, our signature and theirs.
func (s *Sender) recordCosigned(ctx context.Context, cp *log.Checkpoint, signed, cosigned []byte) error {
	n, err := note.Open(cosigned, note.VerifierList(s.link.SelfLog, s.link.PeerCosigner))
	if err != nil {
		return fmt.Errorf("%w: cosigned checkpoint: %w", ErrBadReceipt, err)
	}
	mine, err := note.Open(signed, note.VerifierList(s.link.SelfLog))
	if err != nil {
		return fmt.Errorf("exchange: own checkpoint: %w", err)
	}
	var theirs bool
	for _, sig := range n.Sigs {
		theirs = theirs || (sig.Name == s.link.PeerCosigner.Name() && sig.Hash == s.link.PeerCosigner.KeyHash())
	}
	if n.Text != mine.Text || !theirs {
		return fmt.Errorf("%w: the cosigned checkpoint is not ours, or lacks the counterpart's cosignature", ErrBadReceipt)
	}
	rec, err := s.ledger.AppendCheckpointCosigned(ctx, cp.Size, cosigned)
	if err != nil {
		return err
	}
	s.metrics.cosigns.WithLabelValues("cosigned").Inc()
	s.metrics.cosignedSize.Set(float64(cp.Size))
	s.metrics.cosignedTime.SetToCurrentTime()
	s.log.InfoContext(ctx, "checkpoint cosigned by the counterpart", "size", cp.Size, "ledger_index", rec.Index)
	return nil
}
