package exchange

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/focalpoint-gateway/focalpoint/pkg/ledger"
)

// Metrics of the exchange, shared by its Sender and Receiver.
type Metrics struct {
	sent      *prometheus.CounterVec
	received  *prometheus.CounterVec
	refused   *prometheus.CounterVec
	replayed  prometheus.Counter
	attempts  *prometheus.CounterVec
	roundTrip prometheus.Histogram
	peerUp    prometheus.Gauge

	cosigns      *prometheus.CounterVec
	cosignedSize prometheus.Gauge
	cosignedTime prometheus.Gauge
	witnessed    prometheus.Gauge
	forks        prometheus.Counter
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
		peerUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "focalpoint_exchange_peer_up",
			Help: "1 when the last delivery attempt reached the counterpart (or none was needed), 0 while the link is down.",
		}),
	}
	m.cosigns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "focalpoint_tlog_cosign_requests_total",
		Help: "Requests to the counterpart to cosign this node's latest checkpoint, by result (cosigned, failed).",
	}, []string{"result"})
	m.cosignedSize = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "focalpoint_tlog_latest_cosigned_size",
		Help: "Tree size of the newest checkpoint of this node's ledger that the counterpart cosigned.",
	})
	m.cosignedTime = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "focalpoint_tlog_latest_cosigned_timestamp_seconds",
		Help: "When the counterpart last cosigned a checkpoint of this node's ledger, in Unix seconds.",
	})
	m.witnessed = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "focalpoint_tlog_latest_witnessed_size",
		Help: "Tree size of the newest checkpoint of the counterpart's ledger that this node cosigned.",
	})
	m.forks = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "focalpoint_tlog_forks_detected_total",
		Help: "Checkpoints of the counterpart refused because they contradict one this node cosigned: a rewritten or rolled-back ledger.",
	})
	m.peerUp.Set(1)
	if reg != nil {
		reg.MustRegister(m.sent, m.received, m.refused, m.replayed, m.attempts, m.roundTrip, m.peerUp,
			m.cosigns, m.cosignedSize, m.cosignedTime, m.witnessed, m.forks)
	}
	return m
}

// RegisterOutbox registers gauges of l's outbox on reg: how many messages wait
// and how long the oldest has waited.
func RegisterOutbox(reg prometheus.Registerer, l *ledger.Ledger, now func() time.Time) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "focalpoint_exchange_outbox_messages",
			Help: "Sent messages waiting for the counterpart's receipt.",
		}, func() float64 { return float64(l.OutboxLen()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "focalpoint_exchange_outbox_oldest_age_seconds",
			Help: "How long the oldest message in the outbox has waited; 0 when it is empty.",
		}, func() float64 {
			rows, err := l.Outbox(0, 1)
			if err != nil || len(rows) == 0 {
				return 0
			}
			return now().Sub(rows[0].AcceptedAt).Seconds()
		}),
	)
}

// RegisterRequests registers a gauge of the alerts and referrals past their
// answer deadline and still unanswered, by who owes the answer.
func RegisterRequests(reg prometheus.Registerer, l *ledger.Ledger, now func() time.Time) {
	overdue := func(outbound bool) func() float64 {
		return func() float64 {
			here, there, err := l.Overdue(now())
			if err != nil {
				return 0
			}
			if outbound {
				return float64(there)
			}
			return float64(here)
		}
	}
	const name, help = "focalpoint_exchange_requests_overdue", "Alerts and referrals past their answer deadline and not yet answered, by who owes the answer (us: received here; counterpart: sent from here)."
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: prometheus.Labels{"owed_by": "us"}}, overdue(false)),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: prometheus.Labels{"owed_by": "counterpart"}}, overdue(true)),
	)
}
