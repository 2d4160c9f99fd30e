package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mailtriage/connectors/blobstore"
	"mailtriage/internal/ingest"
	"mailtriage/schemas"
)

// fuzzClock is the gateway clock of the fuzz targets. A fixed clock keeps
// every signature fresh for the whole run.
var fuzzClock = time.Unix(1_709_630_000, 0)

// documentedSignature computes HeaderSignature as the package comment of
// HeaderSignature states it, without calling Sign: the lower-case hex
// HMAC-SHA256 of timestamp + "." + body.
func documentedSignature(secret []byte, timestamp string, body []byte) string {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(timestamp + "."))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

func FuzzSignatureTamper(f *testing.F) {
	f.Add([]byte("Subject: hi\r\n\r\nbody\r\n"), int16(0), uint16(0), byte(1), uint8(0))
	f.Add([]byte(`{"from": "a@b.c"}`), int16(-300), uint16(7), byte(0x20), uint8(1))
	f.Add([]byte{}, int16(300), uint16(63), byte(0x80), uint8(2))
	f.Add([]byte("\x00\xff"), int16(12), uint16(5), byte(0x1a), uint8(1))

	secrets := [][]byte{acmeOldSecret, acmeSecret}
	tolerance := 5 * time.Minute
	f.Fuzz(func(t *testing.T, body []byte, skew int16, position uint16, mask byte, part uint8) {
		timestamp := strconv.FormatInt(fuzzClock.Unix()+int64(skew%301), 10)
		valid := documentedSignature(acmeSecret, timestamp, body)
		seconds, _ := strconv.ParseInt(timestamp, 10, 64)
		if got := Sign(acmeSecret, seconds, body); got != valid {
			t.Fatalf("Sign = %s, want the documented HMAC %s", got, valid)
		}
		for _, signature := range []string{valid, strings.ToUpper(valid), documentedSignature(acmeOldSecret, timestamp, body)} {
			if _, err := verify(secrets, timestamp, signature, body, fuzzClock, tolerance); err != nil {
				t.Fatalf("verify rejected the signature computed by the documented formula: %v", err)
			}
		}
		if _, err := verify([][]byte{globexSecret}, timestamp, valid, body, fuzzClock, tolerance); !errors.Is(err, ErrInvalidSignature) {
			t.Fatalf("verify under another tenant's secret = %v, want ErrInvalidSignature", err)
		}

		if mask == 0 {
			mask = 1
		}
		tamperedBody, tamperedTimestamp, tamperedSignature := body, timestamp, valid
		switch part % 3 {
		case 0:
			tamperedBody = flipByte(body, int(position), mask)
		case 1:
			tamperedTimestamp = string(flipByte([]byte(timestamp), int(position), mask))
		default:
			tamperedSignature = string(flipByte([]byte(valid), int(position), mask))
			if strings.EqualFold(tamperedSignature, valid) {
				return // the same signature in another letter case
			}
		}
		if _, err := verify(secrets, tamperedTimestamp, tamperedSignature, tamperedBody, fuzzClock, tolerance); err == nil {
			t.Fatalf("verify accepted a tampered request: timestamp %q, signature %q, body %q (signed: %q, %q, %q)",
				tamperedTimestamp, tamperedSignature, tamperedBody, timestamp, valid, body)
		}
	})
}

// flipByte returns a copy of b with the byte at position modulo len(b)
// XORed with mask, or b with mask appended when b is empty.
func flipByte(b []byte, position int, mask byte) []byte {
	if len(b) == 0 {
		return []byte{mask}
	}
	out := append([]byte{}, b...)
	out[position%len(out)] ^= mask
	return out
}

// memoryPublisher keeps what the gateway publishes.
type memoryPublisher struct {
	mu          sync.Mutex
	last        *schemas.InboundEmail
	published   int
	deadLetters int
}

func (p *memoryPublisher) Publish(_ context.Context, email *schemas.InboundEmail) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last = email
	p.published++
	return nil
}

func (p *memoryPublisher) PublishDeadLetter(context.Context, string, *schemas.DeadLetter) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.deadLetters++
	return nil
}

func (p *memoryPublisher) Ping(context.Context) error { return nil }

func (p *memoryPublisher) counts() (published, deadLetters int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.published, p.deadLetters
}

// payloadKeys are the top-level keys of the JSON payload, which every
// field error must start with.
var payloadKeys = []string{
	"messageId", "threadId", "from", "to", "cc", "replyTo", "subject", "text", "html",
	"headers", "attachments", "spamVerdict", "dkim", "spf", "dmarc", "receivedAt",
}

