package ledger

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// mappedRSS is how much of the file at path this process holds resident
// through its mappings, from /proc/self/smaps.
func mappedRSS(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var kb int64
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) > 0 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			in = len(fields) >= 6 && fields[len(fields)-1] == path
			continue
		}
		if v, ok := strings.CutPrefix(line, "Rss:"); ok && in {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			kb += n
		}
	}
	return kb << 10
}

// touchBlobs reads every blob through the map and returns a digest of them.
func touchBlobs(t *testing.T, l *Ledger) []byte {
	t.Helper()
	var all bytes.Buffer
	err := l.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketBlobs).ForEach(func(k, v []byte) error {
			all.WriteByte(v[0] ^ v[len(v)-1])
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return all.Bytes()
}

// The ledger's pages a node has read stop counting as its memory: the
// committer sees them mapped and releases them by itself, and they read back
// the same afterwards.
func TestReleaseMappedPages(t *testing.T) {
	ctx := context.Background()
	l, path := openTemp(t, Options{NoSync: true})
	if err := l.Init(ctx, testConfig()); err != nil {
		t.Fatal(err)
	}
	const n = 24_000 // about 24 MiB of envelopes, six release steps
	pad := bytes.Repeat([]byte{'x'}, 1000)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 64 {
		wg.Go(func() {
			for i := w; i < n; i += 64 {
				m := msg(i)
				m.Envelope = append([]byte(fmt.Sprintf("envelope %d ", i)), pad...)
				if _, err := l.AppendSent(ctx, m, 0); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// Read everything: without releases, the whole file stays mapped.
	want := touchBlobs(t, l)
	deadline := time.Now().Add(2 * time.Second)
	for mappedRSS(t, path) > 2*releaseStep && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := mappedRSS(t, path); got > 2*releaseStep {
		t.Fatalf("%d KiB of the ledger stay mapped after reading all of it, want at most %d", got>>10, 2*releaseStep>>10)
	}
	if l.releases.Load() == 0 {
		t.Error("no release counted")
	}
	if got := touchBlobs(t, l); !bytes.Equal(got, want) {
		t.Error("blobs read differently after their pages were released")
	}
}
