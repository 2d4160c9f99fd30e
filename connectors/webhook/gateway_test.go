package webhook

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"mailtriage/schemas"
	"mailtriage/topics"
)

const rawMessage = "Message-ID: <raw-1@example.org>\r\n" +
	"Date: Tue, 05 Mar 2024 09:12:44 +0000\r\n" +
	"From: Ana Lima <ana@example.org>\r\n" +
	"To: support@example.com\r\n" +
	"Subject: Order export\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=\"b1\"\r\n" +
	"\r\n" +
	"--b1\r\n" +
	"Content-Type: text/plain; charset=UTF-8\r\n" +
	"\r\n" +
	"See the attached export.\r\n" +
	"--b1\r\n" +
	"Content-Type: text/csv; name=\"orders.csv\"\r\n" +
	"Content-Disposition: attachment; filename=\"orders.csv\"\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"b3JkZXIsdG90YWwKMTAwNDgyLDQ5LjAwCg==\r\n" +
	"--b1--\r\n"

// rawWithID returns a small raw message with the given Message-ID.
func rawWithID(id string) string {
	return "Message-ID: <" + id + ">\r\nFrom: ana@example.org\r\nTo: support@example.com\r\nSubject: Hello\r\n\r\nHello there.\r\n"
}

const jsonMessage = `{"messageId": "<json-1@example.org>", "threadId": "t-9",
	"from": {"name": "Ana Lima", "address": "ana@example.org"}, "to": ["support@example.com"],
	"subject": "Refund", "text": "Please refund order 100482.",
	"headers": [{"name": "X-Mailer", "value": "test"}],
	"attachments": [{"filename": "r.pdf", "contentType": "application/pdf", "size": 10, "contentId": "", "downloadUrl": "https://files.example.net/1"}],
	"spamVerdict": "ham", "dkim": "pass", "spf": "pass", "receivedAt": "2024-03-05T09:12:50Z"}`

func decodeInbound(t *testing.T, value []byte) schemas.InboundEmail {
	t.Helper()
	var email schemas.InboundEmail
	if err := schemas.Unmarshal(value, &email); err != nil {
		t.Fatalf("decoding the record: %v", err)
	}
	return email
}

func TestRawRequestLandsOnce(t *testing.T) {
	env := newTestEnv(t, testConfig(), nil)

	a := env.postRaw(t, rawMessage)
	if a.status != http.StatusAccepted {
		t.Fatalf("status = %d (%s), want 202", a.status, a.raw)
	}
	if a.str("status") != "accepted" || a.str("key") != "acme/raw-1@example.org" {
		t.Errorf("answer = %s, want status accepted and key acme/raw-1@example.org", a.raw)
	}

	recs := env.records(t, topics.Inbound)
	if len(recs) != 1 {
		t.Fatalf("got %d records on %s, want 1", len(recs), topics.Inbound)
	}
	if string(recs[0].Key) != "acme/raw-1@example.org" {
		t.Errorf("record key = %q, want acme/raw-1@example.org", recs[0].Key)
	}
	email := decodeInbound(t, recs[0].Value)
	if email.Tenant != "acme" || email.Source != schemas.SourceWebhookRaw {
		t.Errorf("tenant/source = %s/%s, want acme/%s", email.Tenant, email.Source, schemas.SourceWebhookRaw)
	}
	if email.Subject != "Order export" || email.From == nil || email.From.Address != "ana@example.org" {
		t.Errorf("subject/from = %q/%+v, want Order export/ana@example.org", email.Subject, email.From)
	}
	if email.Raw == nil || email.Raw.Size != int64(len(rawMessage)) {
		t.Fatalf("raw = %+v, want a reference to the %d stored bytes", email.Raw, len(rawMessage))
	}
	stored, err := env.store.Get(t.Context(), email.Raw.Key)
	if err != nil || string(stored) != rawMessage {
		t.Errorf("stored raw message under %s: err %v, equal to the body: %v", email.Raw.Key, err, string(stored) == rawMessage)
	}
	if len(email.Attachments) != 1 || email.Attachments[0].StorageKey == "" {
		t.Errorf("attachments = %+v, want one with a storage key", email.Attachments)
	}
}

