package exchange

import "github.com/prometheus/client_golang/prometheus"

// Metrics of the exchange, shared by its Sender and Receiver.
type Metrics struct {
	sent      *prometheus.CounterVec
	received  *prometheus.CounterVec
	refused   *prometheus.CounterVec
	replayed  prometheus.Counter
	attempts  *prometheus.CounterVec
	roundTrip prometheus.Histogram
}

// NewMetrics makes the exchange's metrics and registers them on reg, if not nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "focalpoint_exchange_messages_sent_total",
			Help: "Messages signed, ledgered and queued for the counterpart, by message kind.",
		}, []string{"kind"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "focalpoint_exchange_messages_received_total",
			Help: "Messages accepted from the counterpart and receipted, by message kind.",
		}, []string{"kind"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "focalpoint_exchange_messages_refused_total",
			Help: "Messages refused, at the peer API or at submission, by reason.",
		}, []string{"reason"}),
		replayed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "focalpoint_exchange_messages_replayed_total",
			Help: "Deliveries of messages already received, answered with the original receipt.",
		}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "focalpoint_exchange_delivery_attempts_total",
			Help: "Delivery attempts to the counterpart, by result (receipted, unavailable, refused).",
		}, []string{"result"}),
		roundTrip: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "focalpoint_exchange_roundtrip_seconds",
			Help:    "Time from a message's acceptance to its receipt being ledgered.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 16),
		}),
	}
	if reg != nil {
		reg.MustRegister(m.sent, m.received, m.refused, m.replayed, m.attempts, m.roundTrip)
	}
	return m
}
