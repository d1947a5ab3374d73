package identity

import (
	"net"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/credentials"
)

// Metrics of a node's transport identity.
type Metrics struct {
	handshakeFailures *prometheus.CounterVec
}

// NewMetrics registers the identity metrics of src on reg (if not nil).
func NewMetrics(reg prometheus.Registerer, src Source) *Metrics {
	m := &Metrics{
		handshakeFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "focalpoint_identity_handshake_failures_total",
			Help: "TLS handshakes refused by a server of this node (no, expired or untrusted certificate, or a SPIFFE ID not admitted), by API.",
		}, []string{"api"}),
	}
	if reg != nil {
		expiry := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "focalpoint_identity_svid_expiry_timestamp_seconds",
			Help: "When the node's current X.509-SVID expires, in Unix seconds.",
		}, func() float64 {
			t, err := Expiry(src)
			if err != nil {
				return 0
			}
			return float64(t.Unix())
		})
		reg.MustRegister(m.handshakeFailures, expiry)
	}
	return m
}

// CountFailures wraps server credentials so that every refused handshake is
// counted under api: a spike means someone is knocking on the door.
func (m *Metrics) CountFailures(api string, c credentials.TransportCredentials) credentials.TransportCredentials {
	m.handshakeFailures.WithLabelValues(api) // present at 0 from the start
	return failureCounting{TransportCredentials: c, failed: m.handshakeFailures.WithLabelValues(api)}
}

type failureCounting struct {
	credentials.TransportCredentials
	failed prometheus.Counter
}

func (f failureCounting) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	c, info, err := f.TransportCredentials.ServerHandshake(conn)
	if err != nil {
		f.failed.Inc()
	}
	return c, info, err
}

func (f failureCounting) Clone() credentials.TransportCredentials {
	return failureCounting{TransportCredentials: f.TransportCredentials.Clone(), failed: f.failed}
}
