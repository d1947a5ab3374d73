package audit

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/focalpoint-gateway/focalpoint/pkg/envelope"
	envelopev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/envelope/v1"
	ledgerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/ledger/v1"
	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/keys"
	"github.com/focalpoint-gateway/focalpoint/pkg/ledger"
)

// Verify checks every entry of l in order, and the Merkle tree and signed
// checkpoints over them, and returns what the ledger holds, or, for the first
// entry found wrong, a [*Problem] (errors.Is(err, ErrInvalid)). Other errors
// (the file cannot be read, ctx ends) are returned as they are and say nothing
// about the ledger.
//
// If keys is nil, signatures are checked with the keys the ledger's own CONFIG
// entries name; otherwise only with keys. Either way the CONFIG entry in force
// at an entry says which party must have signed it and with which key (by name
// and key hash): see the package documentation.
//
// For each entry Verify checks that recorded_at is set and not before the
// previous entry's, that entry 0 is CONFIG, that the entry holds the fields of
// its kind and no others, and by kind:
//   - CONFIG: ledger name, both parties (agency and SPIFFE ID) and both
//     messages keys are present, the keys parse and differ, and the ledger name
//     never changes. The log keys are both present or both absent (a ledger
//     from before checkpoints); each is named after its ledger, and once a
//     ledger names them no later CONFIG drops them.
//   - SENT and RECEIVED: the envelope kept under envelope_sha256 hashes to it and
//     opens with the sending party's key (this node's for SENT, the
//     counterpart's for RECEIVED); its message's ID, thread, payload kind,
//     sender and recipient are what the entry and the config say; and the entry
//     is the first about its message.
//   - RECEIPT_ISSUED: it answers the RECEIVED entry of its message, written in
//     the same transaction (so stamped with the same time); the receipt kept
//     under receipt_sha256 hashes to it, is signed with this node's key, and
//     names the message, the envelope, the RECEIVED entry's index and time, and
//     this node as receiver.
//   - RECEIPT_RECEIVED: it answers an earlier SENT entry of its message that has
//     no receipt yet; the receipt hashes to receipt_sha256, is signed with the
//     counterpart's key and names the message, the envelope and the
//     counterpart as receiver.
//   - CHECKPOINT_COSIGNED: the note kept under checkpoint_sha256 hashes to it,
//     is signed by this ledger's log key and cosigned (tlog-cosignature/v1) by
//     the counterpart's; it is a checkpoint of this ledger of checkpoint_size
//     entries, no more than come before the entry, and its root hash is the
//     root Verify computes over those entries' stored bytes. Sizes grow from
//     one such entry to the next.
//   - CHECKPOINT_WITNESSED: the note hashes to checkpoint_sha256, is signed by
//     the counterpart's log key and cosigned by this node's, and is a
//     checkpoint of the counterpart's ledger of checkpoint_size entries. Sizes
//     grow. (Whether the counterpart's ledger has that root is for
//     [Reconcile].)
//
// Then, over the whole file: the tree the ledger stores (from which the node
// hands out proofs) has the root computed from the entries, at every 256th
// size and at the end; the latest checkpoint the node signed
// (ledger.Checkpoint) is signed by its log key, commits to no more entries
// than the ledger has, and has the computed root at its size.
//
// Verify reads l in short read transactions and never holds one while it
// looks anything else up, so it may run on a ledger that is being written,
// even in the same process; it then checks the entries the ledger had when it
// began. Signatures are checked on runtime.GOMAXPROCS(0) goroutines while one
// reads the entries in order and another checks what depends on order, with a
// bounded number of entries in flight: its memory grows only with the sent
// messages still waiting for a receipt and the checkpoint sizes the ledger
// names.
func Verify(ctx context.Context, l *ledger.Ledger, keys *Keys) (*Report, error) {
	r, _, err := verify(ctx, l, keys, false)
	return r, err
}

// scanChunk is how many entries one read transaction hands over, and how
// often the stored tree is compared with the computed one. The checks run
// between transactions: a bbolt read transaction must not be held while
// another is opened in the same goroutine, or a writer remapping the file
// deadlocks both.
const scanChunk = 256

// batchSize is how many entries go to a verifying goroutine at a time.
const batchSize = 64

// errStopScan ends a Scan early: the chunk is full, or the walk has reached
// the entries appended since it began.
var errStopScan = errors.New("audit: stop scan")

// checkpoints is what Reconcile needs of one ledger's checkpoint entries.
type checkpoints struct {
	cosigned  []checkpointRec // this node's checkpoints the counterpart cosigned
	witnessed []checkpointRec // the counterpart's checkpoints this node cosigned
}

type checkpointRec struct {
	index, size uint64
	root        []byte
}

// verify is Verify; with collect it also returns the checkpoint entries.
func verify(ctx context.Context, l *ledger.Ledger, keys *Keys, collect bool) (*Report, *checkpoints, error) {
	// Entries appended while Verify runs are left for the next audit: the
	// report is of the ledger as it was when Verify began.
	limit := l.Size()
	// A copy: the ledger hands out the slice it keeps, and
	// ledger.CheckpointOf writes into the one it is given.
	cp := bytes.Clone(l.Checkpoint())
	var want []uint64
	cpSize := uint64(0)
	if cp != nil {
		if c, err := ledger.CheckpointOf(cp); err == nil {
			cpSize = c.Size
			want = append(want, c.Size)
			// A checkpoint is signed after its entries are committed, so they
			// are there even if Size has not caught up with it yet.
			limit = max(limit, c.Size)
		}
	}
	sizes, err := cosignedSizes(ctx, l, limit)
	if err != nil {
		return nil, nil, err
	}
	want = append(want, sizes...)
	slices.Sort(want)
	want = slices.Compact(want)

	t := newTrust(keys)
	s := &scanner{l: l, trust: t, limit: limit, want: want, rng: newRange(), cpSize: cpSize}
	w := &walker{
		l:        l,
		pending:  make(map[string]*msgRec),
		awaiting: make(map[string]*msgRec),
		byKind:   make(map[ledgerv1.EntryKind]uint64),
		cp:       cp,
	}
	if collect {
		w.collected = &checkpoints{}
	}

	workers := runtime.GOMAXPROCS(0)
	ordered := make(chan *batch, 2*workers+2)
	work := make(chan *batch, 2*workers+2)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1 + workers)
	go func() {
		defer wg.Done()
		s.run(ctx, ordered, work, stop)
	}()
	o := &opener{l: l}
	for range workers {
		go func() {
			defer wg.Done()
			o.run(work, stop)
		}()
	}
	// However the walk ends, nothing reads the ledger after Verify returns.
	defer wg.Wait()
	defer close(stop)
	for b := range ordered {
		<-b.done
		for i := range b.jobs {
			if err := w.check(&b.jobs[i]); err != nil {
				return nil, nil, err
			}
		}
		if b.end != nil {
			if err := w.finish(b.end); err != nil {
				return nil, nil, err
			}
			return w.report(), w.collected, nil
		}
	}
	return nil, nil, errors.New("audit: internal: the scan ended without saying how")
}

