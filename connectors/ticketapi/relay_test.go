package ticketapi

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/testenv"
	"mailtriage/schemas"
)

func TestRelayProducesReplyOnce(t *testing.T) {
	env := newAPIEnv(t)
	brokers := testenv.KafkaBrokers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	r := env.call(t, http.MethodPost, "/v1/tickets/"+refInvoice+"/replies", env.tokens["helpdesk"], `{"text":"Done."}`)
	expectStatus(t, r, http.StatusCreated)

	suffix := randomHex(t, 4)
	topic, eventsTopic := "mailtriage.test.outbound."+suffix, "mailtriage.test.ticket-events."+suffix
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatalf("creating the Kafka client: %v", err)
	}
	defer client.Close()
	admin := kadm.NewClient(client)
	if _, err := admin.CreateTopics(ctx, 1, 1, nil, topic, eventsTopic); err != nil {
		t.Fatalf("creating topics %s and %s: %v", topic, eventsTopic, err)
	}
	t.Cleanup(func() { _, _ = admin.DeleteTopics(context.Background(), topic, eventsTopic) })
	// Both records go to topics of the test, so the shared stack's
	// topics see nothing of it.
	const retarget = `UPDATE api_outbox SET topic = CASE topic WHEN 'test.outbound' THEN $1 ELSE $2 END`
	if _, err := env.pool.Exec(ctx, retarget, topic, eventsTopic); err != nil {
		t.Fatalf("pointing the outbox at the test topics: %v", err)
	}

	relay := NewOutboxRelay(env.pool, client, nil)
	sent, err := relay.Drain(ctx)
	if err != nil || sent != 2 {
		t.Fatalf("Drain = %d, %v; expected 2 records (the command and the ticket event)", sent, err)
	}
	if again, err := relay.Drain(ctx); err != nil || again != 0 {
		t.Errorf("second Drain = %d, %v; expected 0", again, err)
	}
	if n := env.queryInt(t, "SELECT count(*) FROM api_outbox"); n != 0 {
		t.Errorf("%d outbox rows after the relay, expected 0", n)
	}

	consumer, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic, eventsTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatalf("creating the consumer: %v", err)
	}
	defer consumer.Close()
	var commands, events int
	deadline := time.Now().Add(20 * time.Second)
	for commands+events < 2 && time.Now().Before(deadline) {
		pollCtx, pollCancel := context.WithTimeout(ctx, 2*time.Second)
		fetches := consumer.PollFetches(pollCtx)
		pollCancel()
		fetches.EachRecord(func(rec *kgo.Record) {
			var cmd schemas.OutboundMessage
			if rec.Topic == topic && schemas.Unmarshal(rec.Value, &cmd) == nil {
				commands++
				if cmd.Subject != "Re: [#"+refInvoice+"] Invoice missing" || cmd.Text != "Done." || string(rec.Key) != "acme/"+refInvoice {
					t.Errorf("command %+v with key %s, expected the reply", cmd, rec.Key)
				}
				return
			}
			var ev schemas.TicketEvent
			if err := schemas.Unmarshal(rec.Value, &ev); err != nil || rec.Topic != eventsTopic {
				t.Errorf("record on %s is not the expected contract: %v", rec.Topic, err)
				return
			}
			events++
			if ev.Kind != schemas.TicketEventReplied {
				t.Errorf("ticket event kind %s, expected replied", ev.Kind)
			}
		})
	}
	if commands != 1 || events != 1 {
		t.Errorf("topics have %d commands and %d ticket events, expected 1 and 1", commands, events)
	}
}
