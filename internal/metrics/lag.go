package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ConsumerLag is the gauge mailtriage_consumer_lag_records{topic,partition}:
// the records between a consumer's position and the partition's high
// watermark, as of the consumer's last fetch from that partition.
type ConsumerLag struct {
	gauge *prometheus.GaugeVec
}

// NewConsumerLag registers the consumer lag gauge on reg.
func NewConsumerLag(reg *Registry) *ConsumerLag {
	return &ConsumerLag{gauge: register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace,
		Name:      "consumer_lag_records",
		Help:      "Records between the consumer's position and the partition's high watermark, as of the last fetch that returned records from the partition.",
	}, []string{"topic", "partition"}))}
}

// Observe sets the lag of every partition in fetches that returned
// records: the high watermark minus the offset after the last record.
//
// NOTE: a transaction marker after the last record also counts, so a
// consumer of a transactional topic that has caught up can show a lag of
// 1. A partition that returns no records keeps its last value, so a
// consumer that stopped polling shows its lag at the time it stopped.
func (l *ConsumerLag) Observe(fetches kgo.Fetches) {
	if l == nil {
		return
	}
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if len(p.Records) == 0 {
			return
		}
		next := p.Records[len(p.Records)-1].Offset + 1
		lag := max(p.HighWatermark-next, 0)
		l.gauge.WithLabelValues(p.Topic, strconv.FormatInt(int64(p.Partition), 10)).Set(float64(lag))
	})
}