// trust is whose keys verify signatures.
type trust struct {
	// messages verify envelopes and receipts; nil: each CONFIG's own keys.
	messages note.Verifiers
	// notes verify checkpoints and cosignatures; nil with messages.
	notes note.Verifiers
	// noLogKeys: the auditor's keys hold no log or cosigner key at all.
	noLogKeys bool
}

func newTrust(k *Keys) *trust {
	if k == nil {
		return &trust{}
	}
	return &trust{
		messages:  note.VerifierList(k.Messages...),
		notes:     note.VerifierList(append(slices.Clone(k.Log), k.Cosigner...)...),
		noLogKeys: len(k.Log)+len(k.Cosigner) == 0,
	}
}

// partyKey is one party of a configuration and the keys it signs with.
type partyKey struct {
	party *messagev1.Party
	role  string // "this node" or "the counterpart"
	name  string // the messages key's name
	hash  uint32 // the messages key's signed-note key hash
	// verifiers check the party's signatures: the key itself when the ledger's
	// configuration is trusted, the auditor's keys otherwise.
	verifiers note.Verifiers
	// log is the party's log key; nil in a ledger from before checkpoints.
	log *logKey
}

// logKey is a party's log key as a configuration names it.
type logKey struct {
	origin  string // the party's ledger, the key's name
	vkey    string
	hash    uint32 // key hash of the plain (0x01) form: checkpoint signatures
	cosHash uint32 // key hash of the cosignature/v1 (0x04) form: cosignatures
}

// inForce is a configuration and the CONFIG entry that recorded it.
type inForce struct {
	index             uint64
	name              string
	self, counterpart partyKey
	// notes verify checkpoint notes: the two log keys in both forms, or the
	// auditor's keys. Nil when the configuration names no log keys.
	notes note.Verifiers
	// noteKeys says which those are, for people.
	noteKeys string
}

// msgRec is what the walk remembers of a SENT entry until its receipt, or of a
// RECEIVED entry until its RECEIPT_ISSUED.
type msgRec struct {
	id     string
	index  uint64
	at     time.Time
	env    []byte
	kind   ledgerv1.MessageKind
	thread string
}

// job is one entry on its way through the pipeline: the scanner fills the
// first part, a verifying goroutine the second, and the walker checks it.
type job struct {
	e *ledgerv1.Entry
	// cfg is the configuration in force at e; for a CONFIG entry, the one it
	// records. Nil once the scanner has stopped making sense of the ledger.
	cfg *inForce
	// root is the computed root at a CHECKPOINT_COSIGNED entry's
	// checkpoint_size, nil if that size is not before the entry.
	root []byte
	// pre is a problem the scanner found in e (a bad CONFIG, entry 0 not
	// CONFIG); tree one with the stored tree at e.
	pre, tree *Problem

	// blob is the signed bytes e names, read and checked against their hash,
	// until they are verified.
	blob []byte
	// err is what the verifying goroutine found wrong with e, a *Problem or
	// a failure to read; deferred a fault of the message index it found.
	err      error
	deferred *Problem
	receipt  *envelopev1.Receipt
	// cosignedAt is the time of the counterpart's cosignature on a
	// CHECKPOINT_COSIGNED entry's checkpoint; rootHash that checkpoint's root
	// (CHECKPOINT_COSIGNED and CHECKPOINT_WITNESSED).
	cosignedAt time.Time
	rootHash   []byte
}

// batch is a run of consecutive jobs; done is closed once all are verified.
type batch struct {
	jobs []job
	done chan struct{}
	// end is set on the last batch, which has no jobs.
	end *scanEnd
}

// scanEnd is how the scan ended.
type scanEnd struct {
	// err is a *Problem at the entry the file could not hand over, or a
	// failure to read, or ctx's error; nil at the end of the entries.
	err error
	// cpRoot is the computed root at the size of the latest checkpoint the
	// node signed, if the scan reached it.
	cpRoot []byte
}

var closedDone = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// scanner reads the entries in order, computes the Merkle tree over their
// stored bytes, follows the configuration in force and hands out jobs.
type scanner struct {
	l     *ledger.Ledger
	trust *trust
	limit uint64
	next  uint64
	rng   *compactRange
	cfg   *inForce
	// want are the sizes, ascending, at which a root is needed: the sizes
	// CHECKPOINT_COSIGNED entries name and the latest checkpoint's.
	want []uint64
	// roots are computed roots at sizes in want, kept until an entry that
	// names them has passed.
	roots  []checkpointRec
	cpSize uint64
	cpRoot []byte
}

func (s *scanner) run(ctx context.Context, ordered, work chan<- *batch, stop <-chan struct{}) {
	defer close(ordered)
	defer close(work)
	send := func(b *batch) bool {
		select {
		case ordered <- b:
		case <-stop:
			return false
		}
		if b.end != nil {
			return true
		}
		select {
		case work <- b:
			return true
		case <-stop:
			return false
		}
	}
	s.takeRoot() // size 0
	for {
		jobs, end := s.chunk(ctx)
		for len(jobs) > 0 {
			n := min(batchSize, len(jobs))
			if !send(&batch{jobs: jobs[:n:n], done: make(chan struct{})}) {
				return
			}
			jobs = jobs[n:]
		}
		if end != nil {
			end.cpRoot = s.cpRoot
			send(&batch{end: end, done: closedDone})
			return
		}
	}
}

