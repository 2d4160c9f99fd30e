package webhook

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestVerifySignature(t *testing.T) {
	now := time.Unix(1_709_630_000, 0)
	body := []byte("Subject: hi\r\n\r\nbody\r\n")
	secrets := [][]byte{acmeOldSecret, acmeSecret}
	ts := now.Unix()
	valid := Sign(acmeSecret, ts, body)

	cases := []struct {
		name      string
		timestamp string
		signature string
		body      []byte
		want      error
	}{
		{"valid", strconv.FormatInt(ts, 10), valid, body, nil},
		{"valid upper-case hex", strconv.FormatInt(ts, 10), strings.ToUpper(valid), body, nil},
		{"valid with the old secret", strconv.FormatInt(ts, 10), Sign(acmeOldSecret, ts, body), body, nil},
		{"valid at the tolerance", strconv.FormatInt(ts-300, 10), Sign(acmeSecret, ts-300, body), body, nil},
		{"one second past the tolerance", strconv.FormatInt(ts-301, 10), Sign(acmeSecret, ts-301, body), body, ErrStaleTimestamp},
		{"one second ahead of the tolerance", strconv.FormatInt(ts+301, 10), Sign(acmeSecret, ts+301, body), body, ErrStaleTimestamp},
		{"body changed", strconv.FormatInt(ts, 10), valid, append([]byte("X"), body...), ErrInvalidSignature},
		{"timestamp changed", strconv.FormatInt(ts+1, 10), valid, body, ErrInvalidSignature},
		{"unknown secret", strconv.FormatInt(ts, 10), Sign(globexSecret, ts, body), body, ErrInvalidSignature},
		{"truncated signature", strconv.FormatInt(ts, 10), valid[:62], body, ErrInvalidSignature},
		{"missing timestamp", "", valid, body, ErrMissingHeader},
		{"missing signature", strconv.FormatInt(ts, 10), "", body, ErrMissingHeader},
		{"fractional timestamp", "1709630000.5", valid, body, ErrMalformedHeader},
		{"negative timestamp", "-1", valid, body, ErrMalformedHeader},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := verify(secrets, c.timestamp, c.signature, c.body, now, 5*time.Minute)
			if !errors.Is(err, c.want) {
				t.Errorf("verify = %v, want %v", err, c.want)
			}
		})
	}
}

func TestVerifyErrorOmitsSecretAndSignature(t *testing.T) {
	now := time.Now()
	forged := Sign([]byte("forged-secret-0123456789"), now.Unix(), []byte("b"))
	_, err := verify([][]byte{acmeSecret}, strconv.FormatInt(now.Unix(), 10), forged, []byte("b"), now, time.Minute)
	if err == nil {
		t.Fatal("verify accepted a forged signature")
	}
	for _, leak := range []string{string(acmeSecret), forged, Sign(acmeSecret, now.Unix(), []byte("b"))} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("error %q contains %q", err, leak)
		}
	}
}

func FuzzVerifySignature(f *testing.F) {
	f.Add(int64(1_709_630_000), int64(0), []byte("body"), "", []byte("x"))
	f.Add(int64(1_709_630_000), int64(-400), []byte{}, "zz", []byte("Subject: a\r\n\r\n"))
	f.Add(int64(0), int64(299), []byte("\x00\xff"), "0123", []byte(""))

	f.Fuzz(func(t *testing.T, now, skew int64, body []byte, header string, tamper []byte) {
		if now < 0 || now > 1<<40 || skew < -1<<20 || skew > 1<<20 || now+skew < 0 {
			return
		}
		clock := time.Unix(now, 0)
		ts := now + skew
		tolerance := 5 * time.Minute
		fresh := skew >= -300 && skew <= 300
		secrets := [][]byte{acmeOldSecret, acmeSecret}

		_, err := verify(secrets, strconv.FormatInt(ts, 10), Sign(acmeSecret, ts, body), body, clock, tolerance)
		if fresh && err != nil {
			t.Fatalf("a correct signature %ds off the clock was rejected: %v", skew, err)
		}
		if !fresh && !errors.Is(err, ErrStaleTimestamp) {
			t.Fatalf("a signature %ds off the clock got %v, want ErrStaleTimestamp", skew, err)
		}

		// Any other body, or a made-up signature header, must not verify.
		tampered := append(append([]byte{}, body...), tamper...)
		if len(tamper) > 0 {
			if _, err := verify(secrets, strconv.FormatInt(ts, 10), Sign(acmeSecret, ts, body), tampered, clock, tolerance); err == nil {
				t.Fatalf("a signature over %q verified the body %q", body, tampered)
			}
		}
		if header != Sign(acmeSecret, ts, body) && !strings.EqualFold(header, Sign(acmeOldSecret, ts, body)) && !strings.EqualFold(header, Sign(acmeSecret, ts, body)) {
			if _, err := verify(secrets, strconv.FormatInt(ts, 10), header, body, clock, tolerance); err == nil {
				t.Fatalf("the made-up signature %q verified", header)
			}
		}
	})
}
