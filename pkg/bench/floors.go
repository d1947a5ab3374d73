package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/focalpoint-gateway/focalpoint/pkg/config"
	ledgerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/ledger/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/identity"
	"github.com/focalpoint-gateway/focalpoint/pkg/keys"
	"github.com/focalpoint-gateway/focalpoint/pkg/ledger"
)

// Floors are what the parts under a node can do alone on this machine, measured
// in the same run as the nodes so that the ratio of the two means something on
// a noisy machine.
type Floors struct {
	// EchoPerS is gRPC unary echoes of Payload bytes per second over mTLS with
	// the two nodes' identities, at the bench's concurrency on one ClientConn,
	// client and server in this process.
	EchoPerS float64 `json:"echo_per_s"`
	// SignPerS and VerifyPerS are Ed25519 signatures made and checked per
	// second by one goroutine, with the node's messages key, over Payload
	// bytes behind the envelope's domain-separation prefix.
	SignPerS   float64 `json:"sign_per_s"`
	VerifyPerS float64 `json:"verify_per_s"`
	// SignAllCoresPerS and VerifyAllCoresPerS are the same with one
	// goroutine per core at once: the model assumes n·S and n·V, and
	// virtual cores may not deliver it.
	SignAllCoresPerS   float64 `json:"sign_all_cores_per_s"`
	VerifyAllCoresPerS float64 `json:"verify_all_cores_per_s"`
	// LedgerAppendPerS is ledger.AppendSent calls per second from the bench's
	// concurrency of writers into a new ledger beside the nodes', fsync on and
	// a checkpoint signed per batch, as a node does.
	LedgerAppendPerS float64 `json:"ledger_append_per_s"`
	// LedgerMeanBatch is the mean number of appends that shared a commit.
	LedgerMeanBatch float64 `json:"ledger_mean_batch"`
}

// echoService is a one-method gRPC service over a well-known message type, so
// the floor needs no .proto of its own.
var echoService = grpc.ServiceDesc{
	ServiceName: "focalpoint.bench.v1.EchoService",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Echo",
		Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.BytesValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			return in, nil
		},
	}},
}

const echoMethod = "/focalpoint.bench.v1.EchoService/Echo"

// measureEcho runs concurrency callers of the echo service for d: the server
// as the receiving node (its SVID, admitting only the sender), the client as
// the sending node.
func measureEcho(ctx context.Context, sender, receiver *config.Config, concurrency, payload int, d time.Duration) (float64, error) {
	srcS, err := fileSource(sender)
	if err != nil {
		return 0, err
	}
	srcR, err := fileSource(receiver)
	if err != nil {
		return 0, err
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("bench: echo: %w", err)
	}
	srv := grpc.NewServer(grpc.Creds(identity.ServerCredentials(srcR, sender.ID)))
	srv.RegisterService(&echoService, struct{}{})
	go srv.Serve(lis)
	defer srv.Stop()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(identity.ClientCredentials(srcS, receiver.ID)))
	if err != nil {
		return 0, fmt.Errorf("bench: echo: %w", err)
	}
	defer conn.Close()
	in := wrapperspb.Bytes(make([]byte, payload))
	rand.Read(in.Value)
	// One call first, so the handshake is not in the figure.
	if err := conn.Invoke(ctx, echoMethod, in, new(wrapperspb.BytesValue)); err != nil {
		return 0, fmt.Errorf("bench: echo: %w", err)
	}
	var calls atomic.Int64
	var firstErr error
	var once sync.Once
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			out := new(wrapperspb.BytesValue)
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if err := conn.Invoke(ctx, echoMethod, in, out); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				calls.Add(1)
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return 0, fmt.Errorf("bench: echo: %w", firstErr)
	}
	return float64(calls.Load()) / time.Since(start).Seconds(), nil
}

func fileSource(cfg *config.Config) (identity.Source, error) {
	return identity.LoadFiles(identity.Files{
		Cert:    cfg.SVIDCert,
		Key:     cfg.SVIDKey,
		Bundles: bundles(cfg),
	})
}

// measureSign and measureVerify run goroutines at once for d, each signing
// or verifying in a loop, and return the total per second: with one
// goroutine, a figure for one core.
func measureSign(cfg *config.Config, payload, goroutines int, d time.Duration) (float64, error) {
	s, err := keys.LoadSigner(cfg.MessagesKey)
	if err != nil {
		return 0, err
	}
	msg := signedPayload(payload)
	return inParallel(goroutines, d, func() error {
		_, err := s.Sign(msg)
		return err
	})
}