// chunk reads up to scanChunk entries in one read transaction and makes their
// jobs; end is set when there is nothing more to read.
func (s *scanner) chunk(ctx context.Context) ([]job, *scanEnd) {
	if err := ctx.Err(); err != nil {
		return nil, &scanEnd{err: fmt.Errorf("audit: %w", err)}
	}
	entries := make([]*ledgerv1.Entry, 0, scanChunk)
	leaves := make([][]byte, 0, scanChunk)
	// One array for the chunk's leaf hashes; the tree keeps references to
	// some of them, so it is never reused.
	hashes := make([]byte, 0, scanChunk*sha256.Size)
	var lh leafHasher
	atLimit := false
	err := s.l.Scan(s.next, func(e *ledgerv1.Entry, raw []byte) error {
		if e.GetIndex() >= s.limit {
			atLimit = true
			return errStopScan
		}
		// e is decoded into its own memory; raw dies with the call.
		entries = append(entries, e)
		n := len(hashes)
		hashes = lh.append(hashes, raw)
		leaves = append(leaves, hashes[n:len(hashes):len(hashes)])
		if len(entries) == scanChunk {
			return errStopScan
		}
		return nil
	})
	full := errors.Is(err, errStopScan) && !atLimit
	if errors.Is(err, errStopScan) {
		err = nil
	}
	var end *scanEnd
	switch {
	case err != nil && errors.Is(err, ledger.ErrCorrupt):
		// Scan stopped at the entry it could not hand over: the next one.
		end = &scanEnd{err: &Problem{Index: s.next + uint64(len(entries)), What: err.Error(), Err: err}}
	case err != nil:
		end = &scanEnd{err: fmt.Errorf("audit: read ledger: %w", err)}
	case !full:
		end = &scanEnd{}
	}

	start := s.rng.clone()
	jobs := make([]job, len(entries))
	for i, e := range entries {
		if err := s.rng.append(leaves[i]); err != nil {
			// Only a range that does not start at 0 could refuse.
			return jobs[:i], &scanEnd{err: fmt.Errorf("audit: internal: tree: %w", err)}
		}
		s.takeRoot()
		j := &jobs[i]
		j.e = e
		stopped := false
		switch kind := e.GetKind(); {
		case e.GetIndex() == 0 && kind != ledgerv1.EntryKind_ENTRY_KIND_CONFIG:
			j.pre = problem(e, nil, "entry 0 must be CONFIG")
			stopped = true
		case kind == ledgerv1.EntryKind_ENTRY_KIND_CONFIG:
			cfg, p := s.trust.config(e, s.cfg)
			if p != nil {
				j.pre, stopped = p, true
			} else {
				s.cfg = cfg
			}
		case kind == ledgerv1.EntryKind_ENTRY_KIND_CHECKPOINT_COSIGNED:
			j.root = s.rootAt(e.GetCheckpointSize())
		}
		j.cfg = s.cfg
		if stopped {
			// Nothing after a bad configuration can be checked against it;
			// the walker reports this entry, or an earlier one.
			s.next += uint64(i + 1)
			return jobs[:i+1], &scanEnd{}
		}
	}
	s.next += uint64(len(entries))
	if len(entries) > 0 {
		if p, err := s.checkTree(start, leaves); err != nil {
			return jobs, &scanEnd{err: err}
		} else if p != nil {
			j := &jobs[p.Index-start.end()]
			p.Kind, p.MessageID = ledger.KindName(j.e.GetKind()), j.e.GetMessageId()
			j.tree = p
		}
	}
	return jobs, end
}

// takeRoot keeps the computed root if the tree has reached a wanted size.
func (s *scanner) takeRoot() {
	size := s.rng.end()
	for len(s.want) > 0 && s.want[0] < size {
		s.want = s.want[1:]
	}
	if len(s.want) == 0 || s.want[0] != size {
		return
	}
	s.want = s.want[1:]
	root := s.rng.root()
	s.roots = append(s.roots, checkpointRec{size: size, root: root})
	if s.cpSize == size {
		s.cpRoot = root
	}
}

// rootAt hands over the root kept for size and forgets smaller ones: the
// sizes CHECKPOINT_COSIGNED entries name must grow.
func (s *scanner) rootAt(size uint64) []byte {
	for len(s.roots) > 0 && s.roots[0].size < size {
		s.roots = s.roots[1:]
	}
	if len(s.roots) > 0 && s.roots[0].size == size {
		return s.roots[0].root
	}
	return nil
}

// checkTree compares the tree the ledger stores with the one computed from the
// entries at the end of a chunk; if they differ, it finds the first size in
// the chunk at which they do and blames the entry that made that size.
func (s *scanner) checkTree(start *compactRange, leaves [][]byte) (*Problem, error) {
	end := s.rng.end()
	stored, err := s.l.Root(end)
	if err != nil && !errors.Is(err, ledger.ErrCorrupt) {
		return nil, fmt.Errorf("audit: read the stored tree: %w", err)
	}
	if err == nil && bytes.Equal(stored, s.rng.root()) {
		return nil, nil
	}
	r := start.clone()
	for _, leaf := range leaves {
		if err := r.append(leaf); err != nil {
			return nil, fmt.Errorf("audit: internal: tree: %w", err)
		}
		size := r.end()
		stored, err := s.l.Root(size)
		switch {
		case err != nil && errors.Is(err, ledger.ErrCorrupt):
			return treeProblem(size, fmt.Sprintf("the ledger's stored tree cannot give its root at size %d: %v", size, err), err), nil
		case err != nil:
			return nil, fmt.Errorf("audit: read the stored tree: %w", err)
		case !bytes.Equal(stored, r.root()):
			return treeProblem(size, fmt.Sprintf("the ledger's stored tree has root %s at size %d, the entries' stored bytes give %s: this entry or the stored tree was changed after it was written, and the node would hand out proofs that fail",
				short(stored), size, short(r.root())), nil), nil
		}
	}
	return nil, errors.New("audit: internal: the stored tree differs at the end of a chunk but nowhere in it")
}

func treeProblem(size uint64, what string, err error) *Problem {
	return &Problem{Index: size - 1, What: what, Err: err}
}

// config checks a CONFIG entry against the one in force before it, prev (nil
// for the first), and returns the configuration it puts in force.
func (t *trust) config(e *ledgerv1.Entry, prev *inForce) (*inForce, *Problem) {
	c := e.GetConfig()
	if c == nil {
		return nil, problem(e, nil, "the CONFIG entry has no config")
	}
	if c.GetLedgerName() == "" {
		return nil, problem(e, nil, "ledger_name is empty")
	}
	if prev != nil && c.GetLedgerName() != prev.name {
		return nil, problem(e, nil, "ledger_name changes from %q (entry %d) to %q; a ledger keeps its name", prev.name, prev.index, c.GetLedgerName())
	}
	next := &inForce{index: e.GetIndex(), name: c.GetLedgerName()}
	for _, p := range []struct {
		field string
		party *messagev1.Party
		vkey  string
		into  *partyKey
		role  string
	}{
		{"self", c.GetSelf(), c.GetSelfMessagesKey(), &next.self, "this node"},
		{"counterpart", c.GetCounterpart(), c.GetCounterpartMessagesKey(), &next.counterpart, "the counterpart"},
	} {
		if p.party.GetAgency() == "" {
			return nil, problem(e, nil, "%s.agency is empty", p.field)
		}
		if _, err := spiffeid.FromString(p.party.GetSpiffeId()); err != nil {
			return nil, problem(e, err, "%s.spiffe_id %q is not a SPIFFE ID: %v", p.field, p.party.GetSpiffeId(), err)
		}
		if p.vkey == "" {
			return nil, problem(e, nil, "%s_messages_key is empty", p.field)
		}
		v, err := keys.ParseVerifier(p.vkey)
		if err != nil {
			return nil, problem(e, err, "%s_messages_key: %v", p.field, err)
		}
		*p.into = partyKey{party: p.party, role: p.role, name: v.Name(), hash: v.KeyHash(), verifiers: t.messages}
		if t.messages == nil {
			p.into.verifiers = note.VerifierList(v)
		}
	}
	if next.self.party.GetSpiffeId() == next.counterpart.party.GetSpiffeId() {
		return nil, problem(e, nil, "self and counterpart are both %s", next.self.party.GetSpiffeId())
	}
	if next.self.name == next.counterpart.name && next.self.hash == next.counterpart.hash {
		return nil, problem(e, nil, "self and counterpart sign with the same key %s (hash %08x)", next.self.name, next.self.hash)
	}
	if p := t.logKeys(e, c, prev, next); p != nil {
		return nil, p
	}
	return next, nil
}