func TestJSONRequestLandsOnce(t *testing.T) {
	env := newTestEnv(t, testConfig(), nil)

	a := env.postJSON(t, jsonMessage)
	if a.status != http.StatusAccepted {
		t.Fatalf("status = %d (%s), want 202", a.status, a.raw)
	}
	if a.str("status") != "accepted" || a.str("key") != "acme/json-1@example.org" {
		t.Errorf("answer = %s, want status accepted and key acme/json-1@example.org", a.raw)
	}

	recs := env.records(t, topics.Inbound)
	if len(recs) != 1 {
		t.Fatalf("got %d records, want 1", len(recs))
	}
	if string(recs[0].Key) != "acme/json-1@example.org" {
		t.Errorf("record key = %q, want acme/json-1@example.org", recs[0].Key)
	}
	email := decodeInbound(t, recs[0].Value)
	checks := []struct {
		name      string
		got, want any
	}{
		{"source", email.Source, schemas.SourceWebhookJSON},
		{"threadId", email.ThreadID, "t-9"},
		{"from", fmt.Sprint(email.From), fmt.Sprint(&schemas.Address{Name: "Ana Lima", Address: "ana@example.org"})},
		{"subject", email.Subject, "Refund"},
		{"text", email.Text, "Please refund order 100482."},
		{"auth", email.Auth, schemas.Auth{SPF: "pass", DKIM: "pass", Spam: "ham"}},
		{"receivedAt", email.ReceivedAt.UTC(), time.Date(2024, 3, 5, 9, 12, 50, 0, time.UTC)},
		{"attachment storage key", email.Attachments[0].StorageKey, ""},
		{"warning", fmt.Sprint(email.Warnings), `[attachment "r.pdf" not fetched: downloadUrl streaming is not configured]`},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestRejectedRequests(t *testing.T) {
	cfg := testConfig()
	cfg.MaxBodyBytes = 4096
	env := newTestEnv(t, cfg, nil)
	url := env.server.URL + "/v1/inbound/acme/raw"
	body := []byte(rawWithID("rejected@example.org"))
	now := time.Now().Unix()

	cases := []struct {
		name    string
		request func() *http.Request
		status  int
		wantMsg string
	}{
		{"forged signature", func() *http.Request {
			return newSignedRequest(t, url, "message/rfc822", body, []byte("not-the-secret-0123456789"), now)
		}, http.StatusUnauthorized, "does not match the body under any secret"},
		{"body changed after signing", func() *http.Request {
			req := newSignedRequest(t, url, "message/rfc822", body, acmeSecret, now)
			other := newSignedRequest(t, url, "message/rfc822", []byte(rawWithID("other@example.org")), acmeSecret, now)
			other.Header = req.Header
			return other
		}, http.StatusUnauthorized, "does not match the body"},
		{"other tenant's secret", func() *http.Request {
			return newSignedRequest(t, url, "message/rfc822", body, globexSecret, now)
		}, http.StatusUnauthorized, "does not match the body"},
		{"signature not hex", func() *http.Request {
			req := newSignedRequest(t, url, "message/rfc822", body, acmeSecret, now)
			req.Header.Set(HeaderSignature, "zz")
			return req
		}, http.StatusUnauthorized, "is not 64 hex digits"},
		{"stale in the past", func() *http.Request {
			return newSignedRequest(t, url, "message/rfc822", body, acmeSecret, now-6*60)
		}, http.StatusUnauthorized, "behind the gateway clock, more than the tolerance of 5m0s"},
		{"stale in the future", func() *http.Request {
			return newSignedRequest(t, url, "message/rfc822", body, acmeSecret, now+6*60)
		}, http.StatusUnauthorized, "ahead of the gateway clock"},
		{"missing timestamp", func() *http.Request {
			req := newSignedRequest(t, url, "message/rfc822", body, acmeSecret, now)
			req.Header.Del(HeaderTimestamp)
			return req
		}, http.StatusBadRequest, "X-Parse-Timestamp is missing"},
		{"missing signature", func() *http.Request {
			req := newSignedRequest(t, url, "message/rfc822", body, acmeSecret, now)
			req.Header.Del(HeaderSignature)
			return req
		}, http.StatusBadRequest, "X-Parse-Signature is missing"},
		{"timestamp not a number", func() *http.Request {
			req := newSignedRequest(t, url, "message/rfc822", body, acmeSecret, now)
			req.Header.Set(HeaderTimestamp, "yesterday")
			return req
		}, http.StatusBadRequest, `X-Parse-Timestamp "yesterday" is not a unix time`},
		{"malformed JSON", func() *http.Request {
			return newSignedRequest(t, env.server.URL+"/v1/inbound/acme/json", "application/json", []byte(`{"messageId": `), acmeSecret, now)
		}, http.StatusBadRequest, "invalid JSON payload: the payload is not valid JSON"},
		{"invalid JSON field", func() *http.Request {
			return newSignedRequest(t, env.server.URL+"/v1/inbound/acme/json", "application/json", []byte(`{"from": "x"}`), acmeSecret, now)
		}, http.StatusBadRequest, `field "from": invalid address "x"`},
		{"unknown tenant", func() *http.Request {
			return newSignedRequest(t, env.server.URL+"/v1/inbound/initech/raw", "message/rfc822", body, acmeSecret, now)
		}, http.StatusNotFound, `unknown tenant "initech"`},
		{"oversized", func() *http.Request {
			big := []byte(rawWithID("big@example.org") + strings.Repeat("x", 5000))
			return newSignedRequest(t, url, "message/rfc822", big, acmeSecret, now)
		}, http.StatusRequestEntityTooLarge, "larger than the limit of 4096 bytes"},
		{"oversized without length", func() *http.Request {
			big := []byte(rawWithID("big@example.org") + strings.Repeat("x", 5000))
			req := newSignedRequest(t, url, "message/rfc822", big, acmeSecret, now)
			req.ContentLength = -1 // sent chunked, so only MaxBytesReader can detect the size
			return req
		}, http.StatusRequestEntityTooLarge, "larger than the limit of 4096 bytes"},
		{"wrong content type", func() *http.Request {
			return newSignedRequest(t, url, "text/plain", body, acmeSecret, now)
		}, http.StatusUnsupportedMediaType, "send Content-Type: message/rfc822"},
		{"JSON to the raw endpoint", func() *http.Request {
			return newSignedRequest(t, url, "application/json", body, acmeSecret, now)
		}, http.StatusUnsupportedMediaType, "send Content-Type: message/rfc822"},
		{"raw to the JSON endpoint", func() *http.Request {
			return newSignedRequest(t, env.server.URL+"/v1/inbound/acme/json", "message/rfc822", body, acmeSecret, now)
		}, http.StatusUnsupportedMediaType, "send Content-Type: application/json"},
		{"GET", func() *http.Request {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			return req
		}, http.StatusMethodNotAllowed, "method GET is not allowed"},
		{"unknown path", func() *http.Request {
			req, _ := http.NewRequest(http.MethodPost, env.server.URL+"/v2/inbound", nil)
			return req
		}, http.StatusNotFound, "no endpoint at /v2/inbound"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := do(t, c.request())
			if a.status != c.status {
				t.Errorf("status = %d, want %d (answer %s)", a.status, c.status, a.raw)
			}
			if !strings.Contains(a.str("error"), c.wantMsg) {
				t.Errorf("error %q does not contain %q", a.str("error"), c.wantMsg)
			}
		})
	}

	if recs := env.records(t, topics.Inbound); len(recs) != 0 {
		t.Errorf("rejected requests produced %d records, want 0", len(recs))
	}
	if recs := env.records(t, topics.DLQ); len(recs) != 0 {
		t.Errorf("rejected requests produced %d dead letters, want 0", len(recs))
	}
}

func TestClientRetryYieldsOneRecord(t *testing.T) {
	env := newTestEnv(t, testConfig(), nil)
	url := env.server.URL + "/v1/inbound/acme/raw"
	body := []byte(rawWithID("retry-1@example.org"))
	first := time.Now().Unix() - 30

	steps := []struct {
		name      string
		request   *http.Request
		duplicate bool
	}{
		{"first attempt", newSignedRequest(t, url, "message/rfc822", body, acmeSecret, first), false},
		{"same request re-sent", newSignedRequest(t, url, "message/rfc822", body, acmeSecret, first), true},
		{"re-signed with a new timestamp", newSignedRequest(t, url, "message/rfc822", body, acmeSecret, first+20), true},
		{"re-signed with the old secret", newSignedRequest(t, url, "message/rfc822", body, acmeOldSecret, first+25), true},
	}
	for _, s := range steps {
		a := do(t, s.request)
		if a.status != http.StatusAccepted {
			t.Fatalf("%s: status = %d (%s), want 202", s.name, a.status, a.raw)
		}
		if a.str("key") != "acme/retry-1@example.org" || a.str("status") != "accepted" {
			t.Errorf("%s: answer %s, want status accepted and key acme/retry-1@example.org", s.name, a.raw)
		}
		if dup, _ := a.body["duplicate"].(bool); dup != s.duplicate {
			t.Errorf("%s: duplicate = %v, want %v", s.name, dup, s.duplicate)
		}
	}

	// Same message ID, different body: a retry whose payload changed.
	changed := rawWithID("retry-1@example.org") + "P.S. resent\r\n"
	if a := env.postRaw(t, changed); a.status != http.StatusAccepted || a.body["duplicate"] != true {
		t.Errorf("same message ID with another body: answer %d %s, want 202 duplicate", a.status, a.raw)
	}

	if recs := env.records(t, topics.Inbound); len(recs) != 1 {
		t.Errorf("got %d records after the retries, want 1", len(recs))
	}
}

func TestJSONRetryYieldsOneRecord(t *testing.T) {
	env := newTestEnv(t, testConfig(), nil)
	for i := range 3 {
		if a := env.postJSON(t, jsonMessage); a.status != http.StatusAccepted || a.str("key") != "acme/json-1@example.org" {
			t.Fatalf("attempt %d: answer %d %s, want 202 with key acme/json-1@example.org", i+1, a.status, a.raw)
		}
	}
	if recs := env.records(t, topics.Inbound); len(recs) != 1 {
		t.Errorf("got %d records after three attempts, want 1", len(recs))
	}
}

func TestConcurrentRetriesYieldOneRecord(t *testing.T) {
	env := newTestEnv(t, testConfig(), nil)
	url := env.server.URL + "/v1/inbound/acme/raw"
	body := []byte(rawWithID("concurrent@example.org"))
	now := time.Now().Unix()

	const attempts = 8
	statuses := make([]int, attempts)
	var wg sync.WaitGroup
	for i := range attempts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each attempt is signed at another second, so that none is a replay.
			statuses[i] = do(t, newSignedRequest(t, url, "message/rfc822", body, acmeSecret, now-int64(i))).status
		}()
	}
	wg.Wait()

	for i, s := range statuses {
		if s != http.StatusAccepted {
			t.Errorf("attempt %d: status %d, want 202", i, s)
		}
	}
	if recs := env.records(t, topics.Inbound); len(recs) != 1 {
		t.Errorf("got %d records from %d concurrent attempts, want 1", len(recs), attempts)
	}
}