func measureVerify(cfg *config.Config, payload, goroutines int, d time.Duration) (float64, error) {
	s, err := keys.LoadSigner(cfg.MessagesKey)
	if err != nil {
		return 0, err
	}
	msg := signedPayload(payload)
	sig, err := s.Sign(msg)
	if err != nil {
		return 0, err
	}
	v := s.Verifier()
	return inParallel(goroutines, d, func() error {
		if !v.Verify(msg, sig) {
			return fmt.Errorf("bench: a good signature did not verify")
		}
		return nil
	})
}

func inParallel(goroutines int, d time.Duration, fn func() error) (float64, error) {
	rates := make([]float64, goroutines)
	errs := make([]error, goroutines)
	var wg sync.WaitGroup
	for i := range goroutines {
		wg.Go(func() { rates[i], errs[i] = perSecond(d, fn) })
	}
	wg.Wait()
	total := 0.0
	for i := range goroutines {
		if errs[i] != nil {
			return 0, errs[i]
		}
		total += rates[i]
	}
	return total, nil
}

// signedPayload is what an envelope's signature covers: a context, a zero
// byte, the message.
func signedPayload(n int) []byte {
	b := append([]byte("focalpoint/envelope/v1\x00"), make([]byte, n)...)
	rand.Read(b[23:])
	return b
}

func perSecond(d time.Duration, fn func() error) (float64, error) {
	start := time.Now()
	n := 0
	for {
		// Check the clock every 64 calls: a call takes tens of microseconds.
		for range 64 {
			if err := fn(); err != nil {
				return 0, err
			}
		}
		n += 64
		if el := time.Since(start); el >= d {
			return float64(n) / el.Seconds(), nil
		}
	}
}

// measureLedger appends from concurrency writers for d to a new ledger in dir,
// as a node does: fsync on, the node's log key signing a checkpoint per batch.
func measureLedger(ctx context.Context, cfg *config.Config, dir string, concurrency, payload int, d time.Duration) (perS, meanBatch float64, err error) {
	logSigner, err := keys.LoadSigner(cfg.LogKey)
	if err != nil {
		return 0, 0, err
	}
	reg := prometheus.NewRegistry()
	l, err := ledger.Open(filepath.Join(dir, "floor-ledger.db"), ledger.Options{LogSigner: logSigner, Registerer: reg})
	if err != nil {
		return 0, 0, err
	}
	defer l.Close()
	lcfg, err := ledgerConfig(cfg)
	if err != nil {
		return 0, 0, err
	}
	if err := l.Init(ctx, lcfg); err != nil {
		return 0, 0, err
	}
	env := make([]byte, payload)
	rand.Read(env)
	var appended atomic.Int64
	var firstErr error
	var once sync.Once
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			e := append([]byte(nil), env...)
			for time.Now().Before(deadline) && ctx.Err() == nil {
				id := uuid.Must(uuid.NewV7()).String()
				copy(e, id) // distinct bytes, as distinct messages have
				if _, err := l.AppendSent(ctx, ledger.Message{ID: id, Kind: ledgerv1.MessageKind_MESSAGE_KIND_ALERT, ThreadID: id, Envelope: e}, 0); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				appended.Add(1)
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	if firstErr != nil {
		return 0, 0, firstErr
	}
	m, err := gatherText(reg)
	if err != nil {
		return 0, 0, err
	}
	if n := m.value("focalpoint_ledger_commit_batch_writes_count"); n > 0 {
		meanBatch = m.value("focalpoint_ledger_commit_batch_writes_sum") / n
	}
	return float64(appended.Load()) / el.Seconds(), meanBatch, nil
}

// ledgerConfig is the CONFIG entry node.New records for cfg, so a ledger the
// bench writes is one the node opens without recording a new configuration.
func ledgerConfig(cfg *config.Config) (*ledgerv1.Config, error) {
	signer, err := keys.LoadSigner(cfg.MessagesKey)
	if err != nil {
		return nil, err
	}
	_, peerVKey, err := keys.LoadVerifier(cfg.Counterpart.MessagesKey)
	if err != nil {
		return nil, err
	}
	logSigner, err := keys.LoadSigner(cfg.LogKey)
	if err != nil {
		return nil, err
	}
	_, peerLogVKey, err := keys.LoadVerifier(cfg.Counterpart.LogKey)
	if err != nil {
		return nil, err
	}
	return &ledgerv1.Config{
		LedgerName:             cfg.LedgerName(),
		Self:                   self(cfg),
		Counterpart:            counterpart(cfg),
		SelfMessagesKey:        signer.VerifierKey(),
		CounterpartMessagesKey: peerVKey,
		SelfLogKey:             logSigner.VerifierKey(),
		CounterpartLogKey:      peerLogVKey,
	}, nil
}
