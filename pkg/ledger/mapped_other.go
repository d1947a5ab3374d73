//go:build !linux

package ledger

import "errors"

// releaseMapped does nothing where the kernel is not known to keep the pages
// cached after their mapping is dropped.
func (l *Ledger) releaseMapped() error { return nil }

// residentFileBytes is not measured here, so nothing is ever released.
func residentFileBytes() (int64, error) { return 0, errors.ErrUnsupported }
