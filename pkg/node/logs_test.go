package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/focalpoint-gateway/focalpoint/pkg/config"
	"github.com/focalpoint-gateway/focalpoint/pkg/demo"
	focalv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/focal/v1"
	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/message"
	"github.com/focalpoint-gateway/focalpoint/pkg/node"
)

// syncBuffer is a log destination that both nodes' goroutines may write
// while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// loggedPair is both nodes, each logging JSON at debug level into its own
// buffer, and a local API client of each.
type loggedPair struct {
	idLog, khLog       *syncBuffer
	idClient, khClient focalv1.FocalServiceClient
	stop               func()
}

func startLoggedPair(t *testing.T, f *fixture) *loggedPair {
	t.Helper()
	listen := func() net.Listener {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	idLis, khLis := listen(), listen()
	id, kh := f.layout.Nodes[0], f.layout.Nodes[1]
	p := &loggedPair{idLog: &syncBuffer{}, khLog: &syncBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	var done []chan error
	var conns []interface{ Close() error }
	for _, s := range []struct {
		file   *config.File
		lis    net.Listener
		log    *syncBuffer
		client *focalv1.FocalServiceClient
	}{
		{demo.DevConfig(f.dir, id, kh, idLis.Addr().String(), khLis.Addr().String()), idLis, p.idLog, &p.idClient},
		{demo.DevConfig(f.dir, kh, id, khLis.Addr().String(), idLis.Addr().String()), khLis, p.khLog, &p.khClient},
	} {
		// Debug: whatever a node would say at its chattiest must be clean too.
		s.file.Log.Level = "debug"
		path := filepath.Join(f.dir, s.file.Node.Agency+"-logs.yaml")
		if err := config.Write(path, s.file); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		logger := slog.New(slog.NewJSONHandler(s.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
		n, err := node.New(ctx, cfg, node.Options{Logger: logger, PeerListener: s.lis})
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		ch := make(chan error, 1)
		go func() { ch <- n.Run(ctx) }()
		done = append(done, ch)
		conn, err := node.DialLocal(cfg.LocalSocket)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
		*s.client = focalv1.NewFocalServiceClient(conn)
	}
	var once sync.Once
	p.stop = func() {
		once.Do(func() {
			for _, c := range conns {
				c.Close()
			}
			cancel()
			for _, ch := range done {
				if err := <-ch; err != nil {
					t.Errorf("node stopped with %v", err)
				}
			}
		})
	}
	t.Cleanup(p.stop)
	return p
}

// Personal data that must never reach a log: each string is distinctive
// enough that finding it anywhere in a log can only mean a leak.
const (
	leakFamily      = "ZORVANDAKIS"
	leakGiven       = "QUILLETTE MARISOL"
	leakAlias       = "XYLOBRANDT"
	leakBirthPlace  = "VELMORRAN HEIGHTS"
	leakDateOfBirth = "1987-03-14"
	leakPassport    = "QZ7K4W9"
	leakIndicator   = "Recruiter WENDAQUIST promised a casino job"
	leakUrgency     = "Transfer to the GRELLFORD compound tonight"
	leakDestination = "Sihanoukville via KORMANTHE"
	leakPort        = "Gate PLUVIOSKA"
	leakFlight      = "ZZ 9417"
	leakNarrative   = "Found at the OSTRAVEL warehouse; she named her handler BRIXENHOLM"
	leakPlace       = "TAMBRELLIN pier"
)

// distinctivePersonalAlert is ExampleAlert with every personal field replaced
// by a distinctive value, and an MRZ rebuilt from them with valid check
// digits, so the alert is accepted and travels through both nodes.
func distinctivePersonalAlert(t *testing.T, now time.Time) *messagev1.SuspectTravellerAlert {
	t.Helper()
	a := message.ExampleAlert(now)
	a.Subject.FamilyName = leakFamily
	a.Subject.GivenNames = leakGiven
	a.Subject.Aliases = []string{leakAlias}
	a.Subject.PlaceOfBirth = leakBirthPlace
	a.Subject.DateOfBirth = leakDateOfBirth
	a.Document.Number = leakPassport
	a.Document.MrzLines = td3(t, a.Document.IssuingState, leakFamily, leakGiven, leakPassport,
		a.Subject.Nationality, leakDateOfBirth, 'F', a.Document.ExpiryDate)
	a.Indicators = []string{leakIndicator}
	a.UrgencyReason = leakUrgency
	a.Travel.Destination = leakDestination
	a.Travel.Port = leakPort
	a.Travel.Flight = leakFlight
	return a
}

// td3 builds a passport's two MRZ lines (ICAO 9303 Part 4) with every check
// digit computed.
func td3(t *testing.T, state, family, given, number, nationality, dob string, sex byte, expiry string) []string {
	t.Helper()
	pad := func(s string, n int) string { return s + strings.Repeat("<", n-len(s)) }
	withDigit := func(s string) string {
		d, err := message.CheckDigit(s)
		if err != nil {
			t.Fatal(err)
		}
		return s + string(d)
	}
	date := func(iso string) string { return iso[2:4] + iso[5:7] + iso[8:10] }
	name := strings.ReplaceAll(family, " ", "<") + "<<" + strings.ReplaceAll(given, " ", "<")
	line1 := pad("P<"+state+name, 44)
	num, birth, exp := withDigit(pad(number, 9)), withDigit(date(dob)), withDigit(date(expiry))
	opt := pad("", 14) + "<"
	composite, err := message.CheckDigit(num + birth + exp + opt)
	if err != nil {
		t.Fatal(err)
	}
	return []string{line1, num + nationality + birth + string(sex) + exp + opt + string(composite)}
}

// TestLogsCarryNoPersonalData sends an alert full of distinctive personal
// data from the Indonesian node and answers it with an outcome from the
// Cambodian one, then reads both nodes' logs: every line is a JSON record;
// the message IDs and what happened to them are there; not one piece of the
// personal data is, in any form (the MRZ's too).
func TestLogsCarryNoPersonalData(t *testing.T) {
	f := newFixture(t)
	p := startLoggedPair(t, f)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	now := time.Now()

	alert := distinctivePersonalAlert(t, now)
	sent, err := p.idClient.SubmitMessage(ctx, &focalv1.SubmitMessageRequest{Draft: &focalv1.Draft{
		Handling: message.ExampleHandling(),
		Payload:  &messagev1.Payload{Kind: &messagev1.Payload_Alert{Alert: alert}},
	}})
	if err != nil {
		t.Fatalf("submit the alert: %v", err)
	}
	if _, err := p.idClient.AwaitReceipt(ctx, &focalv1.AwaitReceiptRequest{MessageId: sent.GetMessageId()}); err != nil {
		t.Fatalf("receipt of the alert: %v", err)
	}

	outcome := message.ExampleOutcome(now)
	outcome.Narrative = leakNarrative
	outcome.Place = leakPlace
	answer, err := p.khClient.SubmitMessage(ctx, &focalv1.SubmitMessageRequest{Draft: &focalv1.Draft{
		InReplyTo: sent.GetMessageId(),
		Handling:  message.ExampleHandling(),
		Payload:   &messagev1.Payload{Kind: &messagev1.Payload_Outcome{Outcome: outcome}},
	}})
	if err != nil {
		t.Fatalf("submit the outcome: %v", err)
	}
	if _, err := p.khClient.AwaitReceipt(ctx, &focalv1.AwaitReceiptRequest{MessageId: answer.GetMessageId()}); err != nil {
		t.Fatalf("receipt of the outcome: %v", err)
	}
	// Everything a node logs up to and including its shutdown.
	p.stop()

	// Names and words are looked for in any case; dates and MRZ text as
	// written, since lowercase hex (serials, UUIDs) and timestamps could
	// hold a run of digits by chance.
	words := []string{
		leakFamily, leakGiven, leakAlias, leakBirthPlace, leakPassport,
		leakIndicator, leakUrgency, leakDestination, leakPort, leakFlight,
		leakNarrative, leakPlace,
		// Parts of the above, as a partial or re-formatted echo would show them.
		"QUILLETTE", "MARISOL", "VELMORRAN", "WENDAQUIST", "GRELLFORD", "KORMANTHE",
		"PLUVIOSKA", "OSTRAVEL", "BRIXENHOLM", "TAMBRELLIN",
	}
	mrz := alert.Document.MrzLines
	exact := []string{
		// The date of birth, as written, as people write it, and as the MRZ
		// does (with its check digit and the sex after it).
		leakDateOfBirth, "14/03/1987", "14.03.1987", mrz[1][13:21],
		// The MRZ lines, whole and their name and number fields.
		mrz[0], mrz[1], mrz[0][5:30], mrz[1][:10],
	}
	for _, n := range []struct {
		name string
		log  string
		want []string // each must appear in some record
	}{
		{"ID", p.idLog.String(), []string{"message accepted " + sent.GetMessageId(), "receipt received " + sent.GetMessageId(), "message received " + answer.GetMessageId()}},
		{"KH", p.khLog.String(), []string{"message received " + sent.GetMessageId(), "message accepted " + answer.GetMessageId(), "receipt received " + answer.GetMessageId()}},
	} {
		if strings.TrimSpace(n.log) == "" {
			t.Fatalf("%s node logged nothing", n.name)
		}
		seen := map[string]bool{}
		for i, line := range strings.Split(strings.TrimSpace(n.log), "\n") {
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Errorf("%s node log line %d is not JSON: %v\n%s", n.name, i+1, err, line)
				continue
			}
			for _, k := range []string{"time", "level", "msg"} {
				if _, ok := rec[k]; !ok {
					t.Errorf("%s node log line %d has no %q: %s", n.name, i+1, k, line)
				}
			}
			if id, ok := rec["message_id"].(string); ok {
				seen[rec["msg"].(string)+" "+id] = true
			}
		}
		for _, w := range n.want {
			if !seen[w] {
				t.Errorf("%s node logged no %q record", n.name, w)
			}
		}
		lower := strings.ToLower(n.log)
		for _, s := range words {
			if strings.Contains(lower, strings.ToLower(s)) {
				t.Errorf("%s node's log holds personal data %q", n.name, s)
			}
		}
		for _, s := range exact {
			if strings.Contains(n.log, s) {
				t.Errorf("%s node's log holds personal data %q", n.name, s)
			}
		}
		if t.Failed() {
			t.Logf("%s node log:\n%s", n.name, n.log)
		}
	}
}
