// Package node assembles one focal-point node from its configuration: identity,
// signing key, ledger, the peer API, the local API and the delivery loop, and
// runs them until its context ends, then shuts down without losing anything
// accepted.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/focalpoint-gateway/focalpoint/pkg/config"
	"github.com/focalpoint-gateway/focalpoint/pkg/exchange"
	"github.com/focalpoint-gateway/focalpoint/pkg/focal"
	focalv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/focal/v1"
	ledgerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/ledger/v1"
	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
	peerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/peer/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/identity"
	"github.com/focalpoint-gateway/focalpoint/pkg/keys"
	"github.com/focalpoint-gateway/focalpoint/pkg/ledger"
	"github.com/focalpoint-gateway/focalpoint/pkg/rpcerr"
)

// Options are what a caller may supply instead of what the config names.
type Options struct {
	// Logger; nil discards.
	Logger *slog.Logger
	// Registry receives the node's metrics and serves them on metrics.listen;
	// nil means a new registry of the node's own.
	Registry *prometheus.Registry
	// PeerListener, if set, is used instead of listening on the config's
	// peer.listen (e.g. a port picked by the caller).
	PeerListener net.Listener
}

// Node is one running focal-point node.
type Node struct {
	cfg    *config.Config
	log    *slog.Logger
	ledger *ledger.Ledger
	sender *exchange.Sender
	conn   *grpc.ClientConn
	// servers[0] is the peer API; the local APIs follow.
	servers []served
	health  *health.Server
	metrics *http.Server
	metLis  net.Listener
	// closeIdentity stops the SVID and bundle watchers (identity.go).
	closeIdentity func() error
}

