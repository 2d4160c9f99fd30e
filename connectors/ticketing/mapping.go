package ticketing

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"text/template"
	"time"

	"go.yaml.in/yaml/v3"
)

// Mapping builds the JSON bodies of the generic REST target. Each entry
// maps an external field, dotted for a nested object ("requester.email"),
// to a contract field name from SourceFields or to a text/template that
// contains "{{" and reads the same names (`{{.requester.name}}`).
type Mapping struct {
	// Ticket maps the fields of the create body.
	Ticket map[string]string `yaml:"ticket"`
	// Comment maps the fields of the comment body.
	Comment map[string]string `yaml:"comment"`
	// IDField is the field of the create and lookup responses that holds
	// the ticket ID, a number or a string. Default "id".
	IDField string `yaml:"idField"`

	ticket  []fieldRule
	comment []fieldRule
}

// SourceFields lists the names a mapping may use, with what each holds.
// Only redacted text is among them: the subject, the reply text and the
// body built from it, never the full text or the raw message.
var SourceFields = map[string]string{
	"eventId":               "eventId of the command",
	"tenant":                "tenant",
	"action":                "\"create\" or \"append\"",
	"ticketRef":             "ticket reference, such as T-0ABCDEFGHJ",
	"messageId":             "Message-ID of the email",
	"queue":                 "queue",
	"priority":              "low, normal, high or urgent",
	"tags":                  "tags (a JSON array)",
	"requester.name":        "requester's display name",
	"requester.address":     "requester's address",
	"subject":               "redacted subject",
	"replyText":             "redacted reply text",
	"body":                  "ticket description or comment text, with the comment's event marker line",
	"receivedAt":            "time the email arrived (RFC 3339)",
	"linkedTicketRef":       "reference of the earlier ticket this one is linked to",
	"linkedExternalId":      "external ID of that earlier ticket, when this sink created it",
	"idempotencyKey":        "tenant/ticketRef, the key the lookup searches by",
	"reason.kind":           "rule, model or fallback",
	"reason.ruleId":         "ID of the rule that routed the message",
	"reason.rulesetVersion": "version of the ruleset in force",
	"reason.modelVersion":   "version of the model that routed the message",
}

// DefaultMapping returns the mapping used without a mapping file.
func DefaultMapping() *Mapping {
	m := &Mapping{
		Ticket: map[string]string{
			"subject":         "subject",
			"description":     "body",
			"requester.name":  "requester.name",
			"requester.email": "requester.address",
			"priority":        "priority",
			"queue":           "queue",
			"tags":            "tags",
			"tenant":          "tenant",
			"ticketRef":       "ticketRef",
			"linkedTicketRef": "linkedTicketRef",
			"idempotency_key": "idempotencyKey",
		},
		Comment: map[string]string{
			"body":            "body",
			"idempotency_key": "eventId",
		},
	}
	if err := m.compile(); err != nil {
		panic("the default mapping is invalid: " + err.Error())
	}
	return m
}

// LoadMapping reads a mapping file such as
//
//	ticket:
//	  title: "[{{.ticketRef}}] {{.subject}}"
//	  description: body
//	  customer.email: requester.address
//	  idempotency_key: idempotencyKey
//	comment:
//	  text: body
//	  idempotency_key: eventId
//	idField: id
//
// and checks every entry. Unknown keys are an error.
func LoadMapping(path string) (*Mapping, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the mapping file: %w", err)
	}
	var m Mapping
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("parsing the mapping file %s: %w: expected the keys \"ticket\", \"comment\" (maps of external field to contract field or template) and \"idField\"", path, err)
	}
	if err := m.compile(); err != nil {
		return nil, fmt.Errorf("mapping file %s: %w", path, err)
	}
	return &m, nil
}

// fieldRule is one compiled mapping entry.
type fieldRule struct {
	path     []string // external field, split at '.'
	source   string   // contract field name; empty for a template
	template *template.Template
}

// compile checks the entries and prepares them.
func (m *Mapping) compile() error {
	if m.IDField == "" {
		m.IDField = "id"
	}
	if len(m.Ticket) == 0 {
		return errors.New("\"ticket\" maps no field: map at least the subject and the body")
	}
	var err error
	if m.ticket, err = compileRules("ticket", m.Ticket); err != nil {
		return err
	}
	if len(m.Comment) == 0 {
		m.Comment = map[string]string{"body": "body", "idempotency_key": "eventId"}
	}
	if m.comment, err = compileRules("comment", m.Comment); err != nil {
		return err
	}
	if !m.commentHasEvent() {
		return errors.New("\"comment\" maps neither \"body\" nor \"eventId\": map one of them, or the sink cannot find a comment it posted before a crash")
	}
	return nil
}

// commentHasEvent reports whether the comment body carries the event ID,
// directly or through the body's marker line.
func (m *Mapping) commentHasEvent() bool {
	for _, r := range m.comment {
		if r.source == "eventId" || r.source == "body" {
			return true
		}
		if r.template != nil && (strings.Contains(r.template.Root.String(), ".eventId") || strings.Contains(r.template.Root.String(), ".body")) {
			return true
		}
	}
	return false
}