// logKeys checks the log keys of a configuration and puts them in next.
func (t *trust) logKeys(e *ledgerv1.Entry, c *ledgerv1.Config, prev, next *inForce) *Problem {
	sk, ck := c.GetSelfLogKey(), c.GetCounterpartLogKey()
	switch {
	case sk == "" && ck == "":
		if prev != nil && prev.self.log != nil {
			return problem(e, nil, "the configuration names no log keys, but config entry %d did: a ledger that is a transparency log stays one", prev.index)
		}
		return nil
	case sk == "":
		return problem(e, nil, "self_log_key is empty, but counterpart_log_key is set: a configuration names both log keys or neither")
	case ck == "":
		return problem(e, nil, "counterpart_log_key is empty, but self_log_key is set: a configuration names both log keys or neither")
	}
	self, err := parseLogKey(sk)
	if err != nil {
		return problem(e, err, "self_log_key: %v", err)
	}
	if self.origin != c.GetLedgerName() {
		return problem(e, nil, "self_log_key is named %q; a ledger's log key is named after the ledger, %q", self.origin, c.GetLedgerName())
	}
	cp, err := parseLogKey(ck)
	if err != nil {
		return problem(e, err, "counterpart_log_key: %v", err)
	}
	if cp.origin == c.GetLedgerName() {
		return problem(e, nil, "counterpart_log_key is named %q, after this ledger: it must be named after the counterpart's", cp.origin)
	}
	next.self.log, next.counterpart.log = self, cp
	next.notes = t.notes
	switch {
	case t.notes != nil && t.noLogKeys:
		next.noteKeys = "in the published keys (which have no log or cosigner key)"
	case t.notes != nil:
		next.noteKeys = "in the published keys"
	default:
		next.noteKeys = fmt.Sprintf("named by config entry %d", next.index)
	}
	if next.notes == nil {
		var vs []note.Verifier
		for _, k := range []string{sk, ck} {
			v, _ := keys.ParseVerifier(k) // parsed above
			_, cv, _ := CosignerKey(k)
			vs = append(vs, v, cv)
		}
		next.notes = note.VerifierList(vs...)
	}
	return nil
}

func parseLogKey(vkey string) (*logKey, error) {
	v, err := keys.ParseVerifier(vkey)
	if err != nil {
		return nil, err
	}
	_, cv, err := CosignerKey(vkey)
	if err != nil {
		return nil, err
	}
	return &logKey{origin: v.Name(), vkey: vkey, hash: v.KeyHash(), cosHash: cv.KeyHash()}, nil
}

// opener does the checks of an entry that need no state of the walk, the
// signatures among them, on many goroutines at once. It only reads.
type opener struct{ l *ledger.Ledger }

func (o *opener) run(work <-chan *batch, stop <-chan struct{}) {
	for b := range work {
		// The reads first, then the signatures: run back to back, the
		// signature checks keep their tables in the cache.
		for i := range b.jobs {
			if stopped(stop) {
				break
			}
			o.fetch(&b.jobs[i])
		}
		for i := range b.jobs {
			if stopped(stop) {
				break
			}
			o.open(&b.jobs[i])
			b.jobs[i].blob = nil
		}
		close(b.done)
	}
}

func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// fetch reads what the job's entry names: the signed bytes, checked against
// their hash, and for a message's first entry the message index.
func (o *opener) fetch(j *job) {
	if j.cfg == nil || j.pre != nil {
		return
	}
	e := j.e
	var sum []byte
	var read func(*ledgerv1.Entry) ([]byte, error)
	what := ""
	switch e.GetKind() {
	case ledgerv1.EntryKind_ENTRY_KIND_SENT, ledgerv1.EntryKind_ENTRY_KIND_RECEIVED:
		if j.deferred, j.err = o.firstAbout(e); j.err != nil {
			return
		}
		sum, read, what = e.GetEnvelopeSha256(), o.l.Envelope, "envelope"
	case ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_ISSUED, ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_RECEIVED:
		sum, read, what = e.GetReceiptSha256(), o.l.Receipt, "receipt"
	case ledgerv1.EntryKind_ENTRY_KIND_CHECKPOINT_COSIGNED, ledgerv1.EntryKind_ENTRY_KIND_CHECKPOINT_WITNESSED:
		if j.cfg.notes == nil {
			return // the walker says so
		}
		sum, read, what = e.GetCheckpointSha256(), o.l.CheckpointNote, "checkpoint"
	default:
		return
	}
	j.blob, j.err = o.blob(e, sum, read, what)
}

// open checks the signatures on what fetch read, and what they cover.
func (o *opener) open(j *job) {
	if j.cfg == nil || j.pre != nil || j.err != nil || j.blob == nil {
		return
	}
	e, cfg := j.e, j.cfg
	switch e.GetKind() {
	case ledgerv1.EntryKind_ENTRY_KIND_SENT:
		j.err = o.message(e, cfg, j.blob, &cfg.self, &cfg.counterpart)
	case ledgerv1.EntryKind_ENTRY_KIND_RECEIVED:
		j.err = o.message(e, cfg, j.blob, &cfg.counterpart, &cfg.self)
	case ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_ISSUED:
		j.receipt, j.err = o.openReceipt(e, cfg, j.blob, &cfg.self)
	case ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_RECEIVED:
		j.receipt, j.err = o.openReceipt(e, cfg, j.blob, &cfg.counterpart)
	case ledgerv1.EntryKind_ENTRY_KIND_CHECKPOINT_COSIGNED:
		j.cosignedAt, j.rootHash, j.err = o.checkpoint(e, cfg, j.blob, true, j.root)
	case ledgerv1.EntryKind_ENTRY_KIND_CHECKPOINT_WITNESSED:
		_, j.rootHash, j.err = o.checkpoint(e, cfg, j.blob, false, nil)
	}
}

