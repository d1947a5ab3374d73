package identity

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// DefaultReloadInterval is how often watched identity files are checked for
// changes. SVIDs live about an hour and are renewed at half-life, so a few
// seconds is prompt; a stat of three files every few seconds costs nothing.
const DefaultReloadInterval = 5 * time.Second

// fileStamp says what a set of files looked like: size, modification time and
// inode of each (so an atomic rename is seen even within one mtime tick).
//
// Polling rather than inotify: it needs no dependency, works on every
// filesystem (including network mounts and Kubernetes secret volumes, whose
// symlink swaps inotify reports awkwardly), and a few seconds' delay is
// nothing against an SVID's hour.
type fileStamp string

func stampFiles(paths ...string) fileStamp {
	var b strings.Builder
	for _, p := range paths {
		fi, err := os.Stat(p) // follows symlinks, so a swapped link target counts
		if err != nil {
			fmt.Fprintf(&b, "%s:missing;", p)
			continue
		}
		var ino uint64
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			ino = st.Ino
		}
		fmt.Fprintf(&b, "%s:%d:%d:%d;", p, fi.Size(), fi.ModTime().UnixNano(), ino)
	}
	return fileStamp(b.String())
}

// watchFiles calls check every interval until ctx ends.
func watchFiles(ctx context.Context, interval time.Duration, check func()) {
	if interval <= 0 {
		interval = DefaultReloadInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			check()
		}
	}
}

// BundleFile serves one trust domain's bundle from a PEM file, for a node
// whose own SVID comes from elsewhere (the Workload API) but whose
// counterpart's bundle is handed over as a file. Watch reloads it.
type BundleFile struct {
	td   spiffeid.TrustDomain
	path string

	mu     sync.RWMutex
	bundle *x509bundle.Bundle
	seen   fileStamp
}

var _ x509bundle.Source = (*BundleFile)(nil)

// LoadBundleFile reads td's bundle from path.
func LoadBundleFile(td spiffeid.TrustDomain, path string) (*BundleFile, error) {
	b := &BundleFile{td: td, path: path}
	if err := b.Reload(); err != nil {
		return nil, err
	}
	return b, nil
}

// Reload re-reads the file. On error the previous bundle stays in use.
func (b *BundleFile) Reload() error {
	stamp := stampFiles(b.path)
	bundle, err := loadBundle(b.td, b.path)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seen = stamp
	if err != nil {
		return err
	}
	b.bundle = bundle
	return nil
}

// Watch checks the file every interval and reloads it when it changed, until
// ctx ends; a failed reload is logged and the previous bundle kept.
func (b *BundleFile) Watch(ctx context.Context, interval time.Duration, log *slog.Logger) {
	watchFiles(ctx, interval, func() {
		b.mu.RLock()
		seen := b.seen
		b.mu.RUnlock()
		if stampFiles(b.path) == seen {
			return
		}
		if err := b.Reload(); err != nil {
			logger(log).Error("identity: reloading a bundle file failed; the previous bundle stays in use",
				"trust_domain", b.td.String(), "path", b.path, "error", err)
			return
		}
		logger(log).Info("identity: reloaded a bundle file", "trust_domain", b.td.String(), "path", b.path)
	})
}

// GetX509BundleForTrustDomain returns the bundle if td is the file's trust
// domain.
func (b *BundleFile) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	if td != b.td {
		return nil, fmt.Errorf("%w: %s (the bundle file %s is for %s)", ErrUntrusted, td, b.path, b.td)
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.bundle, nil
}

// loadBundle reads td's bundle from path, refusing a file without CA
// certificates: an empty bundle would make every handshake fail.
func loadBundle(td spiffeid.TrustDomain, path string) (*x509bundle.Bundle, error) {
	b, err := x509bundle.Load(td, path)
	if err != nil {
		return nil, fmt.Errorf("identity: load bundle of %s: %w", td, err)
	}
	if b.Empty() {
		return nil, fmt.Errorf("identity: load bundle of %s: %s holds no CA certificates", td, path)
	}
	return b, nil
}

// serial is an SVID leaf's serial number in hex, for logs; "" for nil.
func serial(svid *x509svid.SVID) string {
	if svid == nil || len(svid.Certificates) == 0 {
		return ""
	}
	return svid.Certificates[0].SerialNumber.Text(16)
}

// logger turns a nil logger into one that discards.
func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
