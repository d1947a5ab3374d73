package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/transparency-dev/formats/log"
	fnote "github.com/transparency-dev/formats/note"
	fproof "github.com/transparency-dev/formats/proof"
	mproof "github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/proto"

	ledgerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/ledger/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/ledger"
)

// Errors of Prove and CheckProof.
var (
	// ErrNotCosigned: the entry is not yet covered by a checkpoint the
	// counterpart cosigned. Cosigning follows every exchange; ask again then.
	ErrNotCosigned = errors.New("audit: not yet cosigned; try again after the next exchange")
	// ErrNoProof: the ledger cannot give a proof for the message: it holds
	// no such message, or it is not a transparency log, or it is damaged
	// (run audit verify).
	ErrNoProof = errors.New("audit: no proof")
	// ErrProof: a proof does not prove what it says. The error says which part
	// failed.
	ErrProof = errors.New("audit: the proof does not verify")
)

// Proof is what an auditor hands to someone who must be convinced that a
// ledger holds an entry, without the ledger: the entry's stored bytes (the
// leaf) and a C2SP tlog-proof of them: the entry's index, an RFC 6962
// inclusion proof, and a checkpoint signed by the ledger's node and cosigned
// by its counterpart.
type Proof struct {
	Entry []byte
	TLog  fproof.TLogProof
	// Checked is what Prove checked of the checkpoint: its log, size and
	// cosignature.
	Checked *Checked
}

// Prove makes the proof that l holds the first entry about message id (its
// SENT or RECEIVED entry, which names the envelope's SHA-256), under the
// newest checkpoint the counterpart cosigned (the latest
// CHECKPOINT_COSIGNED). The inclusion proof comes from the tree l stores; Prove
// checks it against the checkpoint's root, and the checkpoint's signatures
// against the keys l's configuration names, before it hands anything out.
func Prove(l *ledger.Ledger, id string) (*Proof, error) {
	entries, err := l.MessageEntries(id)
	if err != nil {
		return nil, fmt.Errorf("%w for message %s: %w", ErrNoProof, id, err)
	}
	first := entries[0]
	if k := first.GetKind(); k != ledgerv1.EntryKind_ENTRY_KIND_SENT && k != ledgerv1.EntryKind_ENTRY_KIND_RECEIVED {
		return nil, fmt.Errorf("%w for message %s: its first entry, %d, is %s, not SENT or RECEIVED", ErrNoProof, id, first.GetIndex(), ledger.KindName(k))
	}
	index := first.GetIndex()
	_, raw, err := l.Entry(index)
	if err != nil {
		return nil, fmt.Errorf("%w for message %s: %w", ErrNoProof, id, err)
	}
	c, err := l.LatestCosigned()
	if err != nil {
		return nil, fmt.Errorf("%w for message %s: %w", ErrNoProof, id, err)
	}
	if c.Note == nil || c.Size <= index {
		newest := "none yet"
		if c.Note != nil {
			newest = fmt.Sprintf("the newest covers entries 0 to %d", c.Size-1)
		}
		return nil, fmt.Errorf("%w (message %s is entry %d of the ledger; %s)", ErrNotCosigned, id, index, newest)
	}
	cfg, err := l.Config()
	if err != nil {
		return nil, fmt.Errorf("%w for message %s: %w", ErrNoProof, id, err)
	}
	if cfg.GetSelfLogKey() == "" || cfg.GetCounterpartLogKey() == "" {
		return nil, fmt.Errorf("%w for message %s: the ledger's configuration names no log keys", ErrNoProof, id)
	}
	check, err := CheckNote(c.Note, cfg.GetSelfLogKey(), cfg.GetCounterpartLogKey())
	if err != nil {
		return nil, fmt.Errorf("%w for message %s: the cosigned checkpoint at entry %d: %w", ErrNoProof, id, c.Index, err)
	}
	if check.Size != c.Size {
		return nil, fmt.Errorf("%w for message %s: the cosigned checkpoint at entry %d is of size %d, the entry says %d", ErrNoProof, id, c.Index, check.Size, c.Size)
	}
	hashes, err := l.InclusionProof(index, c.Size)
	if err != nil {
		return nil, fmt.Errorf("%w for message %s: %w", ErrNoProof, id, err)
	}
	if err := mproof.VerifyInclusion(rfc6962.DefaultHasher, index, c.Size, ledger.LeafHash(raw), hashes, check.Root); err != nil {
		return nil, fmt.Errorf("%w for message %s: the ledger's stored tree gives an inclusion proof that does not verify (run audit verify): %w", ErrNoProof, id, err)
	}
	check.Index, check.Entry = index, first
	p := &Proof{Entry: raw, TLog: fproof.TLogProof{Index: index, Checkpoint: c.Note}, Checked: check}
	for _, h := range hashes {
		p.TLog.Hashes = append(p.TLog.Hashes, [sha256.Size]byte(h))
	}
	return p, nil
}

