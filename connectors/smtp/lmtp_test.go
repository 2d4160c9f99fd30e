package smtp

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"mailtriage/schemas"
	"mailtriage/topics"
)

// lmtpRecipients are the recipients of the LMTP tests: two of acme and one
// of globex, given in mixed order.
var lmtpRecipients = []string{"a@support.example.com", "billing@help.globex.example", "b+urgent@support.example.com"}

// deliverLMTP sends one message to every recipient over LMTP and returns
// the per-recipient replies: the status text of a 250, or the error.
func deliverLMTP(t *testing.T, addr, messageID string) (map[string]*gosmtp.DataResponse, gosmtp.LMTPDataError) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := gosmtp.NewClientLMTP(conn)
	defer c.Close()

	if err := c.Hello("client.example"); err != nil {
		t.Fatalf("LHLO: %v", err)
	}
	if err := c.Mail("customer@client.example", nil); err != nil {
		t.Fatalf("MAIL: %v", err)
	}
	for _, rcpt := range lmtpRecipients {
		if err := c.Rcpt(rcpt, nil); err != nil {
			t.Fatalf("RCPT %s: %v", rcpt, err)
		}
	}

	w, err := c.Data()
	if err != nil {
		t.Fatalf("DATA: %v", err)
	}
	if _, err := w.Write([]byte(plainMessage(messageID))); err != nil {
		t.Fatal(err)
	}

	replies, err := w.CloseWithLMTPResponse()
	var perRecipient gosmtp.LMTPDataError
	if err != nil && !errors.As(err, &perRecipient) {
		t.Fatalf("ending DATA: %v", err)
	}
	return replies, perRecipient
}

func TestLMTPRepliesPerRecipient(t *testing.T) {
	cluster := startCluster(t, 1)
	brokers := cluster.ListenAddrs()
	l := startListener(t, testConfig(), true, newPublisher(t, brokers))

	replies, failed := deliverLMTP(t, l.addr, "lmtp@client.example")
	if len(failed) != 0 {
		t.Fatalf("recipients failed: %v", failed)
	}
	wantHash := map[string]string{
		"a@support.example.com":        keyHash("acme/lmtp@client.example"),
		"billing@help.globex.example":  keyHash("globex/lmtp@client.example"),
		"b+urgent@support.example.com": keyHash("acme/lmtp@client.example"),
	}
	for rcpt, hash := range wantHash {
		reply, ok := replies[rcpt]
		if !ok {
			t.Errorf("no reply for %s", rcpt)
			continue
		}
		if !strings.Contains(reply.StatusText, "queued as "+hash) {
			t.Errorf("reply for %s = %q, want it to name the record hash %s", rcpt, reply.StatusText, hash)
		}
	}

	records := decodeInbound(t, consumeRecords(t, brokers, topics.Inbound, 2, testTimeout))
	if len(records) != 2 {
		t.Fatalf("inbound topic has %d records, want 2", len(records))
	}
	for _, r := range records {
		if r.Source != schemas.SourceLMTP {
			t.Errorf("record %s: source %q, want %s", r.Key(), r.Source, schemas.SourceLMTP)
		}
	}
}

func TestLMTPOneTenantDeferred(t *testing.T) {
	// Inbound has two partitions: the partitioner puts globex on 1, whose
	// produce requests the broker fails, and acme on 0.
	cluster := startCluster(t, 2)
	cluster.ControlKey(int16(kmsg.Produce), failPartition(cluster, 1))
	pub := newPublisher(t, cluster.ListenAddrs(), kgo.RecordPartitioner(tenantPartitioner{}))
	l := startListener(t, testConfig(), true, pub)

	replies, failed := deliverLMTP(t, l.addr, "partial@client.example")
	for _, rcpt := range []string{"a@support.example.com", "b+urgent@support.example.com"} {
		if _, ok := replies[rcpt]; !ok {
			t.Errorf("%s of the available tenant: no 250 reply, error %v", rcpt, failed[rcpt])
		}
	}
	reply := failed["billing@help.globex.example"]
	if reply == nil || reply.Code != 451 || reply.EnhancedCode != (gosmtp.EnhancedCode{4, 3, 0}) {
		t.Errorf("recipient of the failing tenant: reply %v, want 451 4.3.0", reply)
	}
}

// failPartition returns a kfake control function that fails every
// produce request for partition with NOT_ENOUGH_REPLICAS, a retriable
// error, and passes the others to the broker.
func failPartition(cluster *kfake.Cluster, partition int32) func(kmsg.Request) (kmsg.Response, error, bool) {
	return func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		produce := req.(*kmsg.ProduceRequest)
		hit := false
		for _, topic := range produce.Topics {
			for _, p := range topic.Partitions {
				hit = hit || p.Partition == partition
			}
		}
		if !hit {
			return nil, nil, false
		}

		resp := produce.ResponseKind().(*kmsg.ProduceResponse)
		for _, topic := range produce.Topics {
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic, rt.TopicID = topic.Topic, topic.TopicID
			for _, p := range topic.Partitions {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition = p.Partition
				rp.ErrorCode = kerr.NotEnoughReplicas.Code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	}
}

// tenantPartitioner puts the records of tenant globex on partition 1 and
// all others on partition 0.
type tenantPartitioner struct{}

func (tenantPartitioner) ForTopic(string) kgo.TopicPartitioner { return tenantPartitioner{} }

func (tenantPartitioner) RequiresConsistency(*kgo.Record) bool { return true }

func (tenantPartitioner) Partition(r *kgo.Record, n int) int {
	if n > 1 && strings.HasPrefix(string(r.Key), "globex/") {
		return 1
	}
	return 0
}

func TestSMTPOneTenantDeferredDefersAll(t *testing.T) {
	cluster := startCluster(t, 2)
	cluster.ControlKey(int16(kmsg.Produce), failPartition(cluster, 1))
	pub := newPublisher(t, cluster.ListenAddrs(), kgo.RecordPartitioner(tenantPartitioner{}))
	l := startListener(t, testConfig(), false, pub)

	c, _ := dialSMTP(t, l.addr)
	err := send(c, "customer@client.example", lmtpRecipients, []byte(plainMessage("partial-smtp@client.example")))
	code, msg := replyCode(err)
	if code != 451 || !strings.HasPrefix(msg, "4.3.0 ") {
		t.Errorf("SMTP transaction with one tenant failing: reply %d %q, want 451 4.3.0 so that the sender retries", code, msg)
	}
}
