package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/focalpoint-gateway/focalpoint/pkg/envelope"
	envelopev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/envelope/v1"
	ledgerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/ledger/v1"
	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/keys"
	"github.com/focalpoint-gateway/focalpoint/pkg/ledger"
)

// This file replays what two nodes do, with real keys, real envelopes and
// real ledger files, so the tests audit exactly what nodes write.

var (
	partyID = &messagev1.Party{Agency: "ID-DJI", SpiffeId: "spiffe://imigrasi.go.id/focalpoint/node"}
	partyKH = &messagev1.Party{Agency: "KH-GDI", SpiffeId: "spiffe://immigration.gov.kh/focalpoint/node"}
)

// clock is a shared test clock: every reading is one millisecond after the
// last, so times are ordered and distinct across both ledgers.
type clock struct {
	base time.Time
	n    atomic.Int64
}

func newClock() *clock {
	return &clock{base: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time { return c.base.Add(time.Duration(c.n.Add(1)) * time.Millisecond) }

// node is one end of the link: its party, its signing keys and its ledger.
type node struct {
	t      testing.TB
	name   string // ledger name
	party  *messagev1.Party
	signer *keys.Signer
	vkey   string
	path   string
	l      *ledger.Ledger
	opts   ledger.Options

	// For a transparency log: the log key, named after the ledger, and the
	// same key cosigning the counterpart's checkpoints.
	logSigner *keys.Signer
	logVKey   string
	cosigner  *testCosigner
}

// testCosigner makes C2SP tlog-cosignature/v1 signatures, as keys.Cosigner
// does, but at a time from the test's clock, so files are the same on every
// run. What it signs is checked with transparency-dev/formats' verifier.
type testCosigner struct {
	name string
	hash uint32
	key  ed25519.PrivateKey
	now  func() time.Time
}

func (c *testCosigner) Name() string    { return c.name }
func (c *testCosigner) KeyHash() uint32 { return c.hash }
func (c *testCosigner) Sign(msg []byte) ([]byte, error) {
	t := uint64(c.now().Unix())
	sig := ed25519.Sign(c.key, fmt.Appendf(nil, "cosignature/v1\ntime %d\n%s", t, msg))
	return append(binary.BigEndian.AppendUint64(nil, t), sig...), nil
}

// seededKey makes a key named name from a 32-byte seed, or from a random one
// if seed is nil.
func seededKey(t testing.TB, name string, seed []byte) (*keys.Signer, string, ed25519.PrivateKey) {
	t.Helper()
	if seed == nil {
		seed = make([]byte, ed25519.SeedSize)
		if _, err := rand.Read(seed); err != nil {
			t.Fatal(err)
		}
	}
	priv := ed25519.NewKeyFromSeed(seed)
	s, err := keys.NewSigner(name, priv)
	if err != nil {
		t.Fatal(err)
	}
	return s, s.VerifierKey(), priv
}

// seed is a fixed 32-byte seed.
func seed(b byte) []byte { return bytes.Repeat([]byte{b}, ed25519.SeedSize) }

func newSigner(t testing.TB, name string) (*keys.Signer, string) {
	t.Helper()
	skey, vkey, err := keys.Generate(name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := keys.ParseSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s, vkey
}

// config is the node's CONFIG as its operator would set it up.
func (n *node) config(counterpart *node) *ledgerv1.Config {
	return &ledgerv1.Config{
		LedgerName:             n.name,
		Self:                   n.party,
		Counterpart:            counterpart.party,
		SelfMessagesKey:        n.vkey,
		CounterpartMessagesKey: counterpart.vkey,
		SelfLogKey:             n.logVKey,
		CounterpartLogKey:      counterpart.logVKey,
	}
}

// pair is a link between Indonesia (id) and Cambodia (kh).
type pair struct {
	t      testing.TB
	clock  *clock
	id, kh *node
	seq    atomic.Uint64
}

// newPair is a link between two ledgers from before checkpoints: no log keys.
func newPair(t testing.TB) *pair { return newPairOpts(t, ledger.Options{}) }

func newPairOpts(t testing.TB, opts ledger.Options) *pair {
	return newPairWith(t, pairConfig{ledger: opts})
}

// newLogPair is a link between two transparency logs, keys from fixed seeds.
func newLogPair(t testing.TB) *pair {
	return newPairWith(t, pairConfig{logs: true, seeded: true})
}

// pairConfig says how a test link is set up.
type pairConfig struct {
	ledger ledger.Options
	// logs makes both ledgers transparency logs: log keys in their
	// configuration, a checkpoint signed after every commit, and p.cosign.
	logs bool
	// seeded makes every key from a fixed seed, so that, with the test clock,
	// the files come out the same on every run.
	seeded bool
}

// newPairWith opens both ledgers in t.TempDir() (Now is set here) and
// records each node's configuration as entry 0.
func newPairWith(t testing.TB, pc pairConfig) *pair {
	t.Helper()
	p := &pair{t: t, clock: newClock()}
	pc.ledger.Now = p.clock.Now
	dir := t.TempDir()
	mk := func(name, keyName string, party *messagev1.Party, seeds byte) *node {
		var ms, ls []byte
		if pc.seeded {
			ms, ls = seed(seeds), seed(seeds+1)
		}
		n := &node{t: t, name: name, party: party, path: filepath.Join(dir, strings.Split(name, "/")[0]+".db"), opts: pc.ledger}
		n.signer, n.vkey, _ = seededKey(t, keyName, ms)
		if pc.logs {
			var priv ed25519.PrivateKey
			n.logSigner, n.logVKey, priv = seededKey(t, name, ls)
			_, cv, err := CosignerKey(n.logVKey)
			if err != nil {
				t.Fatal(err)
			}
			n.cosigner = &testCosigner{name: name, hash: cv.KeyHash(), key: priv, now: p.clock.Now}
			n.opts.LogSigner = n.logSigner
		}
		return n
	}
	p.id = mk("imigrasi.go.id/focalpoint/ledger", "imigrasi.go.id/focalpoint/messages", partyID, 1)
	p.kh = mk("immigration.gov.kh/focalpoint/ledger", "immigration.gov.kh/focalpoint/messages", partyKH, 3)
	for _, n := range []*node{p.id, p.kh} {
		l, err := ledger.Open(n.path, n.opts)
		if err != nil {
			t.Fatal(err)
		}
		n.l = l
		t.Cleanup(func() { l.Close() })
	}
	p.init()
	return p
}

// other is n's counterpart.
func (p *pair) other(n *node) *node {
	if n == p.id {
		return p.kh
	}
	return p.id
}

// cosign has n's latest checkpoint cosigned by its counterpart as the
// exchange's witness does: the counterpart checks n's signature, cosigns,
// records CHECKPOINT_WITNESSED, and n records CHECKPOINT_COSIGNED. It returns
// the checkpoint's size and the two entries.
func (p *pair) cosign(n *node) (size, cosigned, witnessed uint64) {
	p.t.Helper()
	other := p.other(n)
	// A copy: ledger.CheckpointOf writes into what it is given, and the
	// ledger hands out the slice it keeps.
	signed := bytes.Clone(n.l.Checkpoint())
	opened, err := note.Open(signed, note.VerifierList(n.logSigner.Verifier()))
	if err != nil {
		p.t.Fatal(err)
	}
	cp, err := ledger.CheckpointOf(signed)
	if err != nil {
		p.t.Fatal(err)
	}
	both, err := note.Sign(opened, other.cosigner)
	if err != nil {
		p.t.Fatal(err)
	}
	w, err := other.l.AppendWitnessed(context.Background(), cp.Size, both)
	if err != nil {
		p.t.Fatal(err)
	}
	c, err := n.l.AppendCheckpointCosigned(context.Background(), cp.Size, both)
	if err != nil {
		p.t.Fatal(err)
	}
	return cp.Size, c.Index, w.Index
}

// init records both nodes' current configuration.
func (p *pair) init() {
	p.t.Helper()
	for _, n := range []*node{p.id, p.kh} {
		other := p.kh
		if n == p.kh {
			other = p.id
		}
		if err := n.l.Init(context.Background(), n.config(other)); err != nil {
			p.t.Fatal(err)
		}
	}
}

// rotate gives n a new messages key and records it in both ledgers.
func (p *pair) rotate(n *node) (old *keys.Signer) {
	p.t.Helper()
	old = n.signer
	n.signer, n.vkey = newSigner(p.t, old.Name())
	p.init()
	return old
}

// nodes are the pair's two nodes.
func (p *pair) nodes() []*node { return []*node{p.id, p.kh} }

// close closes both ledgers, e.g. before the file is changed behind their back.
func (p *pair) close() {
	p.t.Helper()
	for _, n := range []*node{p.id, p.kh} {
		if err := n.l.Close(); err != nil {
			p.t.Fatal(err)
		}
	}
}

// uuid7 makes a UUIDv7-shaped ID from a time and a sequence number.
func uuid7(at time.Time, seq uint64) string {
	var b [16]byte
	ms := uint64(at.UnixMilli())
	binary.BigEndian.PutUint64(b[0:8], ms<<16)
	binary.BigEndian.PutUint64(b[8:16], seq)
	b[6] = 0x70 | byte(seq>>56)&0x0f
	b[8] = 0x80 | b[8]&0x3f
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// exchange is one message's trail through both ledgers. An index is zero
// where the step did not happen.
type exchange struct {
	ID       string
	Kind     ledgerv1.MessageKind
	Envelope []byte
	// Receipt is the serialized SignedReceipt as the receiver ledgered it.
	Receipt []byte
	// Sender's ledger.
	Sent, ReceiptReceived uint64
	// Receiver's ledger.
	Received, ReceiptIssued uint64
}

// message makes a valid message from one node to the other; odd sequence
// numbers are test messages, even ones case outcomes in a thread.
func (p *pair) message(from, to *node) (*messagev1.Message, ledgerv1.MessageKind) {
	seq := p.seq.Add(1)
	now := p.clock.Now()
	h := &messagev1.Header{
		MessageId:     uuid7(now, seq),
		Sender:        from.party,
		Recipient:     to.party,
		CreatedAt:     timestamppb.New(now),
		Handling:      &messagev1.Handling{Code: messagev1.HandlingCode_HANDLING_CODE_H0},
		SchemaVersion: 1,
	}
	if seq%2 == 1 {
		return &messagev1.Message{Header: h, Payload: &messagev1.Payload{Kind: &messagev1.Payload_Test{
			Test: &messagev1.TestMessage{Nonce: fmt.Sprintf("nonce-%d", seq)},
		}}}, ledgerv1.MessageKind_MESSAGE_KIND_TEST
	}
	h.ThreadId = uuid7(now, seq<<8)
	h.InReplyTo = uuid7(now.Add(-time.Hour), seq<<16)
	return &messagev1.Message{Header: h, Payload: &messagev1.Payload{Kind: &messagev1.Payload_Outcome{
		Outcome: &messagev1.CaseOutcome{
			Result:     messagev1.OutcomeResult_OUTCOME_RESULT_HIT_ACTION_TAKEN,
			Outcome:    messagev1.Outcome_OUTCOME_LOCATED,
			OccurredAt: timestamppb.New(now.Add(-time.Hour)),
			Place:      "Phnom Penh International Airport",
			Narrative:  "Made-up narrative for a test.",
		},
	}}}, ledgerv1.MessageKind_MESSAGE_KIND_OUTCOME
}

// seal makes and signs a message from one node to the other.
func (p *pair) seal(from, to *node) (ledger.Message, *messagev1.Message) {
	p.t.Helper()
	m, kind := p.message(from, to)
	env, err := envelope.Seal(m, from.signer)
	if err != nil {
		p.t.Fatal(err)
	}
	return ledger.Message{ID: m.GetHeader().GetMessageId(), Kind: kind, ThreadID: m.GetHeader().GetThreadId(), Envelope: env}, m
}

// send records a sealed message as the sender does before it says "accepted".
func (n *node) send(m ledger.Message) uint64 {
	n.t.Helper()
	i, err := n.l.AppendSent(context.Background(), m, 0)
	if err != nil {
		n.t.Fatal(err)
	}
	return i
}

// issuer signs receipts as the receiving node does, inside its transaction.
func (n *node) issuer(m ledger.Message, edit func(*envelopev1.Receipt)) ledger.IssueFunc {
	return func(index uint64, at time.Time) ([]byte, error) {
		sum := sha256.Sum256(m.Envelope)
		r := &envelopev1.Receipt{
			MessageId:      m.ID,
			EnvelopeSha256: sum[:],
			LedgerIndex:    index,
			ReceivedAt:     timestamppb.New(at),
			Receiver:       n.party,
		}
		if edit != nil {
			edit(r)
		}
		return envelope.SignReceipt(r, n.signer)
	}
}

// receive records a message as the receiving node does, after checking it the
// way the node would, and returns the receipt it sends back.
func (n *node) receive(m ledger.Message, from *node) ledger.Received {
	n.t.Helper()
	if _, err := envelope.Open(m.Envelope, note.VerifierList(from.signer.Verifier())); err != nil {
		n.t.Fatal(err)
	}
	res, err := n.l.AppendReceived(context.Background(), m, n.issuer(m, nil))
	if err != nil {
		n.t.Fatal(err)
	}
	return res
}

// receiptReceived records the counterpart's receipt as the sender does.
func (n *node) receiptReceived(id string, receipt []byte) uint64 {
	n.t.Helper()
	i, err := n.l.AppendReceiptReceived(context.Background(), id, receipt)
	if err != nil {
		n.t.Fatal(err)
	}
	return i
}

// deliver sends a message from one node and has the other receive it, but the
// receipt has not reached the sender yet.
func (p *pair) deliver(from, to *node) exchange {
	p.t.Helper()
	m, _ := p.seal(from, to)
	x := exchange{ID: m.ID, Kind: m.Kind, Envelope: m.Envelope}
	x.Sent = from.send(m)
	res := to.receive(m, from)
	x.Received, x.Receipt = res.Index, res.SignedReceipt
	x.ReceiptIssued = res.Index + 1
	return x
}

// exchange runs the whole protocol for one message.
func (p *pair) exchange(from, to *node) exchange {
	p.t.Helper()
	x := p.deliver(from, to)
	x.ReceiptReceived = from.receiptReceived(x.ID, x.Receipt)
	return x
}

// sendOnly records a message as sent that never reaches the other node.
func (p *pair) sendOnly(from, to *node) exchange {
	p.t.Helper()
	m, _ := p.seal(from, to)
	return exchange{ID: m.ID, Kind: m.Kind, Envelope: m.Envelope, Sent: from.send(m)}
}

// openRO opens a ledger file read-only, as an auditor does.
func openRO(t testing.TB, path string) *ledger.Ledger {
	t.Helper()
	l, err := ledger.Open(path, ledger.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// copyFile copies a closed ledger file into a new temporary directory.
func copyFile(t testing.TB, path string) string {
	t.Helper()
	src, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst := filepath.Join(t.TempDir(), filepath.Base(path))
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, src); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

// keysFor builds an auditor's keys file from the given nodes' current keys.
func keysFor(t testing.TB, nodes ...*node) *Keys {
	t.Helper()
	k, err := ParseKeys(strings.NewReader(keysText(nodes...)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// keysText is the keys file the nodes publish: log keys too, if they have them.
func keysText(nodes ...*node) string {
	var b strings.Builder
	b.WriteString("# published keys\n")
	for _, n := range nodes {
		if n.logVKey != "" {
			fmt.Fprintf(&b, "log %s\n", n.logVKey)
		}
		fmt.Fprintf(&b, "messages %s\n", n.vkey)
	}
	return b.String()
}
