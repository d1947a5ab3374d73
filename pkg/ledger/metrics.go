package ledger

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	ledgerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/ledger/v1"
)

type metrics struct {
	appended   *prometheus.CounterVec
	bytes      prometheus.Counter
	batchSize  prometheus.Histogram
	commitTime prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, l *Ledger) *metrics {
	m := &metrics{
		appended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "focalpoint_ledger_entries_appended_total",
			Help: "Ledger entries appended by this process, by entry kind.",
		}, []string{"kind"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "focalpoint_ledger_appended_bytes_total",
			Help: "Bytes of entries and signed blobs appended by this process.",
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "focalpoint_ledger_commit_batch_writes",
			Help:    "Writes sharing one ledger transaction (group commit).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 11),
		}),
		commitTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "focalpoint_ledger_commit_duration_seconds",
			Help:    "Time to apply and fsync one ledger transaction.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 14),
		}),
	}
	if reg != nil {
		size := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "focalpoint_ledger_entries",
			Help: "Entries in the ledger.",
		}, func() float64 { return float64(l.Size()) })
		reg.MustRegister(m.appended, m.bytes, m.batchSize, m.commitTime, size)
	}
	return m
}

func (m *metrics) committed(w *writer, writes int, took time.Duration) {
	for kind, n := range w.appended {
		m.appended.WithLabelValues(KindName(kind)).Add(float64(n))
	}
	m.bytes.Add(float64(w.bytes))
	m.batchSize.Observe(float64(writes))
	m.commitTime.Observe(took.Seconds())
}

// KindName is an entry kind as people read it, e.g. "RECEIPT_ISSUED".
func KindName(k ledgerv1.EntryKind) string {
	const prefix = "ENTRY_KIND_"
	s := k.String()
	if len(s) > len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):]
	}
	return s
}
