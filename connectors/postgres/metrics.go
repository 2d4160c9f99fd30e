package postgres

// observeBatch adds a committed batch of records polled records, with
// what it wrote, to the sink's metrics.
func (s *Sink) observeBatch(records int, res batchResult) {
	m := s.cfg.Metrics
	if m == nil {
		return
	}
	m.Records(records - res.markers)
	for _, at := range res.receivedAt {
		m.Delivered(at)
	}
	m.Skipped("replayed", res.skipped)
	m.DeadLetters(res.deadLetters)
}