func TestReplayWhileInFlight(t *testing.T) {
	gated := &gatedPublisher{entered: make(chan struct{}, 1), gate: make(chan struct{})}
	env := newTestEnv(t, testConfig(), func(p Publisher) Publisher { gated.Publisher = p; return gated })
	var openGate sync.Once
	t.Cleanup(func() { openGate.Do(func() { close(gated.gate) }) }) // before the server closes
	url := env.server.URL + "/v1/inbound/acme/raw"
	body := []byte(rawWithID("replay@example.org"))
	now := time.Now().Unix()

	firstDone := make(chan answer, 1)
	go func() { firstDone <- do(t, newSignedRequest(t, url, "message/rfc822", body, acmeSecret, now)) }()
	<-gated.entered

	replay := do(t, newSignedRequest(t, url, "message/rfc822", body, acmeSecret, now))
	if replay.status != http.StatusUnauthorized {
		t.Errorf("replay while in flight: status %d (%s), want 401", replay.status, replay.raw)
	}
	if !strings.Contains(replay.str("error"), "replayed signature") || replay.retryAfter == "" {
		t.Errorf("replay answer %s with Retry-After %q, want a replayed signature error and Retry-After", replay.raw, replay.retryAfter)
	}

	openGate.Do(func() { close(gated.gate) })
	if first := <-firstDone; first.status != http.StatusAccepted {
		t.Fatalf("first request: status %d (%s), want 202", first.status, first.raw)
	}
	again := do(t, newSignedRequest(t, url, "message/rfc822", body, acmeSecret, now))
	if again.status != http.StatusAccepted || again.body["duplicate"] != true {
		t.Errorf("replay after acceptance: answer %d %s, want 202 duplicate", again.status, again.raw)
	}
	if recs := env.records(t, topics.Inbound); len(recs) != 1 {
		t.Errorf("got %d records, want 1", len(recs))
	}
}