// Checked is what CheckProof or CheckNote proved.
type Checked struct {
	// Origin is the log the checkpoint is of, and LogKey the key that signed
	// it (name+hash).
	Origin, LogKey string
	// Size and Root are the checkpoint's.
	Size uint64
	Root []byte
	// CosignedBy is the cosigner's key (name+hash of its cosignature/v1
	// form), empty if no cosignature was asked for; CosignedAt the time in
	// the cosignature.
	CosignedBy string
	CosignedAt time.Time
	// Index is the entry's index in the log; Entry the entry, decoded to say
	// what it is (CheckProof only).
	Index uint64
	Entry *ledgerv1.Entry
}

// CheckNote checks a checkpoint note with public libraries only: it must open
// (golang.org/x/mod/sumdb/note) with logKey, a signed-note verifier key
// named after the log, and, if witnessKey is not empty, carry a C2SP
// tlog-cosignature/v1 by witnessKey (either form; transparency-dev/formats
// verifies it); its text must be a checkpoint of the log logKey is named
// after (transparency-dev/formats/log).
func CheckNote(signed []byte, logKey, witnessKey string) (*Checked, error) {
	lv, err := note.NewVerifier(strings.TrimSpace(logKey))
	if err != nil {
		return nil, fmt.Errorf("%w: log key: %w", ErrProof, err)
	}
	known := []note.Verifier{lv}
	var wv note.Verifier
	if witnessKey != "" {
		if wv, err = fnote.NewVerifierForCosignatureV1(strings.TrimSpace(witnessKey)); err != nil {
			return nil, fmt.Errorf("%w: witness key: %w", ErrProof, err)
		}
		known = append(known, wv)
	}
	n, err := note.Open(signed, note.VerifierList(known...))
	if err != nil {
		return nil, fmt.Errorf("%w: checkpoint signatures: %w", ErrProof, err)
	}
	if findSig(n, lv.Name(), lv.KeyHash()) == nil {
		return nil, fmt.Errorf("%w: checkpoint signatures: not signed by the log key %s+%08x", ErrProof, lv.Name(), lv.KeyHash())
	}
	out := &Checked{LogKey: fmt.Sprintf("%s+%08x", lv.Name(), lv.KeyHash())}
	if wv != nil {
		sig := findSig(n, wv.Name(), wv.KeyHash())
		if sig == nil {
			return nil, fmt.Errorf("%w: cosignature: the checkpoint carries no cosignature by %s+%08x", ErrProof, wv.Name(), wv.KeyHash())
		}
		at, err := fnote.CoSigV1Timestamp(*sig)
		if err != nil {
			return nil, fmt.Errorf("%w: cosignature: %w", ErrProof, err)
		}
		out.CosignedBy, out.CosignedAt = fmt.Sprintf("%s+%08x", wv.Name(), wv.KeyHash()), at.UTC()
	}
	var cp log.Checkpoint
	if _, err := cp.Unmarshal([]byte(n.Text)); err != nil {
		return nil, fmt.Errorf("%w: checkpoint: %w", ErrProof, err)
	}
	if cp.Origin != lv.Name() {
		return nil, fmt.Errorf("%w: checkpoint: it is of the log %q, but the log key is named %q", ErrProof, cp.Origin, lv.Name())
	}
	if len(cp.Hash) != sha256.Size {
		return nil, fmt.Errorf("%w: checkpoint: root hash of %d bytes", ErrProof, len(cp.Hash))
	}
	out.Origin, out.Size, out.Root = cp.Origin, cp.Size, cp.Hash
	return out, nil
}

