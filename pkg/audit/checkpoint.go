package audit

import (
	"errors"
	"fmt"
	"time"

	"github.com/transparency-dev/formats/log"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// openCheckpoint opens a C2SP tlog-checkpoint note that must be signed by the
// log key of logOf and, if cosigner is not nil, cosigned (C2SP
// tlog-cosignature/v1) by cosigner's log key in its cosignature/v1 form, with
// the keys cfg trusts. It returns the checkpoint, whose origin is logOf's
// ledger, and the cosignature's time. The error's text says what is wrong.
func openCheckpoint(signed []byte, cfg *inForce, logOf, cosigner *partyKey) (*log.Checkpoint, time.Time, error) {
	n, err := note.Open(signed, cfg.notes)
	if err != nil {
		var unknown *note.UnverifiedNoteError
		if errors.As(err, &unknown) {
			return nil, time.Time{}, fmt.Errorf("the checkpoint carries no signature by a log key %s: %w", cfg.noteKeys, err)
		}
		return nil, time.Time{}, fmt.Errorf("the checkpoint does not open with the log keys %s: %w", cfg.noteKeys, err)
	}
	lk := logOf.log
	if findSig(n, lk.origin, lk.hash) == nil {
		return nil, time.Time{}, fmt.Errorf("the checkpoint is not signed by the log key of %s, %s+%08x (config entry %d)", logOf.role, lk.origin, lk.hash, cfg.index)
	}
	var at time.Time
	if cosigner != nil {
		ck := cosigner.log
		sig := findSig(n, ck.origin, ck.cosHash)
		if sig == nil {
			return nil, time.Time{}, fmt.Errorf("the checkpoint carries no cosignature by %s, %s+%08x in its cosignature/v1 form (config entry %d)", cosigner.role, ck.origin, ck.cosHash, cfg.index)
		}
		if at, err = fnote.CoSigV1Timestamp(*sig); err != nil {
			return nil, time.Time{}, fmt.Errorf("the cosignature by %s has no time: %w", cosigner.role, err)
		}
	}
	var cp log.Checkpoint
	if _, err := cp.Unmarshal([]byte(n.Text)); err != nil {
		return nil, time.Time{}, fmt.Errorf("the signed note is not a checkpoint: %w", err)
	}
	if cp.Origin != lk.origin {
		return nil, time.Time{}, fmt.Errorf("the checkpoint is of the log %q, not %q", cp.Origin, lk.origin)
	}
	if len(cp.Hash) != 32 {
		return nil, time.Time{}, fmt.Errorf("the checkpoint's root hash has %d bytes, want 32", len(cp.Hash))
	}
	return &cp, at.UTC(), nil
}

// findSig is the verified signature by the key name+hash, or nil.
func findSig(n *note.Note, name string, hash uint32) *note.Signature {
	for i := range n.Sigs {
		if n.Sigs[i].Name == name && n.Sigs[i].Hash == hash {
			return &n.Sigs[i]
		}
	}
	return nil
}