func TestResendAfterFailureIsProcessed(t *testing.T) {
	failing := &failingPublisher{fails: 1}
	env := newTestEnv(t, testConfig(), func(p Publisher) Publisher { failing.Publisher = p; return failing })
	signedAt := time.Now().Unix()
	req := func() *http.Request {
		return newSignedRequest(t, env.server.URL+"/v1/inbound/acme/raw", "message/rfc822", []byte(rawWithID("resend@example.org")), acmeSecret, signedAt)
	}

	first := do(t, req())
	if first.status != http.StatusServiceUnavailable {
		t.Fatalf("first attempt: status %d (%s), want 503", first.status, first.raw)
	}
	second := do(t, req())
	if second.status != http.StatusAccepted || second.body["duplicate"] == true {
		t.Errorf("identical resend after 503: answer %d %s, want 202 without duplicate", second.status, second.raw)
	}
	if recs := env.records(t, topics.Inbound); len(recs) != 1 {
		t.Errorf("got %d records, want 1", len(recs))
	}
}

func TestSecretRotation(t *testing.T) {
	env := newTestEnv(t, testConfig(), nil)
	url := env.server.URL + "/v1/inbound/acme/raw"
	now := time.Now().Unix()

	for i, secret := range [][]byte{acmeOldSecret, acmeSecret} {
		id := fmt.Sprintf("rotation-%d@example.org", i)
		a := do(t, newSignedRequest(t, url, "message/rfc822", []byte(rawWithID(id)), secret, now))
		if a.status != http.StatusAccepted || a.str("key") != "acme/"+id {
			t.Errorf("secret %d: answer %d %s, want 202 with key acme/%s", i, a.status, a.raw, id)
		}
	}
	if recs := env.records(t, topics.Inbound); len(recs) != 2 {
		t.Errorf("got %d records, want 2", len(recs))
	}
}

