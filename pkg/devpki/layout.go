package devpki

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"golang.org/x/mod/sumdb/note"
)

// ErrExists is returned by Write when a trust domain's directory already holds
// files, which may be keys someone relies on. Remove the directory, choose
// another one, or ask for the overwrite with WriteOptions.Force.
var ErrExists = errors.New("devpki: refusing to overwrite an existing PKI")

const (
	// caTTL is how long a development CA is valid.
	caTTL = 365 * 24 * time.Hour
	// svidTTL is how long a development SVID is valid. Thirty days is for
	// development only, so a dev layout survives a few weeks of work; SVIDs
	// that SPIRE issues in production live about an hour.
	svidTTL = 30 * 24 * time.Hour
	// skew backdates SVIDs so that machines whose clocks disagree a little
	// still accept them. It matches the CA's own backdating.
	skew = time.Hour
)

// Files in each trust domain's directory.
const (
	fileBundle      = "bundle.pem"
	fileNodeCert    = "node.pem"
	fileNodeKey     = "node.key"
	fileOfficerCert = "officer.pem"
	fileOfficerKey  = "officer.key"
	fileAuditorCert = "auditor.pem"
	fileAuditorKey  = "auditor.key"
	fileMessagesKey = "messages.key"
	fileMessagesVK  = "messages.vkey"
	fileLogKey      = "log.key"
	fileLogVK       = "log.vkey"
)

const (
	publicMode  fs.FileMode = 0o644
	privateMode fs.FileMode = 0o600
	// dirMode keeps a trust domain's directory, which holds private keys,
	// to its owner.
	dirMode fs.FileMode = 0o700
)

// NodeID returns spiffe://<td>/focalpoint/node, the SPIFFE ID of td's node.
// Like spiffeid.TrustDomain.ID, it returns the zero ID for the zero td.
func NodeID(td spiffeid.TrustDomain) spiffeid.ID { return workloadID(td, "node") }

// OfficerID returns spiffe://<td>/focalpoint/officer, the SPIFFE ID of a local
// officer client of td's node. It returns the zero ID for the zero td.
func OfficerID(td spiffeid.TrustDomain) spiffeid.ID { return workloadID(td, "officer") }

// AuditorID returns spiffe://<td>/focalpoint/auditor, the SPIFFE ID of a
// local auditor client of td's node. It returns the zero ID for the zero td.
func AuditorID(td spiffeid.TrustDomain) spiffeid.ID { return workloadID(td, "auditor") }

// LogKeyName returns "<td>/focalpoint/ledger", the name of the key that signs
// the node's checkpoints and cosigns the counterpart's: the ledger's origin.
func LogKeyName(td spiffeid.TrustDomain) string {
	return td.Name() + "/focalpoint/ledger"
}

// MessagesKeyName returns "<td>/focalpoint/messages", the signed-note key
// name of td's message-signing key.
func MessagesKeyName(td spiffeid.TrustDomain) string {
	return td.Name() + "/focalpoint/messages"
}

func workloadID(td spiffeid.TrustDomain, name string) spiffeid.ID {
	id, err := spiffeid.FromSegments(td, "focalpoint", name)
	if err != nil {
		// The segments are constants; only a zero td gets here.
		return spiffeid.ID{}
	}
	return id
}

// Node describes one agency's node for the dev layout.
type Node struct {
	// TrustDomain is the node's SPIFFE trust domain, such as imigrasi.go.id.
	TrustDomain spiffeid.TrustDomain
	// Agency is the agency's code, such as ID-DJI.
	Agency string
}

// Default returns the two nodes of the first link: imigrasi.go.id (agency
// "ID-DJI") and immigration.gov.kh (agency "KH-GDI").
func Default() []Node {
	return []Node{
		{TrustDomain: spiffeid.RequireTrustDomainFromString("imigrasi.go.id"), Agency: "ID-DJI"},
		{TrustDomain: spiffeid.RequireTrustDomainFromString("immigration.gov.kh"), Agency: "KH-GDI"},
	}
}

// Layout is what Write wrote.
type Layout struct {
	// Dir is the directory Write was given.
	Dir string
	// Nodes holds one entry per node, in the order Write was given them.
	Nodes []NodeLayout
}

// Lookup returns the entry for trust domain td.
func (l *Layout) Lookup(td spiffeid.TrustDomain) (NodeLayout, bool) {
	for _, n := range l.Nodes {
		if n.TrustDomain == td {
			return n, true
		}
	}
	return NodeLayout{}, false
}

