package demo

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/focalpoint-gateway/focalpoint/pkg/devpki"
)

// writeConfig writes a node config like deploy/dev's, pointing at the demo's
// own PKI, and returns its path. It goes through config.Load like any other.
func writeConfig(dir string, me, other devpki.NodeLayout, listen, otherAddr string) (string, error) {
	name := me.TrustDomain.Name()
	text := fmt.Sprintf(`node:
  agency: %s
  spiffe_id: %s
  state_dir: state/%s
  messages_key: %s
identity:
  svid_cert: %s
  svid_key: %s
  bundle: %s
counterpart:
  agency: %s
  spiffe_id: %s
  address: %s
  bundle: %s
  messages_key: %s
peer:
  listen: %s
delivery:
  initial_backoff: 50ms
  max_backoff: 2s
`, me.Agency, me.NodeID, name, me.MessagesKey, me.NodeCert, me.NodeKey, me.Bundle,
		other.Agency, other.NodeID, otherAddr, other.Bundle, other.MessagesVerifierKey, listen)
	path := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		return "", fmt.Errorf("demo: write config: %w", err)
	}
	return path, nil
}
