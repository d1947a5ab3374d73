package demo

import (
	"path/filepath"
	"time"

	"github.com/focalpoint-gateway/focalpoint/pkg/config"
	"github.com/focalpoint-gateway/focalpoint/pkg/devpki"
)

// writeConfig writes a node config like deploy/dev's, pointing at the demo's
// own PKI, and returns its path, so the demo loads its configs like any node.
func writeConfig(dir string, me, other devpki.NodeLayout, listen, otherAddr string) (string, error) {
	path := filepath.Join(dir, me.TrustDomain.Name()+".yaml")
	return path, config.Write(path, DevConfig(dir, me, other, listen, otherAddr))
}

// DevConfig is the configuration of one node of a dev layout: identities and
// keys from the layout, state in dir/state/<trust domain>, quick retries.
func DevConfig(dir string, me, other devpki.NodeLayout, listen, otherAddr string) *config.File {
	return &config.File{
		Node: config.NodeFile{
			Agency:      me.Agency,
			SpiffeID:    me.NodeID.String(),
			StateDir:    filepath.Join(dir, "state", me.TrustDomain.Name()),
			MessagesKey: me.MessagesKey,
			LogKey:      me.LogKey,
		},
		Identity: config.IdentityFile{SVIDCert: me.NodeCert, SVIDKey: me.NodeKey, Bundle: me.Bundle},
		Counterpart: config.CounterpartFile{
			Agency:      other.Agency,
			SpiffeID:    other.NodeID.String(),
			Address:     otherAddr,
			Bundle:      other.Bundle,
			MessagesKey: other.MessagesVerifierKey,
			LogKey:      other.LogVerifierKey,
		},
		Peer: config.PeerFile{Listen: listen},
		Delivery: config.DeliveryFile{
			InitialBackoff: config.Duration(50 * time.Millisecond),
			MaxBackoff:     config.Duration(2 * time.Second),
		},
	}
}
