package slack

import (
	"maps"
	"sync"
	"sync/atomic"
)

// Stats counts what a Sink did since it was created.
type Stats struct {
	Delivered    int64 // notifications posted with a 2xx response
	Replayed     int64 // notifications skipped because the ledger already had them
	Unknown      int64 // entries marked unknown: left pending by a stopped process
	DeadLettered int64 // records sent to the dead-letter topic
	Retries      int64 // posts repeated after a transient failure
	NoWebhook    int64 // notifications skipped because their tenant has no webhook
	OtherChannel int64 // notifications for a channel other than Slack, skipped

	// NoWebhookByTenant splits NoWebhook by tenant.
	NoWebhookByTenant map[string]int64
}

// counters holds the live values behind Stats.
type counters struct {
	delivered, replayed, unknown, deadLettered, retries, noWebhook, otherChannel atomic.Int64

	mu        sync.Mutex // guards byTenant and byChannel
	byTenant  map[string]int64
	byChannel map[string]int64
}

// addNoWebhook counts a skipped notification of tenant and reports whether
// it is the tenant's first, so the caller logs each tenant once.
func (c *counters) addNoWebhook(tenant string) (first bool) {
	c.noWebhook.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byTenant == nil {
		c.byTenant = make(map[string]int64)
	}
	c.byTenant[tenant]++
	return c.byTenant[tenant] == 1
}

// addOtherChannel counts a notification for another channel and reports
// whether it is the channel's first.
func (c *counters) addOtherChannel(channel string) (first bool) {
	c.otherChannel.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byChannel == nil {
		c.byChannel = make(map[string]int64)
	}
	c.byChannel[channel]++
	return c.byChannel[channel] == 1
}

func (c *counters) snapshot() Stats {
	c.mu.Lock()
	byTenant := maps.Clone(c.byTenant)
	c.mu.Unlock()
	return Stats{
		Delivered:         c.delivered.Load(),
		Replayed:          c.replayed.Load(),
		Unknown:           c.unknown.Load(),
		DeadLettered:      c.deadLettered.Load(),
		Retries:           c.retries.Load(),
		NoWebhook:         c.noWebhook.Load(),
		OtherChannel:      c.otherChannel.Load(),
		NoWebhookByTenant: byTenant,
	}
}