func FuzzJSONEndpoint(f *testing.F) {
	f.Add([]byte(jsonMessage))
	f.Add([]byte(`{"from": {"name": 1}}`))
	f.Add([]byte(`{"to": ["a@b.c", {"address": []}], "headers": {"X-A": ["1", 2]}}`))
	f.Add([]byte(`{"attachments": [{"size": -1}], "receivedAt": "yesterday"}`))
	f.Add([]byte(`{"text": "hi"} {"text": "again"}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))

	pub := &memoryPublisher{}
	store, err := blobstore.NewDir(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	cfg := testConfig()
	cfg.Now = func() time.Time { return fuzzClock }
	gw, err := New(cfg, pub, store, nil)
	if err != nil {
		f.Fatalf("New: %v", err)
	}

	f.Fuzz(func(t *testing.T, payload []byte) {
		publishedBefore, deadLettersBefore := pub.counts()
		status, response := serveSignedJSON(t, gw, payload, acmeSecret)
		want, wantErr := ingest.FromJSON(payload, "acme", fuzzClock)

		switch {
		case wantErr != nil:
			if status != http.StatusBadRequest || response["error"] != "invalid JSON payload: "+wantErr.Error() {
				t.Fatalf("payload %q: got %d %v, want 400 with the error %q", payload, status, response, wantErr)
			}
			checkFieldError(t, payload, wantErr)
		case status != http.StatusAccepted:
			t.Fatalf("payload %q maps to a record but got %d %v, want 202", payload, status, response)
		case response["duplicate"] == true:
			// An earlier input had the same signature, body or message ID.
		default:
			published, _ := pub.counts()
			if published != publishedBefore+1 {
				t.Fatalf("payload %q: 202 after %d publishes, want 1", payload, published-publishedBefore)
			}
			if !reflect.DeepEqual(pub.last, want) {
				t.Fatalf("payload %q: published %+v, want what FromJSON returns, %+v", payload, pub.last, want)
			}
		}
		if _, deadLetters := pub.counts(); deadLetters != deadLettersBefore {
			t.Fatalf("payload %q was dead-lettered; the JSON endpoint answers 400 for a payload that does not map", payload)
		}

		// The same signature over any other body is rejected before the
		// body is read as JSON.
		publishedBefore, _ = pub.counts()
		tampered := flipByte(payload, len(payload)/2, 0x01)
		status, response = serveJSONWithSignature(t, gw, tampered, documentedSignature(acmeSecret, strconv.FormatInt(fuzzClock.Unix(), 10), payload))
		if status != http.StatusUnauthorized {
			t.Fatalf("payload %q under the signature of %q: got %d %v, want 401", tampered, payload, status, response)
		}
		if published, _ := pub.counts(); published != publishedBefore {
			t.Fatalf("payload %q under the signature of %q was published", tampered, payload)
		}
	})
}

// checkFieldError checks that the error for a payload that is one valid
// JSON object names the field it is about: only such a payload can be
// wrong in one field.
func checkFieldError(t *testing.T, payload []byte, err error) {
	t.Helper()
	trimmed := bytes.TrimSpace(payload)
	if !json.Valid(trimmed) || len(trimmed) == 0 || trimmed[0] != '{' {
		return
	}
	var fieldErr *ingest.FieldError
	if !errors.As(err, &fieldErr) {
		t.Fatalf("payload %q is a JSON object, but its error %q names no field", payload, err)
	}
	for _, key := range payloadKeys {
		rest, found := strings.CutPrefix(fieldErr.Field, key)
		if found && (rest == "" || rest[0] == '[' || rest[0] == '.') {
			return
		}
	}
	t.Fatalf("payload %q: the error names the field %q, which is not a payload key or below one", payload, fieldErr.Field)
}

func serveSignedJSON(t *testing.T, gw *Gateway, body, secret []byte) (int, map[string]any) {
	t.Helper()
	return serveJSONWithSignature(t, gw, body, documentedSignature(secret, strconv.FormatInt(fuzzClock.Unix(), 10), body))
}

// serveJSONWithSignature posts body to the JSON endpoint of tenant acme
// through gw, without a network, and returns the status and decoded
// response.
func serveJSONWithSignature(t *testing.T, gw *Gateway, body []byte, signature string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/v1/inbound/acme/json", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(fuzzClock.Unix(), 10))
	req.Header.Set(HeaderSignature, signature)
	rec := httptest.NewRecorder()
	gw.ServeHTTP(rec, req)

	var response map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &response); err != nil {
		t.Fatalf("the response %q is not a JSON object: %v", rec.Body.String(), err)
	}
	return rec.Code, response
}