// New opens everything a node needs and starts listening, but serves nothing
// until Run. On error everything opened is closed again.
func New(ctx context.Context, cfg *config.Config, opts Options) (n *Node, err error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var closers []func()
	defer func() {
		if err != nil {
			for i := len(closers) - 1; i >= 0; i-- {
				closers[i]()
			}
		}
	}()

	src, closeIdentity, err := identitySource(ctx, cfg, log) // identity.go
	if err != nil {
		return nil, err
	}
	closers = append(closers, func() { closeIdentity() })
	signer, err := keys.LoadSigner(cfg.MessagesKey)
	if err != nil {
		return nil, err
	}
	peerKey, peerVKey, err := keys.LoadVerifier(cfg.Counterpart.MessagesKey)
	if err != nil {
		return nil, err
	}
	if signer.Name() == peerKey.Name() && signer.KeyHash() == peerKey.KeyHash() {
		return nil, fmt.Errorf("node: counterpart.messages_key is this node's own key")
	}
	logSigner, err := keys.LoadSigner(cfg.LogKey)
	if err != nil {
		return nil, err
	}
	if logSigner.Name() != cfg.LedgerName() {
		return nil, fmt.Errorf("node: node.log_key is named %q; a ledger's log key is named after the ledger, %q", logSigner.Name(), cfg.LedgerName())
	}
	cosigner, err := logSigner.Cosigner()
	if err != nil {
		return nil, err
	}
	peerLog, peerLogVKey, err := keys.LoadVerifier(cfg.Counterpart.LogKey)
	if err != nil {
		return nil, err
	}
	if peerLog.Name() != cfg.CounterpartLedgerName() {
		return nil, fmt.Errorf("node: counterpart.log_key is named %q, not after the counterpart's ledger %q", peerLog.Name(), cfg.CounterpartLedgerName())
	}
	peerCosigner, err := keys.CosignerVerifier(peerLogVKey)
	if err != nil {
		return nil, err
	}

	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("node: state directory: %w", err)
	}
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	l, err := ledger.Open(cfg.LedgerPath, ledger.Options{Logger: log, Registerer: reg, LogSigner: logSigner})
	if err != nil {
		return nil, err
	}
	closers = append(closers, func() { l.Close() })

	self := &messagev1.Party{Agency: cfg.Agency, SpiffeId: cfg.ID.String()}
	counterpart := &messagev1.Party{Agency: cfg.Counterpart.Agency, SpiffeId: cfg.Counterpart.ID.String()}
	if err := l.Init(ctx, &ledgerv1.Config{
		LedgerName:             cfg.LedgerName(),
		Self:                   self,
		Counterpart:            counterpart,
		SelfMessagesKey:        signer.VerifierKey(),
		CounterpartMessagesKey: peerVKey,
		SelfLogKey:             logSigner.VerifierKey(),
		CounterpartLogKey:      peerLogVKey,
	}); err != nil {
		return nil, err
	}

	link := exchange.Link{
		Self: self, SelfID: cfg.ID,
		Counterpart: counterpart, PeerID: cfg.Counterpart.ID,
		SelfSigner: signer,
		PeerKeys:   note.VerifierList(peerKey),
		SelfOrigin: cfg.LedgerName(), PeerOrigin: cfg.CounterpartLedgerName(),
		SelfLog: logSigner.Verifier(), PeerLog: peerLog,
		Cosigner: cosigner, PeerCosigner: peerCosigner,
	}
	metrics := exchange.NewMetrics(reg)
	exchange.RegisterOutbox(reg, l, time.Now)
	exchange.RegisterRequests(reg, l, time.Now)
	idMetrics := identity.NewMetrics(reg, src)
	grpcServerMetrics := grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram())
	grpcClientMetrics := grpcprom.NewClientMetrics(grpcprom.WithClientHandlingTimeHistogram())
	reg.MustRegister(grpcServerMetrics, grpcClientMetrics)
	// Metrics outermost, so they count the status the caller really gets.
	unary := grpc.ChainUnaryInterceptor(grpcServerMetrics.UnaryServerInterceptor(), rpcerr.UnaryServerInterceptor(log))
	stream := grpc.ChainStreamInterceptor(grpcServerMetrics.StreamServerInterceptor(), rpcerr.StreamServerInterceptor(log))

	conn, err := grpc.NewClient(cfg.Counterpart.Address,
		grpc.WithTransportCredentials(identity.ClientCredentials(src, cfg.Counterpart.ID)),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(exchange.MaxDeliverRequestBytes(cfg.MaxMessageBytes))),
		grpc.WithChainUnaryInterceptor(grpcClientMetrics.UnaryClientInterceptor()),
		// Reconnect on the delivery loop's schedule: gRPC's own default backoff
		// grows to two minutes and would hold back a backlog after an outage.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{
				BaseDelay:  cfg.InitialBackoff,
				Multiplier: 1.6,
				Jitter:     0.2,
				MaxDelay:   cfg.MaxBackoff,
			},
			MinConnectTimeout: cfg.AttemptTimeout,
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("node: counterpart client: %w", err)
	}
	closers = append(closers, func() { conn.Close() })
	sender := exchange.NewSender(link, l, conn, exchange.SenderOptions{
		Workers:        cfg.Workers,
		Batch:          cfg.Batch,
		InitialBackoff: cfg.InitialBackoff,
		MaxBackoff:     cfg.MaxBackoff,
		AttemptTimeout: cfg.AttemptTimeout,
		OutboxLimit:    cfg.OutboxLimit,
		Deadlines:      exchange.Deadlines{Urgent: cfg.UrgentDeadline, Normal: cfg.NormalDeadline},
		Logger:         log,
		Metrics:        metrics,
	})
	receiver := exchange.NewReceiver(link, l, exchange.ReceiverOptions{
		MaxEnvelopeBytes: cfg.MaxMessageBytes,
		ClockSkew:        cfg.ClockSkew,
		MaxMessageAge:    cfg.MaxMessageAge,
		Deadlines:        exchange.Deadlines{Urgent: cfg.UrgentDeadline, Normal: cfg.NormalDeadline},
		Logger:           log,
		Metrics:          metrics,
		Status:           rpcerr.Status,
	})

	n = &Node{cfg: cfg, log: log, ledger: l, sender: sender, conn: conn, health: health.NewServer()}
	n.closeIdentity = closeIdentity
	// Health: the overall status and each API serve only while the ledger is
	// open; the counterpart's reachability is its own entry, so a node whose
	// peer is away is still healthy.
	n.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	n.health.SetServingStatus(peerv1.PeerService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	n.health.SetServingStatus(focalv1.FocalService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	n.health.SetServingStatus(CounterpartHealthService, healthpb.HealthCheckResponse_SERVING)

	peerServer := grpc.NewServer(
		grpc.Creds(idMetrics.CountFailures("peer", identity.ServerCredentials(src, cfg.Counterpart.ID))),
		grpc.MaxRecvMsgSize(exchange.MaxDeliverRequestBytes(cfg.MaxMessageBytes)),
		unary, stream,
	)
	peerv1.RegisterPeerServiceServer(peerServer, receiver)
	healthpb.RegisterHealthServer(peerServer, n.health)
	peerLis := opts.PeerListener
	if peerLis == nil {
		if peerLis, err = net.Listen("tcp", cfg.PeerListen); err != nil {
			return nil, fmt.Errorf("node: peer.listen: %w", err)
		}
	}
	closers = append(closers, func() { peerLis.Close() })
	n.serve("peer", peerServer, peerLis)

	localAPI := focal.NewServer(sender, l, note.VerifierList(signer.Verifier()), note.VerifierList(peerKey),
		exchange.Deadlines{Urgent: cfg.UrgentDeadline, Normal: cfg.NormalDeadline})
	// On the unix socket the socket file's mode decides who connects, and every
	// caller has the socket's role.
	socketRole, err := focal.ParseRole(cfg.SocketRole)
	if err != nil {
		return nil, err
	}
	socketAccess := focal.SocketAccess(socketRole, log)
	socketServer := grpc.NewServer(
		grpc.ChainUnaryInterceptor(grpcServerMetrics.UnaryServerInterceptor(), rpcerr.UnaryServerInterceptor(log), socketAccess.UnaryInterceptor()),
		grpc.ChainStreamInterceptor(grpcServerMetrics.StreamServerInterceptor(), rpcerr.StreamServerInterceptor(log), socketAccess.StreamInterceptor()),
	)
	n.registerLocal(socketServer, localAPI)
	sock, err := listenUnix(cfg.LocalSocket)
	if err != nil {
		return nil, err
	}
	closers = append(closers, func() { sock.Close() })
	n.serve("local", socketServer, sock)

	if cfg.LocalListen != "" {
		// Over TCP, mTLS admits only the configured IDs of this trust domain.
		roles := make(map[spiffeid.ID]focal.Role, len(cfg.LocalRoles))
		for id, r := range cfg.LocalRoles {
			if roles[id], err = focal.ParseRole(r); err != nil {
				return nil, err
			}
		}
		idAccess := focal.IDAccess(roles, log)
		tcpServer := grpc.NewServer(
			grpc.Creds(idMetrics.CountFailures("local", identity.TrustDomainCredentials(src, cfg.ID.TrustDomain()))),
			grpc.ChainUnaryInterceptor(grpcServerMetrics.UnaryServerInterceptor(), rpcerr.UnaryServerInterceptor(log), idAccess.UnaryInterceptor()),
			grpc.ChainStreamInterceptor(grpcServerMetrics.StreamServerInterceptor(), rpcerr.StreamServerInterceptor(log), idAccess.StreamInterceptor()),
		)
		n.registerLocal(tcpServer, localAPI)
		tcp, err := net.Listen("tcp", cfg.LocalListen)
		if err != nil {
			return nil, fmt.Errorf("node: local.listen: %w", err)
		}
		closers = append(closers, func() { tcp.Close() })
		n.serve("local-tcp", tcpServer, tcp)
	}
	if cfg.HealthListen != "" {
		// Health only, in plaintext: it says whether the ledger is open and the
		// counterpart reachable, nothing about any message.
		healthServer := grpc.NewServer()
		healthpb.RegisterHealthServer(healthServer, n.health)
		hl, err := net.Listen("tcp", cfg.HealthListen)
		if err != nil {
			return nil, fmt.Errorf("node: health.listen: %w", err)
		}
		closers = append(closers, func() { hl.Close() })
		n.serve("health", healthServer, hl)
	}
	grpcServerMetrics.InitializeMetrics(peerServer)
	grpcServerMetrics.InitializeMetrics(socketServer)

	if cfg.MetricsListen != "" {
		if n.metLis, err = net.Listen("tcp", cfg.MetricsListen); err != nil {
			return nil, fmt.Errorf("node: metrics.listen: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
		n.metrics = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	}
	return n, nil
}

// CounterpartHealthService is the health-check service name whose status says
// whether the counterpart is reachable, beside the node's own health.
const CounterpartHealthService = "focalpoint.counterpart"

// registerLocal puts the local API, health and reflection (so grpcurl works)
// on a server.
func (n *Node) registerLocal(s *grpc.Server, api focalv1.FocalServiceServer) {
	focalv1.RegisterFocalServiceServer(s, api)
	healthpb.RegisterHealthServer(s, n.health)
	reflection.Register(s)
}

// MetricsAddr is where /metrics is served, or nil.
func (n *Node) MetricsAddr() net.Addr {
	if n.metLis == nil {
		return nil
	}
	return n.metLis.Addr()
}

type served struct {
	name   string
	server *grpc.Server
	lis    net.Listener
}

func (n *Node) serve(name string, s *grpc.Server, lis net.Listener) {
	n.servers = append(n.servers, served{name: name, server: s, lis: lis})
}

// PeerAddr is where the peer API listens.
func (n *Node) PeerAddr() net.Addr { return n.servers[0].lis.Addr() }

// LocalSocket is the local API's unix socket.
func (n *Node) LocalSocket() string { return n.cfg.LocalSocket }

// Ledger is the node's ledger, for in-process callers such as the demo.
func (n *Node) Ledger() *ledger.Ledger { return n.ledger }

// Run serves until ctx ends, then stops taking new work, lets deliveries and
// calls under way finish (up to a grace period), and closes the ledger. It
// returns the first serving error, if any.
func (n *Node) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(n.servers))
	var wg sync.WaitGroup
	for _, s := range n.servers {
		wg.Go(func() {
			if err := s.server.Serve(s.lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
				errs <- fmt.Errorf("node: %s API: %w", s.name, err)
				cancel()
			}
		})
	}
	if n.metrics != nil {
		wg.Go(func() {
			if err := n.metrics.Serve(n.metLis); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs <- fmt.Errorf("node: metrics: %w", err)
				cancel()
			}
		})
	}
	delivery := make(chan struct{})
	go func() {
		defer close(delivery)
		n.sender.Run(ctx)
	}()
	go n.watchCounterpart(ctx)
	go n.watchConnection(ctx)
	n.log.InfoContext(ctx, "node serving",
		"spiffe_id", n.cfg.ID.String(), "peer_addr", n.PeerAddr().String(),
		"local_socket", n.cfg.LocalSocket, "counterpart", n.cfg.Counterpart.ID.String(),
		"ledger_entries", n.ledger.Size(), "outbox", n.ledger.OutboxLen())
	<-ctx.Done()

	n.log.Info("node stopping")
	n.health.Shutdown()
	if n.metrics != nil {
		n.metrics.Close()
	}
	// Local APIs first: no new submissions while the rest winds down.
	for i := len(n.servers) - 1; i >= 0; i-- {
		stopWithin(n.servers[i].server, config.DefaultShutdownGrace)
	}
	<-delivery
	wg.Wait()
	n.conn.Close()
	if err := n.closeIdentity(); err != nil {
		n.log.Warn("node: closing the identity source", "error", err)
	}
	if err := n.ledger.Close(); err != nil {
		return err
	}
	n.log.Info("node stopped", "ledger_entries", n.ledger.Size(), "outbox", n.ledger.OutboxLen())
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// watchCounterpart mirrors the delivery loop's view of the link into health.
func (n *Node) watchCounterpart(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		status := healthpb.HealthCheckResponse_SERVING
		if !n.sender.PeerUp() {
			status = healthpb.HealthCheckResponse_NOT_SERVING
		}
		n.health.SetServingStatus(CounterpartHealthService, status)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// watchConnection ends the delivery loop's pause as soon as gRPC has a
// connection to the counterpart again (it keeps reconnecting on the delivery
// backoff while the link is down).
func (n *Node) watchConnection(ctx context.Context) {
	for {
		state := n.conn.GetState()
		if state == connectivity.Ready {
			n.sender.LinkReady()
		}
		if !n.conn.WaitForStateChange(ctx, state) {
			return
		}
	}
}

// stopWithin stops a server gracefully, or forcibly once grace has passed
// (a stream that never ends must not keep the node up).
func stopWithin(s *grpc.Server, grace time.Duration) {
	done := make(chan struct{})
	go func() {
		s.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(grace):
		s.Stop()
		<-done
	}
}

// listenUnix listens on a unix socket readable and writable by the node's user
// and group only. A socket file left by a node that died is replaced; any other
// file is not.
func listenUnix(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("node: local socket directory: %w", err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("node: local.socket %s exists and is not a socket", path)
		}
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return nil, fmt.Errorf("node: local.socket %s is in use by a running node", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("node: remove stale socket: %w", err)
		}
	}
	lis, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("node: local.socket: %w", err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		lis.Close()
		return nil, fmt.Errorf("node: local.socket mode: %w", err)
	}
	return lis, nil
}

// DialLocal connects to a node's local API on its unix socket.
func DialLocal(socket string) (*grpc.ClientConn, error) {
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("node: local API at %s: %w", socket, err)
	}
	return conn, nil
}
