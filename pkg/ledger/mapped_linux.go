package ledger

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"unsafe"

	bolt "go.etcd.io/bbolt"
)

// releaseMapped drops this process's mappings of the file's pages.
//
// bbolt reads through a shared memory map, so every page the node has read
// (and, through fault-around, its cached neighbours) counts in the node's
// resident set until it is unmapped, although the pages are clean and the page
// cache keeps them whether mapped or not. A node that appends to and reads
// from a large ledger for days would show most of the file as its own memory,
// and an operator sizing it by RSS would be misled. MADV_DONTNEED on a shared
// file mapping removes only the page-table entries: the data stays in the page
// cache, and the next read maps it again without I/O.
func (l *Ledger) releaseMapped() error {
	return l.db.View(func(tx *bolt.Tx) error {
		// While a read transaction is open bbolt cannot remap the file, so the
		// range advised is the one mapped.
		size := tx.Size()
		if size == 0 {
			return nil
		}
		info := l.db.Info()
		// Data is the map's address as a uintptr; read it as a pointer without
		// converting an integer (which vet rightly distrusts).
		base := *(*unsafe.Pointer)(unsafe.Pointer(&info.Data))
		if err := syscall.Madvise(unsafe.Slice((*byte)(base), size), syscall.MADV_DONTNEED); err != nil {
			return fmt.Errorf("ledger: release mapped pages: %w", err)
		}
		return nil
	})
}

// residentFileBytes is how much of this process's resident memory is mapped
// from files (the binary's pages and the ledger's): the third field of
// /proc/self/statm, in pages.
func residentFileBytes() (int64, error) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, fmt.Errorf("ledger: %w", err)
	}
	f := bytes.Fields(b)
	if len(f) < 3 {
		return 0, fmt.Errorf("ledger: /proc/self/statm: %q", b)
	}
	pages, err := strconv.ParseInt(string(f[2]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("ledger: /proc/self/statm: %w", err)
	}
	return pages * int64(os.Getpagesize()), nil
}