// message checks a SENT or RECEIVED entry's envelope: from signed it and sent
// it to to.
func (o *opener) message(e *ledgerv1.Entry, cfg *inForce, blob []byte, from, to *partyKey) error {
	op, err := envelope.Open(blob, from.verifiers)
	if err != nil {
		return problem(e, err, "the envelope does not open with the key of %s: %v", from.role, err)
	}
	if p := checkSigner(e, cfg, "envelope", op.SignedBy, from); p != nil {
		return p
	}
	h := op.Message.GetHeader()
	switch {
	case h.GetMessageId() != e.GetMessageId():
		return problem(e, nil, "the signed message has message_id %q", h.GetMessageId())
	case h.GetThreadId() != e.GetThreadId():
		return problem(e, nil, "the signed message has thread_id %q, the entry %q", h.GetThreadId(), e.GetThreadId())
	case payloadKind(op.Message) != e.GetMessageKind():
		return problem(e, nil, "the signed message is of kind %s, the entry says %s", payloadKind(op.Message), e.GetMessageKind())
	case !sameParty(h.GetSender(), from.party):
		return problem(e, nil, "the signed message is from %s, but %s is %s (config entry %d)", party(h.GetSender()), from.role, party(from.party), cfg.index)
	case !sameParty(h.GetRecipient(), to.party):
		return problem(e, nil, "the signed message is to %s, but %s is %s (config entry %d)", party(h.GetRecipient()), to.role, party(to.party), cfg.index)
	}
	return nil
}

// firstAbout checks, through the ledger's message index, that no earlier entry
// speaks of e's message. A fault of the index itself is returned as deferred.
func (o *opener) firstAbout(e *ledgerv1.Entry) (deferred *Problem, err error) {
	firstIndex, firstKind, err := o.l.FirstIndex(e.GetMessageId())
	if err != nil {
		if errors.Is(err, ledger.ErrNotFound) || errors.Is(err, ledger.ErrCorrupt) {
			return problem(e, err, "the message index cannot list the message's entries: %v", err), nil
		}
		return nil, fmt.Errorf("audit: read message index: %w", err)
	}
	if firstIndex < e.GetIndex() {
		return nil, problem(e, nil, "the message was already recorded at entry %d (%s)", firstIndex, ledger.KindName(firstKind))
	}
	if firstIndex != e.GetIndex() {
		return problem(e, nil, "the message index does not list this entry"), nil
	}
	return nil, nil
}

// blob returns the bytes e names by sum, as read, checked against sum: the
// ledger finds them by entry, and whoever has the file can put anything there.
func (o *opener) blob(e *ledgerv1.Entry, sum []byte, read func(*ledgerv1.Entry) ([]byte, error), what string) ([]byte, error) {
	if len(sum) != sha256.Size {
		return nil, problem(e, nil, "%s_sha256 has %d bytes, want %d", what, len(sum), sha256.Size)
	}
	b, err := read(e)
	if errors.Is(err, ledger.ErrNotFound) {
		return nil, problem(e, err, "the %s %s is not in the ledger's blobs", what, short(sum))
	}
	if err != nil {
		return nil, fmt.Errorf("audit: read blob %x: %w", sum, err)
	}
	if got := sha256.Sum256(b); !bytes.Equal(got[:], sum) {
		return nil, problem(e, nil, "the %s kept under %s hashes to %s", what, short(sum), short(got[:]))
	}
	return b, nil
}

// checkSigner checks that the key that verified a signature is the one the
// configuration in force names for the party. With the ledger's own keys this
// always holds; with an auditor's keys it stops a trusted key of one party from
// standing in for the other.
func checkSigner(e *ledgerv1.Entry, cfg *inForce, what string, v note.Verifier, want *partyKey) *Problem {
	if v.Name() == want.name && v.KeyHash() == want.hash {
		return nil
	}
	return problem(e, nil, "the %s is signed by %s (hash %08x), but config entry %d says %s signs with %s (hash %08x)",
		what, v.Name(), v.KeyHash(), cfg.index, want.role, want.name, want.hash)
}

// openReceipt opens the receipt of a RECEIPT_ISSUED or RECEIPT_RECEIVED entry,
// signed by the receiving party, and checks what both kinds must agree on.
func (o *opener) openReceipt(e *ledgerv1.Entry, cfg *inForce, blob []byte, receiver *partyKey) (*envelopev1.Receipt, error) {
	r, v, err := envelope.OpenReceipt(blob, receiver.verifiers)
	if err != nil {
		return nil, problem(e, err, "the receipt does not open with the key of %s: %v", receiver.role, err)
	}
	if p := checkSigner(e, cfg, "receipt", v, receiver); p != nil {
		return nil, p
	}
	switch {
	case r.GetMessageId() != e.GetMessageId():
		return nil, problem(e, nil, "the receipt is for message %q", r.GetMessageId())
	case !bytes.Equal(r.GetEnvelopeSha256(), e.GetEnvelopeSha256()):
		return nil, problem(e, nil, "the receipt names envelope sha256 %s, the entry %s", short(r.GetEnvelopeSha256()), short(e.GetEnvelopeSha256()))
	case !sameParty(r.GetReceiver(), receiver.party):
		return nil, problem(e, nil, "the receipt's receiver is %s, but %s is %s (config entry %d)", party(r.GetReceiver()), receiver.role, party(receiver.party), cfg.index)
	case r.GetReceivedAt() == nil || r.GetReceivedAt().CheckValid() != nil:
		return nil, problem(e, nil, "the receipt has no valid received_at")
	}
	return r, nil
}

// checkpoint checks the note of a CHECKPOINT_COSIGNED entry (signed by this
// node, cosigned by the counterpart, with root, the computed root at the
// checkpoint's size) or of a CHECKPOINT_WITNESSED entry (the other way round).
func (o *opener) checkpoint(e *ledgerv1.Entry, cfg *inForce, blob []byte, cosigned bool, root []byte) (time.Time, []byte, error) {
	logOf, cosigner := &cfg.self, &cfg.counterpart
	if !cosigned {
		logOf, cosigner = cosigner, logOf
	}
	cp, at, err := openCheckpoint(blob, cfg, logOf, cosigner)
	if err != nil {
		return time.Time{}, nil, problem(e, err, "%v", err)
	}
	if cp.Size != e.GetCheckpointSize() {
		return time.Time{}, nil, problem(e, nil, "the checkpoint is of size %d, the entry says %d", cp.Size, e.GetCheckpointSize())
	}
	if cosigned {
		if root == nil {
			return time.Time{}, nil, problem(e, nil, "no root was computed at size %d", cp.Size) // the walker finds why first
		}
		if !bytes.Equal(cp.Hash, root) {
			return time.Time{}, nil, problem(e, nil, "the checkpoint of size %d has root %s, but the entries before it give %s: the ledger is not what the counterpart cosigned",
				cp.Size, short(cp.Hash), short(root))
		}
	}
	return at, cp.Hash, nil
}

