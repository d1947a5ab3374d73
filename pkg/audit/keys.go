package audit

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

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
	// RoleLog: a node's key for signed checkpoints of its ledger.
	RoleLog = "log"
	// RoleCosigner: a counterpart's key for cosignatures on checkpoints.
	RoleCosigner = "cosigner"
)

// Keys are the public keys an auditor trusts, as the agencies published them.
type Keys struct {
	// Messages verify envelopes and receipts; those of both agencies may be here,
	// and old keys beside new ones across a rotation.
	Messages []note.Verifier
	// Log and Cosigner are verifier keys for checkpoints and cosignatures, as
	// written in the file. They are kept for when ledgers carry checkpoints and
	// are not used yet.
	Log, Cosigner []string
}

// ParseKeys reads a published keys file: one key a line, each after its role,
//
//	# Direktorat Jenderal Imigrasi
//	messages imigrasi.go.id/focalpoint/messages+1a2b3c4d+AU2w…
//	log      imigrasi.go.id/focalpoint/log+5e6f7a8b+AcL3…
//
// Roles are messages, log and cosigner. Blank lines and lines starting with '#'
// are ignored, as is anything after a '#' that follows the key. At least one
// messages key is required. The same key twice counts once; two different
// keys with the same name and key hash are refused, since a signature could not
// say which of them made it.
func ParseKeys(r io.Reader) (*Keys, error) {
	var k Keys
	seen := make(map[string]bool) // vkeys
	byID := make(map[string]int)  // name+hash → line of the first key
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
		switch role {
		case RoleMessages:
			v, err := keys.ParseVerifier(vkey)
			if err != nil {
				return nil, fmt.Errorf("%w: line %d: messages key: %w", ErrBadKeys, n, err)
			}
			if seen[vkey] {
				continue
			}
			id := fmt.Sprintf("%s+%08x", v.Name(), v.KeyHash())
			if first, ok := byID[id]; ok {
				return nil, fmt.Errorf("%w: line %d: key %q has the name and key hash of the different key on line %d", ErrBadKeys, n, vkey, first)
			}
			seen[vkey] = true
			byID[id] = n
			k.Messages = append(k.Messages, v)
		case RoleLog, RoleCosigner:
			if err := checkKeySyntax(vkey); err != nil {
				return nil, fmt.Errorf("%w: line %d: %s key: %w", ErrBadKeys, n, role, err)
			}
			if role == RoleLog {
				k.Log = append(k.Log, vkey)
			} else {
				k.Cosigner = append(k.Cosigner, vkey)
			}
		default:
			return nil, fmt.Errorf("%w: line %d: unknown role %q (want %s, %s or %s)", ErrBadKeys, n, role, RoleMessages, RoleLog, RoleCosigner)
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

// checkKeySyntax checks the shape name+hash+base64 of a verifier key whose
// algorithm this package does not verify yet (a cosigner key is not an
// Ed25519 signed-note key in the sense of golang.org/x/mod/sumdb/note).
func checkKeySyntax(vkey string) error {
	name, rest, ok1 := strings.Cut(vkey, "+")
	hash, key, ok2 := strings.Cut(rest, "+")
	if !ok1 || !ok2 || name == "" {
		return fmt.Errorf("%q is not name+hash+key", vkey)
	}
	if len(hash) != 8 {
		return fmt.Errorf("%q: key hash %q is not 8 hex digits", vkey, hash)
	}
	if _, err := strconv.ParseUint(hash, 16, 32); err != nil {
		return fmt.Errorf("%q: key hash %q is not 8 hex digits", vkey, hash)
	}
	if raw, err := base64.StdEncoding.DecodeString(key); err != nil || len(raw) < 2 {
		return fmt.Errorf("%q: key is not base64 of an algorithm byte and a public key", vkey)
	}
	return nil
}
