package mime

import (
	"context"
	"os"
	"testing"
	"time"

	"mailtriage/connectors/files"
	"mailtriage/schemas"
)

// loadCorpusItems reads every message that a folder import reads from the
// corpus (the selection `make bench` checks its targets on), or skips the
// benchmark when the shared corpus is missing.
func loadCorpusItems(b *testing.B) ([][]byte, int64) {
	b.Helper()
	if _, err := os.Stat(corpusDir); os.IsNotExist(err) {
		b.Skipf("corpus folder %s not found; check out the shared folder beside the repository to run this benchmark", corpusDir)
	}

	var messages [][]byte
	var total int64
	err := files.Walk(context.Background(), []string{corpusDir}, func(item files.Item) error {
		messages = append(messages, item.Raw)
		total += int64(len(item.Raw))
		return nil
	})
	if err != nil {
		b.Fatalf("reading corpus %s: %v", corpusDir, err)
	}
	if len(messages) == 0 {
		b.Fatalf("corpus %s contains no message", corpusDir)
	}
	return messages, total
}

// BenchmarkParseCorpus parses the whole corpus once per iteration. The
// MB/s figure counts raw message bytes, as `make bench` does.
func BenchmarkParseCorpus(b *testing.B) {
	messages, total := loadCorpusItems(b)
	opts := Options{Tenant: "bench", Source: schemas.SourceImport, ReceivedAt: time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)}

	b.SetBytes(total)
	b.ReportAllocs()
	for b.Loop() {
		for _, raw := range messages {
			_, _ = Parse(raw, opts)
		}
	}
	b.ReportMetric(float64(len(messages)), "messages/op")
}
