package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/focalpoint-gateway/focalpoint/pkg/config"
	ledgerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/ledger/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/keys"
	"github.com/focalpoint-gateway/focalpoint/pkg/ledger"
)

// generate fills the ledger cfg names, before its node first starts, with at
// least entries entries of a link's ordinary life: half messages sent and
// receipted (SENT, RECEIPT_RECEIVED), half received and receipted (RECEIVED,
// RECEIPT_ISSUED), with envelopes of payload bytes. It writes through the
// ledger package, so the file, its indexes and its Merkle tree are what a node
// would have written, but without fsync, and with stand-in bytes for
// envelopes and receipts: the node does not read them at start, and signing a
// million messages would only make the bench slow. An auditor would refuse
// this ledger.
func generate(ctx context.Context, cfg *config.Config, entries, payload int) (uint64, time.Duration, error) {
	start := time.Now()
	logSigner, err := keys.LoadSigner(cfg.LogKey)
	if err != nil {
		return 0, 0, err
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return 0, 0, fmt.Errorf("bench: %w", err)
	}
	l, err := ledger.Open(cfg.LedgerPath, ledger.Options{NoSync: true, LogSigner: logSigner})
	if err != nil {
		return 0, 0, err
	}
	lcfg, err := ledgerConfig(cfg)
	if err != nil {
		l.Close()
		return 0, 0, err
	}
	if err := l.Init(ctx, lcfg); err != nil {
		l.Close()
		return 0, 0, err
	}
	// Enough writers that batches are large; the committer is the bottleneck.
	const writers = 256
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	receipt := make([]byte, 160) // about a SignedReceipt's size
	for w := range writers {
		wg.Go(func() {
			env := make([]byte, payload)
			rand.Read(env)
			for ctx.Err() == nil && l.Size() < uint64(entries) {
				id := uuid.Must(uuid.NewV7()).String()
				copy(env, id)
				m := ledger.Message{ID: id, Kind: ledgerv1.MessageKind_MESSAGE_KIND_ALERT, ThreadID: id, Envelope: env}
				var err error
				if w%2 == 0 {
					if _, err = l.AppendSent(ctx, m, 0); err == nil {
						_, err = l.AppendReceiptReceived(ctx, id, append([]byte(id), receipt...))
					}
				} else {
					_, err = l.AppendReceived(ctx, m, func(uint64, time.Time) ([]byte, error) {
						return append([]byte(id), receipt...), nil
					})
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	size := l.Size()
	if err := l.Close(); err != nil && firstErr == nil {
		firstErr = err
	}
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		return 0, 0, fmt.Errorf("bench: generating %s's ledger: %w", cfg.Agency, firstErr)
	}
	return size, time.Since(start), nil
}
