package poller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/testenv"
	"mailtriage/topics"
)

// realPartitions is the partition count of the topology's topics in the
// tests that share the local broker, such as the end-to-end tests.
const realPartitions = 3

// On the local Kafka 4.4 broker, a poller killed before committing page 2
// is replaced by a new one, and the read_committed view holds every item
// of the API once.
func TestPollerCrashOnRealBroker(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	ensureRealTopics(t, brokers)
	tenant := fmt.Sprintf("poll-it-%d", time.Now().UnixNano())
	from := endOffsets(t, brokers, topics.Inbound)

	api, srv := newFakeAPI(t, threePages())
	cfg := testConfig(t, brokers, srv.URL+"/v1/messages")
	cfg.Tenant = tenant

	first := newPoller(t, cfg)
	first.beforeCommit = func(page int64) error {
		if page == 2 {
			return errors.New("process killed")
		}
		return nil
	}
	if err := runPoller(t, first); !errors.Is(err, errSimulatedCrash) {
		t.Fatalf("first Run returned %v, expected the simulated crash", err)
	}
	second := newPoller(t, cfg)
	if err := runPoller(t, second); err != nil {
		t.Fatalf("second Run: %v", err)
	}

	var want []string
	for _, key := range allKeys {
		want = append(want, tenant+strings.TrimPrefix(key, "acme"))
	}
	if got := sortedKeys(t, brokers, topics.Inbound, tenant+"/", from, true); !slices.Equal(got, want) {
		t.Errorf("read_committed inbound keys %v, expected each of %v once", got, want)
	}
	if n := len(keysWithPrefix(readTopic(t, brokers, topics.Inbound, from, false), tenant+"/")); n != len(want)+3 {
		t.Errorf("read_uncommitted inbound holds %d records of the tenant, expected %d including page 2's aborted copies", n, len(want)+3)
	}
	if got := afters(api.log()); !slices.Equal(got, []string{"", "c1", "c1", "c2"}) {
		t.Errorf("requests asked for after=%q, expected \"\", c1, c1 again after the restart, c2", got)
	}
	if state := lastCursor(t, brokers, second.key); state.Cursor != "c3" || state.Pages != 3 {
		t.Errorf("committed cursor %+v, expected c3 after 3 pages", state)
	}
}

// ensureRealTopics creates the topology's topics on the shared broker as
// the other integration tests do, and checks existing ones.
func ensureRealTopics(t *testing.T, brokers []string) {
	t.Helper()
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := topics.Ensure(ctx, kadm.NewClient(client), topics.Specs(realPartitions, 1)); err != nil {
		t.Fatalf("creating the topics on %v: %v", brokers, err)
	}
}