// NodeLayout is one trust domain's part of a Layout. Paths are Layout.Dir
// joined with the trust domain's name and the file's name.
type NodeLayout struct {
	TrustDomain spiffeid.TrustDomain
	Agency      string

	// Dir is the trust domain's directory.
	Dir string
	// Bundle is the trust domain's CA certificates (PEM), for x509bundle.Load.
	Bundle string

	// NodeCert and NodeKey are the node's X.509-SVID (NodeID) for
	// x509svid.Load: the certificate chain in PEM, and the PKCS#8 private
	// key in PEM (mode 0600).
	NodeCert, NodeKey string
	// OfficerCert and OfficerKey are a local officer client's X.509-SVID
	// (OfficerID), in the same form.
	OfficerCert, OfficerKey string
	// AuditorCert and AuditorKey are a local auditor client's X.509-SVID
	// (AuditorID), in the same form.
	AuditorCert, AuditorKey string

	// MessagesKey is the path of the node's message-signing key: a
	// signed-note private key ("PRIVATE+KEY+...") and a newline, mode 0600.
	MessagesKey string
	// MessagesVerifierKey is the path of the public half: a signed-note
	// verifier key and a newline.
	MessagesVerifierKey string
	// MessagesVKey is the verifier key itself (without the newline), as
	// note.NewVerifier takes it; this is what the counterpart is given.
	MessagesVKey string

	// LogKey and LogVerifierKey are the paths of the node's log key, which
	// signs its checkpoints and cosigns the counterpart's, in the same forms;
	// LogVKey is the verifier key itself.
	LogKey, LogVerifierKey, LogVKey string

	NodeID, OfficerID, AuditorID spiffeid.ID
}

// WriteOptions changes how Write behaves.
type WriteOptions struct {
	// Force replaces the files of a trust domain whose directory already
	// holds files. Without it, Write refuses with ErrExists and writes
	// nothing. Other files in the directory are left alone.
	Force bool
}

// Write writes the dev PKI for nodes into dir and returns what it wrote. Each
// node gets its own CA, valid for a year, whose private key is not kept.
// Write refuses, before writing anything, if any node's directory already
// holds files; see WriteWithOptions to replace them.
func Write(dir string, nodes []Node, now time.Time) (*Layout, error) {
	return WriteWithOptions(dir, nodes, now, WriteOptions{})
}

// WriteWithOptions is Write with options.
func WriteWithOptions(dir string, nodes []Node, now time.Time, opts WriteOptions) (*Layout, error) {
	if dir == "" {
		return nil, errors.New("devpki: write: directory is required")
	}
	if err := checkNodes(nodes); err != nil {
		return nil, err
	}
	// Check every directory before writing any, so a refusal leaves the
	// disk as it was.
	if !opts.Force {
		for _, n := range nodes {
			if err := checkEmpty(filepath.Join(dir, n.TrustDomain.Name())); err != nil {
				return nil, err
			}
		}
	}
	// Make all the material before writing any, so that a failure here
	// leaves nothing half-written either.
	made := make([]material, len(nodes))
	for i, n := range nodes {
		m, err := makeMaterial(n, now)
		if err != nil {
			return nil, err
		}
		made[i] = m
	}
	layout := &Layout{Dir: dir, Nodes: make([]NodeLayout, len(nodes))}
	for i, n := range nodes {
		nl, err := writeMaterial(dir, n, made[i])
		if err != nil {
			return nil, err
		}
		layout.Nodes[i] = nl
	}
	return layout, nil
}

func checkNodes(nodes []Node) error {
	if len(nodes) == 0 {
		return errors.New("devpki: write: no nodes given")
	}
	seen := make(map[spiffeid.TrustDomain]bool, len(nodes))
	for i, n := range nodes {
		switch name := n.TrustDomain.Name(); {
		case n.TrustDomain.IsZero():
			return fmt.Errorf("devpki: write: node %d: trust domain is required", i)
		case name == "." || name == "..":
			// Valid trust domain characters, but not a directory of its own.
			return fmt.Errorf("devpki: write: node %d: trust domain %q cannot name a directory", i, name)
		case n.Agency == "":
			return fmt.Errorf("devpki: write: node %d (%s): agency is required", i, n.TrustDomain)
		case seen[n.TrustDomain]:
			return fmt.Errorf("devpki: write: trust domain %s is given twice", n.TrustDomain)
		}
		seen[n.TrustDomain] = true
	}
	return nil
}

