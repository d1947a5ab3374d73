package audit

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/focalpoint-gateway/focalpoint/pkg/keys"
)

// ErrBadKeys is returned for a published keys file that cannot be read as one:
// fix the named line.
var ErrBadKeys = errors.New("audit: bad keys file")

// Roles of a published keys file.
const (
	// RoleMessages: a node's key for envelopes and receipts.
	RoleMessages = "messages"
	// RoleLog: a node's key for signed checkpoints of its ledger, named after
	// the ledger. In its cosignature/v1 form the same key cosigns the
	// counterpart's checkpoints, so a log line also trusts that form.
	RoleLog = "log"
	// RoleCosigner: a node's key for cosignatures (C2SP tlog-cosignature/v1)
	// on the counterpart's checkpoints, in its cosignature/v1 (0x04) form; the
	// plain (0x01) form of the same key is accepted too.
	RoleCosigner = "cosigner"
)

// Keys are the public keys an auditor trusts, as the agencies published them.
type Keys struct {
	// Messages verify envelopes and receipts; those of both agencies may be here,
	// and old keys beside new ones across a rotation.
	Messages []note.Verifier
	// Log verify the checkpoints each node signs of its own ledger.
	Log []note.Verifier
	// Cosigner verify the cosignatures each node puts on the other's
	// checkpoints: those given as cosigner keys and the cosignature/v1 form of
	// every log key.
	Cosigner []note.Verifier
}

// ParseKeys reads a published keys file: one key a line, each after its role,
//
//	# Direktorat Jenderal Imigrasi
//	log      imigrasi.go.id/focalpoint/ledger+5e6f7a8b+AcL3…
//	cosigner imigrasi.go.id/focalpoint/ledger+0c1d2e3f+BMl3…
//	messages imigrasi.go.id/focalpoint/messages+1a2b3c4d+AU2w…
//
// as `focalpoint keys show` prints them. Roles are messages, log and
// cosigner. Blank lines and lines starting with '#' are ignored, as is
// anything after a '#' that follows the key. At least one messages key is
// required. The same key twice counts once; two different keys with the same
// name and key hash are refused, since a signature could not say which of
// them made it.
func ParseKeys(r io.Reader) (*Keys, error) {
	var k Keys
	seen := make(map[string]bool)   // vkeys, in the form verified
	byID := make(map[string]string) // role+name+hash → "line N" of the first key
	add := func(role string, n int, vkey string, v note.Verifier, into *[]note.Verifier) error {
		if seen[vkey] {
			return nil
		}
		id := fmt.Sprintf("%s %s+%08x", role, v.Name(), v.KeyHash())
		if first, ok := byID[id]; ok {
			return fmt.Errorf("%w: line %d: key %q has the name and key hash of the different key on %s", ErrBadKeys, n, vkey, first)
		}
		seen[vkey] = true
		byID[id] = fmt.Sprintf("line %d", n)
		*into = append(*into, v)
		return nil
	}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) > 2 && strings.HasPrefix(f[2], "#") {
			f = f[:2]
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("%w: line %d: want \"<role> <verifier key>\", got %d fields", ErrBadKeys, n, len(f))
		}
		role, vkey := f[0], f[1]
		var err error
		switch role {
		case RoleMessages, RoleLog:
			v, perr := keys.ParseVerifier(vkey)
			if perr != nil {
				return nil, fmt.Errorf("%w: line %d: %s key: %w", ErrBadKeys, n, role, perr)
			}
			if role == RoleMessages {
				err = add(role, n, vkey, v, &k.Messages)
				break
			}
			if err = add(role, n, vkey, v, &k.Log); err != nil {
				break
			}
			cvkey, cv, cerr := CosignerKey(vkey)
			if cerr != nil {
				return nil, fmt.Errorf("%w: line %d: log key: %w", ErrBadKeys, n, cerr)
			}
			err = add(RoleCosigner, n, cvkey, cv, &k.Cosigner)
		case RoleCosigner:
			cvkey, cv, cerr := CosignerKey(vkey)
			if cerr != nil {
				return nil, fmt.Errorf("%w: line %d: cosigner key: %w", ErrBadKeys, n, cerr)
			}
			err = add(role, n, cvkey, cv, &k.Cosigner)
		default:
			return nil, fmt.Errorf("%w: line %d: unknown role %q (want %s, %s or %s)", ErrBadKeys, n, role, RoleMessages, RoleLog, RoleCosigner)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("audit: read keys: %w", err)
	}
	if len(k.Messages) == 0 {
		return nil, fmt.Errorf("%w: no %s key", ErrBadKeys, RoleMessages)
	}
	return &k, nil
}

// LoadKeys reads a published keys file from path.
func LoadKeys(path string) (*Keys, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("audit: keys: %w", err)
	}
	defer f.Close()
	k, err := ParseKeys(f)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return k, nil
}

// CosignerKey takes an Ed25519 verifier key in its plain (0x01) or its
// cosignature/v1 (0x04) form and returns the cosignature/v1 form and a
// verifier of cosignatures by it. Unlike formats' own parser it also checks
// the key hash the string declares, as golang.org/x/mod/sumdb/note does for
// plain keys.
func CosignerKey(vkey string) (string, note.Verifier, error) {
	name, rest, _ := strings.Cut(strings.TrimSpace(vkey), "+")
	hash, key64, _ := strings.Cut(rest, "+")
	raw, err := base64.StdEncoding.DecodeString(key64)
	if name == "" || len(hash) != 8 || err != nil || len(raw) == 0 {
		return "", nil, fmt.Errorf("%w: %q is not name+hash+base64 key", keys.ErrBadKey, vkey)
	}
	cvkey := strings.TrimSpace(vkey)
	switch raw[0] {
	case 0x01:
		if _, err := keys.ParseVerifier(vkey); err != nil { // checks the declared hash
			return "", nil, err
		}
		if cvkey, err = fnote.VKeyToCosignatureV1(cvkey); err != nil {
			return "", nil, fmt.Errorf("%w: %q: %w", keys.ErrBadKey, vkey, err)
		}
	case 0x04:
	default:
		return "", nil, fmt.Errorf("%w: %q is not an Ed25519 key (algorithm %#x)", keys.ErrBadKey, vkey, raw[0])
	}
	v, err := keys.CosignerVerifier(cvkey)
	if err != nil {
		return "", nil, err
	}
	_, rest, _ = strings.Cut(cvkey, "+")
	if hash, _, _ = strings.Cut(rest, "+"); hash != fmt.Sprintf("%08x", v.KeyHash()) {
		return "", nil, fmt.Errorf("%w: %q: key hash %s does not match the key (%08x)", keys.ErrBadKey, vkey, hash, v.KeyHash())
	}
	return cvkey, v, nil
}