func TestUnparsableRawIsDeadLettered(t *testing.T) {
	env := newTestEnv(t, testConfig(), nil)
	body := "this is a note, not an email message\n"

	a := env.postRaw(t, body)
	if a.status != http.StatusAccepted || a.str("status") != "dead-lettered" {
		t.Fatalf("answer %d %s, want 202 dead-lettered", a.status, a.raw)
	}
	sum := sha256.Sum256([]byte(body))
	wantKey := "acme/sha256-" + hex.EncodeToString(sum[:]) + "@mailtriage.invalid"
	if a.str("key") != wantKey {
		t.Errorf("key = %q, want %q", a.str("key"), wantKey)
	}

	dlq := env.records(t, topics.DLQ)
	if len(dlq) != 1 {
		t.Fatalf("got %d dead letters, want 1", len(dlq))
	}
	if string(dlq[0].Key) != wantKey {
		t.Errorf("dead letter key = %q, want %q", dlq[0].Key, wantKey)
	}
	var dl schemas.DeadLetter
	if err := schemas.Unmarshal(dlq[0].Value, &dl); err != nil {
		t.Fatal(err)
	}
	if dl.Tenant != "acme" || dl.Stage != "parse" || string(dl.Payload) != body || dl.SourceTopic != schemas.SourceWebhookRaw {
		t.Errorf("dead letter = tenant %q stage %q source %q payload %q, want acme/parse/%s with the body",
			dl.Tenant, dl.Stage, dl.SourceTopic, dl.Payload, schemas.SourceWebhookRaw)
	}
	if recs := env.records(t, topics.Inbound); len(recs) != 0 {
		t.Errorf("got %d inbound records, want 0", len(recs))
	}

	if again := env.postRaw(t, body); again.status != http.StatusAccepted || again.body["duplicate"] != true {
		t.Errorf("retry of the dead-lettered body: answer %d %s, want 202 duplicate", again.status, again.raw)
	}
	if dlq := env.records(t, topics.DLQ); len(dlq) != 1 {
		t.Errorf("got %d dead letters after a retry, want 1", len(dlq))
	}
}