// walker checks, in ledger order, what depends on order: times, the
// configuration in force, which message waits for which receipt, growing
// checkpoint sizes, and the results of the opener.
type walker struct {
	l *ledger.Ledger

	next   uint64 // index of the next entry to check
	first  time.Time
	prevAt time.Time
	cfg    *inForce

	// pending: SENT entries without a RECEIPT_RECEIVED, by message ID.
	pending map[string]*msgRec
	// awaiting: RECEIVED entries whose RECEIPT_ISSUED, written in the same
	// transaction, has not been seen yet. Holds at most one transaction's worth.
	awaiting map[string]*msgRec
	// deferred is the first fault found in the ledger's message index rather
	// than in its entries. The index is derived from the entries, so a fault in
	// the entries (a missing entry the index still names, say) is the one to
	// report; deferred is reported only if the entries are sound.
	deferred *Problem

	// cosigned and witnessed are the latest checkpoint entries of each kind.
	cosigned, witnessed *checkpointRec
	cosignedAt          time.Time
	// cp is the latest checkpoint the node signed, as the ledger gave it.
	cp        []byte
	cpSize    uint64
	collected *checkpoints

	byKind         map[ledgerv1.EntryKind]uint64
	sent, received uint64
	forks          int
}

// problem describes what is wrong with e.
func problem(e *ledgerv1.Entry, cause error, format string, args ...any) *Problem {
	return &Problem{
		Index:     e.GetIndex(),
		Kind:      ledger.KindName(e.GetKind()),
		MessageID: e.GetMessageId(),
		What:      fmt.Sprintf(format, args...),
		Err:       cause,
	}
}

func (w *walker) check(j *job) error {
	e := j.e
	if entryHasUnknownFields(e) {
		return problem(e, nil, "the entry has fields this auditor does not know (a newer ledger format, or a damaged entry)")
	}
	ts := e.GetRecordedAt()
	if ts == nil {
		return problem(e, nil, "recorded_at is missing")
	}
	if err := ts.CheckValid(); err != nil {
		return problem(e, err, "recorded_at is not a valid time: %v", err)
	}
	at := ts.AsTime()
	if e.GetIndex() > 0 && at.Before(w.prevAt) {
		return problem(e, nil, "recorded at %s, before entry %d (%s)", stamp(at), e.GetIndex()-1, stamp(w.prevAt))
	}
	if e.GetIndex() == 0 {
		w.first = at
	}
	w.prevAt = at
	// Any RECEIVED entry stamped earlier than this one belongs to a finished
	// transaction, which must have held its RECEIPT_ISSUED.
	if err := w.unanswered(func(r *msgRec) bool { return r.at.Before(at) }); err != nil {
		return err
	}

	kind := e.GetKind()
	if _, known := ledgerv1.EntryKind_name[int32(kind)]; !known || kind == ledgerv1.EntryKind_ENTRY_KIND_UNSPECIFIED {
		return problem(e, nil, "unknown entry kind %d", kind)
	}
	if e.GetIndex() == 0 && kind != ledgerv1.EntryKind_ENTRY_KIND_CONFIG {
		return problem(e, nil, "entry 0 must be CONFIG")
	}
	if err := checkShape(e); err != nil {
		return err
	}
	if j.pre != nil {
		return j.pre
	}

	var err error
	switch kind {
	case ledgerv1.EntryKind_ENTRY_KIND_CONFIG:
		w.cfg = j.cfg
	case ledgerv1.EntryKind_ENTRY_KIND_SENT:
		if err = w.opened(j); err == nil {
			w.pending[e.GetMessageId()] = record(e, at)
			w.sent++
		}
	case ledgerv1.EntryKind_ENTRY_KIND_RECEIVED:
		if err = w.opened(j); err == nil {
			w.awaiting[e.GetMessageId()] = record(e, at)
			w.received++
		}
	case ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_ISSUED:
		err = w.receiptIssued(e, j)
	case ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_RECEIVED:
		err = w.receiptReceived(e, j)
	case ledgerv1.EntryKind_ENTRY_KIND_CHECKPOINT_COSIGNED:
		err = w.checkpointEntry(e, j, &w.cosigned)
	case ledgerv1.EntryKind_ENTRY_KIND_CHECKPOINT_WITNESSED:
		err = w.checkpointEntry(e, j, &w.witnessed)
	}
	if err != nil {
		return err
	}
	if j.tree != nil {
		return j.tree
	}
	w.byKind[kind]++
	w.next = e.GetIndex() + 1
	return nil
}

// opened takes the opener's verdict on a SENT or RECEIVED entry.
func (w *walker) opened(j *job) error {
	if j.deferred != nil && w.deferred == nil {
		w.deferred = j.deferred
	}
	return j.err
}

func record(e *ledgerv1.Entry, at time.Time) *msgRec {
	return &msgRec{
		id:     e.GetMessageId(),
		index:  e.GetIndex(),
		at:     at,
		env:    e.GetEnvelopeSha256(),
		kind:   e.GetMessageKind(),
		thread: e.GetThreadId(),
	}
}

// checkShape checks that an entry holds the fields of its kind and no others.
func checkShape(e *ledgerv1.Entry) error {
	messageFields := e.GetMessageId() != "" || e.GetMessageKind() != 0 || e.GetThreadId() != "" ||
		len(e.GetEnvelopeSha256()) > 0 || len(e.GetReceiptSha256()) > 0 || e.GetRefersToIndex() != 0
	checkpointFields := e.GetCheckpointSize() != 0 || len(e.GetCheckpointSha256()) > 0
	switch e.GetKind() {
	case ledgerv1.EntryKind_ENTRY_KIND_CONFIG:
		if messageFields {
			return problem(e, nil, "a CONFIG entry carries message fields")
		}
		if checkpointFields {
			return problem(e, nil, "a CONFIG entry carries checkpoint fields")
		}
		return nil
	case ledgerv1.EntryKind_ENTRY_KIND_CHECKPOINT_COSIGNED, ledgerv1.EntryKind_ENTRY_KIND_CHECKPOINT_WITNESSED:
		if e.GetConfig() != nil {
			return problem(e, nil, "a checkpoint entry carries a config")
		}
		if messageFields {
			return problem(e, nil, "a checkpoint entry carries message fields")
		}
		return nil
	}
	if e.GetConfig() != nil {
		return problem(e, nil, "a message entry carries a config")
	}
	if checkpointFields {
		return problem(e, nil, "a message entry carries checkpoint fields")
	}
	if e.GetMessageId() == "" {
		return problem(e, nil, "message_id is empty")
	}
	if _, known := ledgerv1.MessageKind_name[int32(e.GetMessageKind())]; !known || e.GetMessageKind() == ledgerv1.MessageKind_MESSAGE_KIND_UNSPECIFIED {
		return problem(e, nil, "unknown message kind %d", e.GetMessageKind())
	}
	switch e.GetKind() {
	case ledgerv1.EntryKind_ENTRY_KIND_SENT, ledgerv1.EntryKind_ENTRY_KIND_RECEIVED:
		if len(e.GetReceiptSha256()) > 0 || e.GetRefersToIndex() != 0 {
			return problem(e, nil, "a %s entry carries receipt fields", ledger.KindName(e.GetKind()))
		}
	default:
		if e.GetRefersToIndex() >= e.GetIndex() {
			return problem(e, nil, "refers_to_index %d is not before the entry", e.GetRefersToIndex())
		}
	}
	return nil
}

