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

	bolt "go.etcd.io/bbolt"
)

// rssFile is this process's resident memory mapped from files, in bytes.
func rssFile(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "RssFile:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
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

// The ledger's pages a node has read stop counting as its memory once
// released, and read back the same afterwards; the committer releases them by
// itself as the file grows.
func TestReleaseMappedPages(t *testing.T) {
	ctx := context.Background()
	l, _ := openTemp(t, Options{NoSync: true})
	if err := l.Init(ctx, testConfig()); err != nil {
		t.Fatal(err)
	}
	const n = 24_000 // about 24 MiB of envelopes, twelve times the release step
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
	if got := l.releases.Load(); got < 2 {
		t.Errorf("the committer released mapped pages %d times over %d MiB written, want at least 2", got, n>>10)
	}

	want := touchBlobs(t, l)
	mapped := rssFile(t)
	if err := l.releaseMapped(); err != nil {
		t.Fatal(err)
	}
	after := rssFile(t)
	if drop := mapped - after; drop < 16<<20 {
		t.Errorf("RssFile went from %d to %d KiB after release, want it at least 16 MiB lower", mapped>>10, after>>10)
	}
	if got := touchBlobs(t, l); !bytes.Equal(got, want) {
		t.Error("blobs read differently after their pages were released")
	}
}