// checkEmpty returns ErrExists if path is a directory with entries in it, or
// is something other than a directory.
func checkEmpty(path string) error {
	entries, err := os.ReadDir(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		if fi, statErr := os.Stat(path); statErr == nil && !fi.IsDir() {
			return fmt.Errorf("%w: %s exists and is not a directory", ErrExists, path)
		}
		return fmt.Errorf("devpki: write: %w", err)
	case len(entries) > 0:
		return fmt.Errorf("%w: %s already holds files; remove it, choose another directory, or ask to overwrite (Force)", ErrExists, path)
	}
	return nil
}

// material is one node's PKI in memory, encoded for disk.
type material struct {
	bundle            []byte
	certs, keys       [3][]byte // node, officer, auditor
	messagesKey, vkey string
	logKey, logVKey   string
}

func makeMaterial(n Node, now time.Time) (material, error) {
	var m material
	td := n.TrustDomain
	ca, err := NewCA(td, now, caTTL)
	if err != nil {
		return m, err
	}
	if m.bundle, err = ca.Bundle().Marshal(); err != nil {
		return m, fmt.Errorf("devpki: %s: marshal bundle: %w", td, err)
	}
	for i, id := range []spiffeid.ID{NodeID(td), OfficerID(td), AuditorID(td)} {
		svid, err := ca.IssueSVID(id, now.Add(-skew), now.Add(svidTTL))
		if err != nil {
			return m, err
		}
		if m.certs[i], m.keys[i], err = svid.Marshal(); err != nil {
			return m, fmt.Errorf("devpki: %s: marshal SVID: %w", id, err)
		}
	}
	if m.messagesKey, m.vkey, err = note.GenerateKey(rand.Reader, MessagesKeyName(td)); err != nil {
		return m, fmt.Errorf("devpki: %s: generate messages key: %w", td, err)
	}
	if m.logKey, m.logVKey, err = note.GenerateKey(rand.Reader, LogKeyName(td)); err != nil {
		return m, fmt.Errorf("devpki: %s: generate log key: %w", td, err)
	}
	return m, nil
}

func writeMaterial(dir string, n Node, m material) (NodeLayout, error) {
	td := n.TrustDomain
	tdDir := filepath.Join(dir, td.Name())
	at := func(name string) string { return filepath.Join(tdDir, name) }
	nl := NodeLayout{
		TrustDomain:         td,
		Agency:              n.Agency,
		Dir:                 tdDir,
		Bundle:              at(fileBundle),
		NodeCert:            at(fileNodeCert),
		NodeKey:             at(fileNodeKey),
		OfficerCert:         at(fileOfficerCert),
		OfficerKey:          at(fileOfficerKey),
		AuditorCert:         at(fileAuditorCert),
		AuditorKey:          at(fileAuditorKey),
		MessagesKey:         at(fileMessagesKey),
		MessagesVerifierKey: at(fileMessagesVK),
		MessagesVKey:        m.vkey,
		LogKey:              at(fileLogKey),
		LogVerifierKey:      at(fileLogVK),
		LogVKey:             m.logVKey,
		NodeID:              NodeID(td),
		OfficerID:           OfficerID(td),
		AuditorID:           AuditorID(td),
	}
	if err := os.MkdirAll(tdDir, dirMode); err != nil {
		return NodeLayout{}, fmt.Errorf("devpki: write: %w", err)
	}
	files := []struct {
		path string
		data []byte
		mode fs.FileMode
	}{
		{nl.Bundle, m.bundle, publicMode},
		{nl.NodeCert, m.certs[0], publicMode},
		{nl.NodeKey, m.keys[0], privateMode},
		{nl.OfficerCert, m.certs[1], publicMode},
		{nl.OfficerKey, m.keys[1], privateMode},
		{nl.AuditorCert, m.certs[2], publicMode},
		{nl.AuditorKey, m.keys[2], privateMode},
		{nl.MessagesKey, []byte(m.messagesKey + "\n"), privateMode},
		{nl.MessagesVerifierKey, []byte(m.vkey + "\n"), publicMode},
		{nl.LogKey, []byte(m.logKey + "\n"), privateMode},
		{nl.LogVerifierKey, []byte(m.logVKey + "\n"), publicMode},
	}
	for _, f := range files {
		if err := writeFile(f.path, f.data, f.mode); err != nil {
			return NodeLayout{}, err
		}
	}
	return nl, nil
}

// writeFile writes data to a temporary file beside path, flushes it and
// renames it over path, so that a reader sees the old file or the new one,
// never a part of either. The file has mode before any data reaches it.
func writeFile(path string, data []byte, mode fs.FileMode) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("devpki: write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(mode); err != nil {
		return fmt.Errorf("devpki: write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("devpki: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("devpki: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("devpki: write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("devpki: write %s: %w", path, err)
	}
	return nil
}