func (w *walker) receiptIssued(e *ledgerv1.Entry, j *job) error {
	rec := w.awaiting[e.GetMessageId()]
	if rec == nil || rec.index != e.GetRefersToIndex() {
		return w.misreferred(e, rec, ledgerv1.EntryKind_ENTRY_KIND_RECEIVED)
	}
	if err := sameMessage(e, rec, "RECEIVED"); err != nil {
		return err
	}
	if j.err != nil {
		return j.err
	}
	r := j.receipt
	if r.GetLedgerIndex() != rec.index {
		return problem(e, nil, "the receipt names ledger index %d, the RECEIVED entry is %d", r.GetLedgerIndex(), rec.index)
	}
	if !r.GetReceivedAt().AsTime().Equal(rec.at) {
		return problem(e, nil, "the receipt says received at %s, RECEIVED entry %d was recorded at %s", stamp(r.GetReceivedAt().AsTime()), rec.index, stamp(rec.at))
	}
	delete(w.awaiting, rec.id)
	return nil
}

func (w *walker) receiptReceived(e *ledgerv1.Entry, j *job) error {
	rec := w.pending[e.GetMessageId()]
	if rec == nil || rec.index != e.GetRefersToIndex() {
		return w.misreferred(e, rec, ledgerv1.EntryKind_ENTRY_KIND_SENT)
	}
	if err := sameMessage(e, rec, "SENT"); err != nil {
		return err
	}
	if j.err != nil {
		return j.err
	}
	delete(w.pending, rec.id)
	return nil
}

// checkpointEntry checks what depends on order of a CHECKPOINT_COSIGNED or
// CHECKPOINT_WITNESSED entry and keeps it as the latest of its kind.
func (w *walker) checkpointEntry(e *ledgerv1.Entry, j *job, latest **checkpointRec) error {
	kind := e.GetKind()
	if w.cfg.notes == nil {
		return problem(e, nil, "a checkpoint entry, but config entry %d names no log keys", w.cfg.index)
	}
	size := e.GetCheckpointSize()
	if kind == ledgerv1.EntryKind_ENTRY_KIND_CHECKPOINT_COSIGNED && size > e.GetIndex() {
		return problem(e, nil, "names a checkpoint of size %d, but only %d entries come before it", size, e.GetIndex())
	}
	if prev := *latest; prev != nil && size <= prev.size {
		return problem(e, nil, "names a checkpoint of size %d, not larger than the size %d of %s entry %d", size, prev.size, ledger.KindName(kind), prev.index)
	}
	if j.err != nil {
		return j.err
	}
	rec := checkpointRec{index: e.GetIndex(), size: size, root: j.rootHash}
	*latest = &rec
	if kind == ledgerv1.EntryKind_ENTRY_KIND_CHECKPOINT_COSIGNED {
		w.cosignedAt = j.cosignedAt
	}
	if w.collected != nil {
		if kind == ledgerv1.EntryKind_ENTRY_KIND_CHECKPOINT_COSIGNED {
			w.collected.cosigned = append(w.collected.cosigned, rec)
		} else {
			w.collected.witnessed = append(w.collected.witnessed, rec)
		}
	}
	return nil
}

// sameMessage checks that a receipt entry repeats what the entry it answers
// says of the message.
func sameMessage(e *ledgerv1.Entry, rec *msgRec, kind string) error {
	switch {
	case !bytes.Equal(e.GetEnvelopeSha256(), rec.env):
		return problem(e, nil, "names envelope sha256 %s, %s entry %d has %s", short(e.GetEnvelopeSha256()), kind, rec.index, short(rec.env))
	case e.GetMessageKind() != rec.kind:
		return problem(e, nil, "names message kind %s, %s entry %d has %s", e.GetMessageKind(), kind, rec.index, rec.kind)
	case e.GetThreadId() != rec.thread:
		return problem(e, nil, "names thread %q, %s entry %d has %q", e.GetThreadId(), kind, rec.index, rec.thread)
	}
	return nil
}

// misreferred explains a receipt entry that does not answer the one entry it
// should: rec, the entry of its message still waiting for it, if any.
func (w *walker) misreferred(e *ledgerv1.Entry, rec *msgRec, want ledgerv1.EntryKind) error {
	wantName := ledger.KindName(want)
	ref := e.GetRefersToIndex()
	if rec != nil {
		return problem(e, nil, "refers to entry %d, but the %s entry of the message is %d", ref, wantName, rec.index)
	}
	// Off the common path from here: look the entry up to say what it is.
	target, _, err := w.l.Entry(ref)
	if err != nil {
		return problem(e, err, "refers to entry %d, which cannot be read: %v", ref, err)
	}
	if target.GetKind() != want || target.GetMessageId() != e.GetMessageId() {
		return problem(e, nil, "refers to entry %d, a %s entry of message %q, not the %s entry of this message",
			ref, ledger.KindName(target.GetKind()), target.GetMessageId(), wantName)
	}
	return problem(e, nil, "the %s entry %d already has its %s", wantName, ref, ledger.KindName(e.GetKind()))
}

// unanswered fails for the earliest RECEIVED entry still waiting for its
// RECEIPT_ISSUED among those done says can no longer get one.
func (w *walker) unanswered(done func(*msgRec) bool) error {
	var worst *msgRec
	for _, r := range w.awaiting {
		if done(r) && (worst == nil || r.index < worst.index) {
			worst = r
		}
	}
	if worst == nil {
		return nil
	}
	return &Problem{
		Index:     worst.index,
		Kind:      ledger.KindName(ledgerv1.EntryKind_ENTRY_KIND_RECEIVED),
		MessageID: worst.id,
		What:      "no RECEIPT_ISSUED was written in the same transaction",
	}
}

// finish runs the checks that need the whole ledger.
func (w *walker) finish(end *scanEnd) error {
	if end.err != nil {
		return end.err
	}
	if w.next == 0 {
		return &Problem{Index: 0, What: "the ledger has no entries; entry 0 must be CONFIG"}
	}
	if err := w.unanswered(func(*msgRec) bool { return true }); err != nil {
		return err
	}
	if w.deferred != nil {
		return w.deferred
	}
	if err := w.ownCheckpoint(end.cpRoot); err != nil {
		return err
	}
	if err := w.latestRecords(); err != nil {
		return err
	}
	forks, err := w.l.Forks()
	if err != nil {
		return fmt.Errorf("audit: read fork evidence: %w", err)
	}
	w.forks = len(forks)
	return nil
}

