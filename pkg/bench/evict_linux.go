package bench

import (
	"os"
	"syscall"
)

// evict writes a file's pages and drops them from the page cache, so that a
// node opening it next reads from the disk, as after a reboot, and maps only
// what it reads. It touches no other file's cache.
func evict(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return err
	}
	const fadvDontNeed = 4 // POSIX_FADV_DONTNEED
	if _, _, errno := syscall.Syscall6(syscall.SYS_FADVISE64, f.Fd(), 0, 0, fadvDontNeed, 0, 0); errno != 0 {
		return errno
	}
	return nil
}
