package runner

import "github.com/twmb/franz-go/pkg/kgo"

// partitioner keeps the partition set on changelog records, which must land
// on the partition numbered like their input partition, and hashes the key
// of every other record as the Java client does.
type partitioner struct {
	changelog string
	manual    kgo.Partitioner
	keyed     kgo.Partitioner
}

func newPartitioner(changelogTopic string) kgo.Partitioner {
	return partitioner{
		changelog: changelogTopic,
		manual:    kgo.ManualPartitioner(),
		keyed:     kgo.StickyKeyPartitioner(nil),
	}
}

// ForTopic returns the partitioner of topic.
func (p partitioner) ForTopic(topic string) kgo.TopicPartitioner {
	if topic == p.changelog {
		return p.manual.ForTopic(topic)
	}
	return p.keyed.ForTopic(topic)
}
