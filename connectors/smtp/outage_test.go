package smtp

import (
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"mailtriage/topics"
)

func TestBrokerDownDefers(t *testing.T) {
	// The cluster keeps its log in dataDir, so that a second cluster on
	// the same port shows what the first one stored.
	dataDir := t.TempDir()
	first := startCluster(t, 1, kfake.DataDir(dataDir))
	brokers := first.ListenAddrs()
	l := startListener(t, testConfig(), false, newPublisher(t, brokers))
	c, _ := dialSMTP(t, l.addr)

	if err := send(c, "customer@client.example", []string{"a@support.example.com"}, []byte(plainMessage("before@client.example"))); err != nil {
		t.Fatalf("delivering with the broker up: %v", err)
	}

	first.Close()
	code, msg := replyCode(send(c, "customer@client.example", []string{"a@support.example.com"}, []byte(plainMessage("during@client.example"))))
	if code != 451 || !strings.HasPrefix(msg, "4.3.0 ") {
		t.Fatalf("delivering with the broker down: reply %d %q, want 451 4.3.0", code, msg)
	}
	if !strings.Contains(l.logs.String(), `"msg":"message deferred"`) {
		t.Errorf("the logs have no line \"message deferred\":\n%s", l.logs.String())
	}

	_, port, err := net.SplitHostPort(brokers[0])
	if err != nil {
		t.Fatal(err)
	}
	portNum, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	second, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(portNum), kfake.DataDir(dataDir))
	if err != nil {
		t.Fatalf("restarting kfake on port %d: %v", portNum, err)
	}
	defer second.Close()

	records := decodeInbound(t, consumeRecords(t, brokers, topics.Inbound, 2, 3*time.Second))
	if len(records) != 1 || records[0].MessageID != "before@client.example" {
		ids := make([]string, len(records))
		for i, r := range records {
			ids[i] = r.MessageID
		}
		t.Fatalf("inbound topic has %q, want only before@client.example\n%s", ids, l.logs.String())
	}

	// The sender's retry succeeds once the broker is back.
	if err := c.Reset(); err != nil {
		t.Fatal(err)
	}
	if err := send(c, "customer@client.example", []string{"a@support.example.com"}, []byte(plainMessage("during@client.example"))); err != nil {
		t.Fatalf("retrying with the broker back: %v", err)
	}
	records = decodeInbound(t, consumeRecords(t, brokers, topics.Inbound, 2, testTimeout))
	if len(records) != 2 || records[1].MessageID != "during@client.example" {
		t.Errorf("inbound topic has %d records after the retry, want before and during", len(records))
	}
}

func TestShutdownWaitsForMessageInFlight(t *testing.T) {
	cluster := startCluster(t, 1)
	brokers := cluster.ListenAddrs()

	// The broker holds the first produce request until the test has
	// started the shutdown.
	produceHeld := make(chan struct{})
	release := make(chan struct{})
	var holdOnce sync.Once
	cluster.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		holdOnce.Do(func() {
			close(produceHeld)
			cluster.SleepControl(func() { <-release })
		})
		return nil, nil, false
	})

	l := startListener(t, testConfig(), false, newPublisher(t, brokers))
	busy, _ := dialSMTP(t, l.addr)
	idle, _ := dialSMTP(t, l.addr)

	sent := make(chan error, 1)
	go func() {
		sent <- send(busy, "customer@client.example", []string{"a@support.example.com"}, []byte(plainMessage("inflight@client.example")))
	}()
	select {
	case <-produceHeld:
	case <-time.After(testTimeout):
		t.Fatal("the message never reached the broker")
	}

	stopped := make(chan error, 1)
	go func() { stopped <- l.stop() }()

	// The idle session is ended with 421 while the message is in flight.
	code, _, err := idle.Text.ReadResponse(421)
	if code != 421 || err != nil {
		t.Errorf("idle session during shutdown: reply %d (%v), want 421", code, err)
	}
	select {
	case err := <-stopped:
		t.Fatalf("Serve returned (%v) before the message in flight got its reply", err)
	case <-time.After(200 * time.Millisecond):
	}

	close(release)
	if err := <-sent; err != nil {
		t.Errorf("message in flight during shutdown: %v, want 250", err)
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("Serve did not return after the last message")
	}
	records := consumeRecords(t, brokers, topics.Inbound, 1, testTimeout)
	if len(records) != 1 {
		t.Errorf("inbound topic has %d records, want the message in flight", len(records))
	}
}