// ownCheckpoint checks the latest checkpoint the node signed: by the log key
// the configuration names, of this ledger, no larger than it, with the root of
// its entries. root is the computed root at its size, if the ledger reached it.
func (w *walker) ownCheckpoint(root []byte) error {
	cfg := w.cfg
	cpProblem := func(size uint64, cause error, format string, args ...any) *Problem {
		return &Problem{Checkpoint: true, Index: size, What: fmt.Sprintf(format, args...), Err: cause}
	}
	if w.cp == nil {
		if cfg.self.log != nil {
			return cpProblem(w.next, nil, "config entry %d names a log key, but the file holds no checkpoint: it was removed, or the file was not written by a node", cfg.index)
		}
		return nil
	}
	if cfg.notes == nil {
		return cpProblem(0, nil, "the file holds a signed checkpoint, but no CONFIG entry names a log key")
	}
	cp, _, err := openCheckpoint(w.cp, cfg, &cfg.self, nil)
	if err != nil {
		return cpProblem(0, err, "%v", err)
	}
	switch {
	case cp.Size > w.next:
		return cpProblem(cp.Size, nil, "the node signed a checkpoint of %d entries, but the ledger has %d: entries were cut off the end, or the file is an older copy", cp.Size, w.next)
	case root == nil:
		return cpProblem(cp.Size, nil, "no root was computed at size %d", cp.Size)
	case !bytes.Equal(cp.Hash, root):
		return cpProblem(cp.Size, nil, "the checkpoint has root %s, but the entries give %s: the entries, or the checkpoint, were changed after the node signed it", short(cp.Hash), short(root))
	}
	w.cpSize = cp.Size
	return nil
}

// latestRecords checks that the file's record of its latest checkpoint
// entries names the ones the walk found last. (The record is what a node
// reads to decide what to ask for and what to cosign next.)
func (w *walker) latestRecords() error {
	for _, k := range []struct {
		name   string
		read   func() (ledger.Witnessed, error)
		latest *checkpointRec
	}{
		{"CHECKPOINT_COSIGNED", w.l.LatestCosigned, w.cosigned},
		{"CHECKPOINT_WITNESSED", w.l.LatestWitnessed, w.witnessed},
	} {
		got, err := k.read()
		if err != nil {
			if errors.Is(err, ledger.ErrNotFound) || errors.Is(err, ledger.ErrCorrupt) {
				return &Problem{Index: w.next, What: fmt.Sprintf("the file's record of its latest %s entry cannot be read (entries cut off the end?): %v", k.name, err), Err: err}
			}
			return fmt.Errorf("audit: read the latest %s entry: %w", k.name, err)
		}
		switch {
		case got.Note == nil && k.latest == nil:
		case got.Note != nil && got.Index >= w.next:
			// Appended while Verify ran.
		case got.Note == nil || k.latest == nil || got.Index != k.latest.index:
			last := "none"
			if k.latest != nil {
				last = fmt.Sprintf("entry %d", k.latest.index)
			}
			at := "none"
			if got.Note != nil {
				at = fmt.Sprintf("entry %d", got.Index)
			}
			return &Problem{Index: w.next, What: fmt.Sprintf("the file records %s as its latest %s entry, but the last one in the ledger is %s", at, k.name, last)}
		}
	}
	return nil
}

func (w *walker) report() *Report {
	r := &Report{
		LedgerName:     w.cfg.name,
		Entries:        w.next,
		ByKind:         make(map[string]uint64),
		Sent:           w.sent,
		Received:       w.received,
		Pending:        make([]PendingMessage, 0, len(w.pending)),
		First:          w.first,
		Last:           w.prevAt,
		CheckpointSize: w.cpSize,
		Forks:          w.forks,
	}
	if w.cosigned != nil {
		r.LatestCosignedSize, r.LatestCosignedAt = w.cosigned.size, w.cosignedAt.UTC()
	}
	if w.witnessed != nil {
		r.LatestWitnessedSize = w.witnessed.size
	}
	for _, k := range kindOrder {
		r.ByKind[ledger.KindName(k)] = w.byKind[k]
	}
	for _, p := range w.pending {
		r.Pending = append(r.Pending, PendingMessage{MessageID: p.id, SentIndex: p.index, SentAt: p.at})
	}
	slices.SortFunc(r.Pending, func(a, b PendingMessage) int { return cmp.Compare(a.SentIndex, b.SentIndex) })
	return r
}

// payloadKind is the ledger's name for a message's payload kind.
func payloadKind(m *messagev1.Message) ledgerv1.MessageKind {
	switch m.GetPayload().GetKind().(type) {
	case *messagev1.Payload_Alert:
		return ledgerv1.MessageKind_MESSAGE_KIND_ALERT
	case *messagev1.Payload_Outcome:
		return ledgerv1.MessageKind_MESSAGE_KIND_OUTCOME
	case *messagev1.Payload_Test:
		return ledgerv1.MessageKind_MESSAGE_KIND_TEST
	}
	return ledgerv1.MessageKind_MESSAGE_KIND_UNSPECIFIED
}

func sameParty(a, b *messagev1.Party) bool {
	return a.GetAgency() == b.GetAgency() && a.GetSpiffeId() == b.GetSpiffeId()
}

func party(p *messagev1.Party) string {
	return fmt.Sprintf("%q (%s)", p.GetAgency(), p.GetSpiffeId())
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// entryHasUnknownFields is hasUnknownFields for an entry, quick for the
// common case: an entry's only messages are recorded_at and config.
func entryHasUnknownFields(e *ledgerv1.Entry) bool {
	if e.GetConfig() != nil {
		return hasUnknownFields(e.ProtoReflect())
	}
	return len(e.ProtoReflect().GetUnknown()) > 0 ||
		e.GetRecordedAt() != nil && len(e.GetRecordedAt().ProtoReflect().GetUnknown()) > 0
}

// hasUnknownFields reports whether m, or a message inside it, holds fields its
// schema does not know.
func hasUnknownFields(m protoreflect.Message) bool {
	if len(m.GetUnknown()) > 0 {
		return true
	}
	found := false
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Message() == nil || fd.IsMap() {
			return true
		}
		if fd.IsList() {
			for i := 0; i < v.List().Len() && !found; i++ {
				found = hasUnknownFields(v.List().Get(i).Message())
			}
		} else {
			found = hasUnknownFields(v.Message())
		}
		return !found
	})
	return found
}