func TestBrokerDownAnswers503(t *testing.T) {
	cfg := testConfig()
	cfg.RetryAfter = 7 * time.Second
	env := newTestEnv(t, cfg, nil)
	if a := do(t, mustGet(t, env.server.URL+"/readyz")); a.status != http.StatusOK || a.str("status") != "ready" {
		t.Fatalf("/readyz with the broker up: answer %d %s, want 200 ready", a.status, a.raw)
	}

	env.cluster.Close()
	a := env.postRaw(t, rawWithID("down@example.org"))
	if a.status != http.StatusServiceUnavailable {
		t.Fatalf("status = %d (%s), want 503", a.status, a.raw)
	}
	if a.retryAfter != "7" {
		t.Errorf("Retry-After = %q, want 7", a.retryAfter)
	}
	if !strings.Contains(a.str("error"), "Kafka is unavailable") {
		t.Errorf("error %q does not say that Kafka is unavailable", a.str("error"))
	}

	ready := do(t, mustGet(t, env.server.URL+"/readyz"))
	if ready.status != http.StatusServiceUnavailable || ready.retryAfter == "" {
		t.Errorf("/readyz with the broker down: answer %d %s Retry-After %q, want 503 with Retry-After", ready.status, ready.raw, ready.retryAfter)
	}
	if health := do(t, mustGet(t, env.server.URL+"/healthz")); health.status != http.StatusOK {
		t.Errorf("/healthz with the broker down: status %d, want 200", health.status)
	}
}

func TestDrainFailsReadiness(t *testing.T) {
	env := newTestEnv(t, testConfig(), nil)
	env.gateway.Drain()
	a := do(t, mustGet(t, env.server.URL+"/readyz"))
	if a.status != http.StatusServiceUnavailable || !strings.Contains(a.str("error"), "shutting down") {
		t.Errorf("/readyz while draining: answer %d %s, want 503 shutting down", a.status, a.raw)
	}
}

func TestAccessLogOmitsSecrets(t *testing.T) {
	env := newTestEnv(t, testConfig(), nil)
	req := newSignedRequest(t, env.server.URL+"/v1/inbound/acme/raw?token=abc", "message/rfc822", []byte(rawMessage), acmeSecret, time.Now().Unix())
	signature := req.Header.Get(HeaderSignature)
	if a := do(t, req); a.status != http.StatusAccepted {
		t.Fatalf("status %d (%s), want 202", a.status, a.raw)
	}

	logs := env.logs.String()
	for _, want := range []string{`"method":"POST"`, `"path":"/v1/inbound/acme/raw"`, `"status":202`, `"tenant":"acme"`, `"duration_ms":`, `"key_hash":"` + keyHash("acme/raw-1@example.org") + `"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("access log %s lacks %s", logs, want)
		}
	}
	for _, secret := range []string{signature, string(acmeSecret), "ana@example.org", "raw-1@example.org", "See the attached", "token=abc"} {
		if strings.Contains(logs, secret) {
			t.Errorf("access log contains %q: %s", secret, logs)
		}
	}
}

func mustGet(t *testing.T, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