// keyField returns the external field that the ticket mapping fills with
// the idempotency key, or nil.
func (m *Mapping) keyField() []string {
	for _, r := range m.ticket {
		if r.source == "idempotencyKey" {
			return r.path
		}
	}
	return nil
}

// commentKeyField returns the external field of the comment that holds
// the eventId, or nil.
func (m *Mapping) commentKeyField() []string {
	for _, r := range m.comment {
		if r.source == "eventId" {
			return r.path
		}
	}
	return nil
}

// compileRules compiles the entries of one section, sorted by field so
// that errors come in a stable order.
func compileRules(section string, entries map[string]string) ([]fieldRule, error) {
	fields := make([]string, 0, len(entries))
	for f := range entries {
		fields = append(fields, f)
	}
	sort.Strings(fields)

	rules := make([]fieldRule, 0, len(fields))
	for _, field := range fields {
		value := strings.TrimSpace(entries[field])
		path := strings.Split(field, ".")
		if slices.Contains(path, "") {
			return nil, fmt.Errorf("%s field %q has an empty part: write fields as name or parent.name", section, field)
		}
		rule := fieldRule{path: path}
		switch {
		case strings.Contains(value, "{{"):
			tmpl, err := template.New(field).Option("missingkey=error").Parse(value)
			if err != nil {
				return nil, fmt.Errorf("%s field %q: invalid template: %w", section, field, err)
			}
			rule.template = tmpl
		case SourceFields[value] != "":
			rule.source = value
		default:
			return nil, fmt.Errorf("%s field %q maps to unknown contract field %q: use one of %s, or a template such as \"{{.subject}}\"",
				section, field, value, strings.Join(sourceNames(), ", "))
		}
		rules = append(rules, rule)
	}
	for i, a := range rules {
		for _, b := range rules[i+1:] {
			if isPrefix(a.path, b.path) || isPrefix(b.path, a.path) {
				return nil, fmt.Errorf("%s fields %q and %q overlap: one is an object that contains the other",
					section, strings.Join(a.path, "."), strings.Join(b.path, "."))
			}
		}
	}
	return rules, nil
}

func isPrefix(prefix, path []string) bool {
	return len(prefix) <= len(path) && slices.Equal(prefix, path[:len(prefix)])
}

func sourceNames() []string {
	names := make([]string, 0, len(SourceFields))
	for n := range SourceFields {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// sourceValues returns the values of SourceFields for a command, as the
// mapping and its templates see them.
func sourceValues(t *Ticket, body string) map[string]any {
	cmd := t.Command
	tags := t.Tags
	if tags == nil {
		tags = []string{}
	}
	return map[string]any{
		"eventId":          cmd.EventID,
		"tenant":           t.Tenant,
		"action":           cmd.Action,
		"ticketRef":        t.TicketRef,
		"messageId":        cmd.MessageID,
		"queue":            t.Queue,
		"priority":         t.Priority,
		"tags":             tags,
		"requester":        map[string]any{"name": t.Requester.Name, "address": t.Requester.Address},
		"subject":          t.Subject,
		"replyText":        redact(cmd.ReplyText, maxBodyRunes),
		"body":             body,
		"receivedAt":       t.ReceivedAt.UTC().Format(time.RFC3339Nano),
		"linkedTicketRef":  t.LinkedTicketRef,
		"linkedExternalId": t.LinkedExternalID,
		"idempotencyKey":   t.Key,
		"reason": map[string]any{
			"kind":           cmd.Reason.Kind,
			"ruleId":         cmd.Reason.RuleID,
			"rulesetVersion": cmd.Reason.RulesetVersion,
			"modelVersion":   cmd.Reason.ModelVersion,
		},
	}
}

// lookupValue returns the value of a dotted source name in values.
func lookupValue(values map[string]any, name string) any {
	var cur any = values
	for part := range strings.SplitSeq(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}

// build returns the JSON object of rules over values.
func build(rules []fieldRule, values map[string]any) (map[string]any, error) {
	out := map[string]any{}
	for _, r := range rules {
		var v any
		if r.template != nil {
			var buf strings.Builder
			if err := r.template.Execute(&buf, values); err != nil {
				return nil, fmt.Errorf("field %q: executing its template: %w", strings.Join(r.path, "."), err)
			}
			v = buf.String()
		} else {
			v = lookupValue(values, r.source)
		}
		setPath(out, r.path, v)
	}
	return out, nil
}

// setPath sets obj[path[0]][path[1]]… = v, creating the objects between.
func setPath(obj map[string]any, path []string, v any) {
	for _, part := range path[:len(path)-1] {
		next, ok := obj[part].(map[string]any)
		if !ok {
			next = map[string]any{}
			obj[part] = next
		}
		obj = next
	}
	obj[path[len(path)-1]] = v
}

// getPath returns obj[path[0]][path[1]]… or nil.
func getPath(obj map[string]any, path []string) any {
	var cur any = obj
	for _, part := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}