// CheckProof checks a C2SP tlog-proof of entry (the leaf's bytes) with public
// libraries only: the checkpoint as CheckNote does, then the RFC 6962
// inclusion proof (transparency-dev/merkle/proof) of the leaf hash of entry
// at the proof's index under the checkpoint's root. It also decodes the
// entry to say what it is; an entry that says it is at another index is
// refused.
func CheckProof(tlogProof, entry []byte, logKey, witnessKey string) (*Checked, error) {
	var p fproof.TLogProof
	if err := p.Unmarshal(tlogProof); err != nil {
		return nil, fmt.Errorf("%w: not a tlog-proof: %w", ErrProof, err)
	}
	out, err := CheckNote(p.Checkpoint, logKey, witnessKey)
	if err != nil {
		return nil, err
	}
	if p.Index >= out.Size {
		return nil, fmt.Errorf("%w: inclusion: index %d is not in a log of %d entries", ErrProof, p.Index, out.Size)
	}
	hashes := make([][]byte, len(p.Hashes))
	for i := range p.Hashes {
		hashes[i] = p.Hashes[i][:]
	}
	if err := mproof.VerifyInclusion(rfc6962.DefaultHasher, p.Index, out.Size, ledger.LeafHash(entry), hashes, out.Root); err != nil {
		var mismatch mproof.RootMismatchError
		if errors.As(err, &mismatch) {
			return nil, fmt.Errorf("%w: inclusion: the entry is not at index %d of the log under the checkpoint's root (the proof leads to root %s)",
				ErrProof, p.Index, base64.StdEncoding.EncodeToString(mismatch.CalculatedRoot))
		}
		return nil, fmt.Errorf("%w: inclusion: %w", ErrProof, err)
	}
	out.Index = p.Index
	var e ledgerv1.Entry
	if err := proto.Unmarshal(entry, &e); err == nil {
		if e.GetIndex() != p.Index {
			return nil, fmt.Errorf("%w: the entry says it is entry %d, the proof puts it at %d", ErrProof, e.GetIndex(), p.Index)
		}
		out.Entry = &e
	}
	return out, nil
}

// WriteText says what was proved:
//
//	proved    entry 1 of imigrasi.go.id/focalpoint/ledger: SENT, message 0197…, recorded 2025-06-01T00:00:00.002Z
//	log       imigrasi.go.id/focalpoint/ledger, checkpoint of 9 entries, root 3q2+7w…
//	signed by imigrasi.go.id/focalpoint/ledger+35f865b5
//	cosigned  by immigration.gov.kh/focalpoint/ledger+32df5ca7 at 2025-06-01T00:00:00Z
func (c *Checked) WriteText(w io.Writer) error {
	var b bytes.Buffer
	what := "an entry this auditor cannot read"
	if e := c.Entry; e != nil {
		what = ledger.KindName(e.GetKind())
		if e.GetMessageId() != "" {
			what += ", message " + e.GetMessageId()
		}
		what += ", recorded " + stamp(e.GetRecordedAt().AsTime())
	}
	fmt.Fprintf(&b, "proved    entry %d of %s: %s\n", c.Index, c.Origin, what)
	fmt.Fprintf(&b, "log       %s, checkpoint of %d entries, root %s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root))
	fmt.Fprintf(&b, "signed by %s\n", c.LogKey)
	if c.CosignedBy == "" {
		b.WriteString("cosigned  not checked (no witness key given)\n")
	} else {
		fmt.Fprintf(&b, "cosigned  by %s at %s\n", c.CosignedBy, stamp(c.CosignedAt))
	}
	_, err := w.Write(b.Bytes())
	return err
}
