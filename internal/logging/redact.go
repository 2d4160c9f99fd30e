package logging

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
)

// redactHandler applies the redaction rule of the package comment before
// passing records on.
type redactHandler struct {
	next slog.Handler
}

// NewRedactHandler returns a handler that applies the redaction rule of
// the package comment to every record and attribute before passing them to next.
func NewRedactHandler(next slog.Handler) slog.Handler {
	return &redactHandler{next: next}
}

// Enabled reports whether next handles records at level.
func (h *redactHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle passes a copy of r with its message and attributes redacted.
func (h *redactHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, Scrub(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs redacts attrs once, when they are attached.
func (h *redactHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	redacted := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		redacted[i] = redactAttr(a)
	}
	return &redactHandler{next: h.next.WithAttrs(redacted)}
}

// WithGroup opens a group in next.
func (h *redactHandler) WithGroup(name string) slog.Handler {
	return &redactHandler{next: h.next.WithGroup(name)}
}

// keyClass is the kind of value an attribute key names.
type keyClass int

const (
	keyPlain   keyClass = iota
	keySecret           // masked unless a boolean or number
	keyContent          // a body or an address: always masked
	keyMessage          // a record key or message ID: replaced by its hash
)

// Key lists of the redaction rule. Keys are compared in lower case with
// "-" and "." read as "_".
var (
	secretParts   = []string{"password", "passwd", "secret", "token", "credential", "cookie", "authorization", "api_key", "apikey", "private_key", "salt"}
	secretKeys    = setOf("pass", "pwd", "auth", "signature", "dsn")
	contentParts  = []string{"body", "subject", "email"}
	contentKeys   = setOf("text", "html", "payload", "raw", "raw_mime", "content", "headers", "reply_text", "snippet", "from", "to", "cc", "bcc", "reply_to", "sender", "recipient", "recipients", "rcpt", "rcpt_to", "mail_from", "display_name")
	messageIDKeys = setOf("key", "record_key", "message_id", "in_reply_to", "references")
)

func setOf(keys ...string) map[string]bool {
	set := make(map[string]bool, len(keys))
	for _, k := range keys {
		set[k] = true
	}
	return set
}

// classifyKey returns the kind of value that key names.
func classifyKey(key string) keyClass {
	k := strings.NewReplacer("-", "_", ".", "_").Replace(strings.ToLower(key))
	switch {
	case messageIDKeys[k]:
		return keyMessage
	case secretKeys[k] || containsAny(k, secretParts):
		return keySecret
	case contentKeys[k] || containsAny(k, contentParts):
		return keyContent
	}
	return keyPlain
}

func containsAny(s string, parts []string) bool {
	for _, p := range parts {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// redactAttr applies the redaction rule to one attribute.
func redactAttr(a slog.Attr) slog.Attr {
	a.Value = a.Value.Resolve()
	kind := a.Value.Kind()

	switch classifyKey(a.Key) {
	case keySecret:
		if kind == slog.KindBool || kind == slog.KindInt64 || kind == slog.KindUint64 || kind == slog.KindFloat64 {
			return a
		}
		return slog.String(a.Key, Redacted)
	case keyContent:
		return slog.String(a.Key, Redacted)
	case keyMessage:
		if kind == slog.KindGroup {
			return slog.String(a.Key, Redacted)
		}
		return slog.String(a.Key, KeyHash([]byte(valueText(a.Value))))
	}

	switch kind {
	case slog.KindString:
		return slog.String(a.Key, Scrub(a.Value.String()))
	case slog.KindGroup:
		group := a.Value.Group()
		redacted := make([]slog.Attr, len(group))
		for i, g := range group {
			redacted[i] = redactAttr(g)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(redacted...)}
	case slog.KindAny:
		return slog.Attr{Key: a.Key, Value: redactAny(a.Value.Any())}
	}
	return a // numbers, booleans, times and durations
}

// valueText returns the text a handler would write for v.
func valueText(v slog.Value) string {
	if v.Kind() == slog.KindAny {
		switch x := v.Any().(type) {
		case []byte:
			return string(x)
		case error:
			return x.Error()
		}
	}
	return v.String()
}

// redactAny applies rules 4 to 6 of the package comment to a value of
// kind slog.KindAny.
func redactAny(v any) slog.Value {
	if v == nil {
		return slog.AnyValue(nil)
	}
	if name, ok := contractType(v); ok {
		return slog.StringValue("[REDACTED " + name + "]")
	}

	switch x := v.(type) {
	case []byte:
		return slog.StringValue(fmt.Sprintf("[%d bytes]", len(x)))
	case error:
		return slog.StringValue(Scrub(x.Error()))
	case fmt.Stringer:
		return slog.StringValue(Scrub(x.String()))
	case []string:
		out := make([]string, len(x))
		for i, s := range x {
			out[i] = Scrub(s)
		}
		return slog.AnyValue(out)
	}

	// Structs, maps and slices are kept as they are unless their printed
	// form holds something to scrub, so that the JSON output keeps their
	// shape in the usual case.
	text := fmt.Sprintf("%+v", v)
	if scrubbed := Scrub(text); scrubbed != text {
		return slog.StringValue(scrubbed)
	}
	return slog.AnyValue(v)
}

// contractType reports whether v, or what it points to or holds as
// elements, is a type that carries message content: any type of the
// mailtriage/schemas package, or processors.Message. It returns the type's
// name.
func contractType(v any) (string, bool) {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	switch {
	case t.PkgPath() == "mailtriage/schemas",
		t.PkgPath() == "mailtriage/processors" && t.Name() == "Message":
		return t.String(), true
	}
	return "", false
}
