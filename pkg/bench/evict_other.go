//go:build !linux

package bench

// evict does nothing where the page cache cannot be dropped per file: the
// node then starts from a warm cache.
func evict(string) error { return nil }
