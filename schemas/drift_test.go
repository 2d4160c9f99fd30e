package schemas

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// These tests keep types.go and the .avsc files from drifting apart: every
// Go field must have a schema field with its JSON name, in the same order,
// with an Avro type that the conversion expects, and the other way round.

// reporter is the part of testing.T that the comparison uses, so a test can
// run the comparison against a recorder and check that it reports.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// failureRecorder is a reporter that only counts failures.
type failureRecorder struct{ failures int }

func (r *failureRecorder) Helper()               {}
func (r *failureRecorder) Errorf(string, ...any) { r.failures++ }
func (r *failureRecorder) Fatalf(string, ...any) { r.failures++ }

// avroRecord is the part of a record schema the drift tests read.
type avroRecord struct {
	Type   string      `json:"type"`
	Name   string      `json:"name"`
	Doc    string      `json:"doc"`
	Fields []avroField `json:"fields"`
}

type avroField struct {
	Name    string          `json:"name"`
	Doc     string          `json:"doc"`
	Type    json.RawMessage `json:"type"`
	Default json.RawMessage `json:"default"`
}

// schemaFile parses a schema file and indexes its named records by short
// name, wherever they are defined in it.
type schemaFile struct {
	root    avroRecord
	records map[string]json.RawMessage
}

func loadSchemaFile(t *testing.T, file string) schemaFile {
	t.Helper()
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("reading %s: %v", file, err)
	}

	var s schemaFile
	if err := json.Unmarshal(text, &s.root); err != nil {
		t.Fatalf("parsing %s: %v", file, err)
	}
	s.records = map[string]json.RawMessage{}
	collectRecords(t, text, s.records)
	return s
}

// collectRecords finds every record definition inside raw.
func collectRecords(t *testing.T, raw json.RawMessage, into map[string]json.RawMessage) {
	t.Helper()
	var object map[string]json.RawMessage
	if json.Unmarshal(raw, &object) == nil {
		var kind, name string
		_ = json.Unmarshal(object["type"], &kind)
		_ = json.Unmarshal(object["name"], &name)
		if kind == "record" {
			into[name] = raw
		}
		for _, value := range object {
			collectRecords(t, value, into)
		}
		return
	}

	var items []json.RawMessage
	if json.Unmarshal(raw, &items) == nil {
		for _, item := range items {
			collectRecords(t, item, into)
		}
	}
}

// record returns the definition of a named record.
func (s schemaFile) record(t reporter, name string) avroRecord {
	t.Helper()
	raw, ok := s.records[name]
	if !ok {
		t.Fatalf("record %s is not defined in the schema file", name)
	}
	var r avroRecord
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("parsing record %s: %v", name, err)
	}
	return r
}

// jsonName returns the name a struct tag gives a field.
func jsonName(field reflect.StructField) string {
	name, _, _ := strings.Cut(field.Tag.Get("json"), ",")
	return name
}

// avroTypeFor returns the Avro type that the conversion code writes for a Go
// type, in the compact notation of describeAvroType.
func avroTypeFor(goType reflect.Type) string {
	if goType == reflect.TypeFor[time.Time]() {
		return "long.timestamp-millis"
	}
	switch goType.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int32:
		return "int"
	case reflect.Int64:
		return "long"
	case reflect.Float64:
		return "double"
	case reflect.Struct:
		return "mailtriage." + goType.Name()
	case reflect.Pointer:
		return "[null," + avroTypeFor(goType.Elem()) + "]"
	case reflect.Map:
		return "map<" + avroTypeFor(goType.Elem()) + ">"
	case reflect.Slice:
		if goType.Elem().Kind() == reflect.Uint8 {
			return "bytes"
		}
		return "array<" + avroTypeFor(goType.Elem()) + ">"
	}
	return "unsupported " + goType.String()
}

// avroTypeForField is avroTypeFor for a struct field. A time.Time tagged
// omitzero is optional and maps to a union with null.
func avroTypeForField(field reflect.StructField) string {
	_, options, _ := strings.Cut(field.Tag.Get("json"), ",")
	if field.Type == reflect.TypeFor[time.Time]() && strings.Contains(options, "omitzero") {
		return "[null,long.timestamp-millis]"
	}
	return avroTypeFor(field.Type)
}

// describeAvroType renders a schema type in the notation of avroTypeFor.
func describeAvroType(t reporter, raw json.RawMessage) string {
	t.Helper()
	var name string
	if json.Unmarshal(raw, &name) == nil {
		if strings.Contains(name, ".") || !strings.ContainsAny(name[:1], "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
			return name
		}
		return "mailtriage." + name
	}

	var branches []json.RawMessage
	if json.Unmarshal(raw, &branches) == nil {
		parts := make([]string, len(branches))
		for i, branch := range branches {
			parts[i] = describeAvroType(t, branch)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}

	var object struct {
		Type        string          `json:"type"`
		Name        string          `json:"name"`
		LogicalType string          `json:"logicalType"`
		Items       json.RawMessage `json:"items"`
		Values      json.RawMessage `json:"values"`
	}
	if err := json.Unmarshal(raw, &object); err != nil {
		t.Fatalf("unreadable schema type %s: %v", raw, err)
	}
	switch {
	case object.Type == "record":
		return "mailtriage." + object.Name
	case object.Type == "array":
		return "array<" + describeAvroType(t, object.Items) + ">"
	case object.Type == "map":
		return "map<" + describeAvroType(t, object.Values) + ">"
	case object.LogicalType != "":
		return object.Type + "." + object.LogicalType
	}
	return object.Type
}

// compareRecord checks one Go struct against the record of the same name
// and recurses into the records its fields use.
func compareRecord(t reporter, s schemaFile, goType reflect.Type, seen map[string]bool) {
	t.Helper()
	if seen[goType.Name()] {
		return
	}
	seen[goType.Name()] = true

	record := s.record(t, goType.Name())
	if record.Doc == "" {
		t.Errorf("record %s has no doc", record.Name)
	}

	var goNames, avroNames []string
	for i := range goType.NumField() {
		goNames = append(goNames, jsonName(goType.Field(i)))
	}
	for _, field := range record.Fields {
		avroNames = append(avroNames, field.Name)
	}
	if strings.Join(goNames, ",") != strings.Join(avroNames, ",") {
		t.Errorf("%s fields differ:\n  Go:   %s\n  Avro: %s", goType.Name(), strings.Join(goNames, ", "), strings.Join(avroNames, ", "))
		return
	}

	for i, field := range record.Fields {
		goField := goType.Field(i)
		if field.Doc == "" {
			t.Errorf("field %s.%s has no doc", record.Name, field.Name)
		}

		want := avroTypeForField(goField)
		if got := describeAvroType(t, field.Type); got != want {
			t.Errorf("field %s.%s has Avro type %s, but Go field %s (%s) converts to %s", record.Name, field.Name, got, goField.Name, goField.Type, want)
		}

		if nested := structOf(goField.Type); nested != nil && nested != reflect.TypeFor[time.Time]() {
			compareRecord(t, s, nested, seen)
		}
	}
}

// structOf returns the struct type a field type holds directly, through a
// pointer or as slice items, or nil.
func structOf(goType reflect.Type) reflect.Type {
	switch goType.Kind() {
	case reflect.Struct:
		return goType
	case reflect.Pointer, reflect.Slice:
		return structOf(goType.Elem())
	}
	return nil
}

var contractTypes = []struct {
	file   string
	goType reflect.Type
}{
	{"inbound_email.avsc", reflect.TypeFor[InboundEmail]()},
	{"ticket_command.avsc", reflect.TypeFor[TicketCommand]()},
	{"notification.avsc", reflect.TypeFor[Notification]()},
	{"decision_event.avsc", reflect.TypeFor[DecisionEvent]()},
	{"dead_letter.avsc", reflect.TypeFor[DeadLetter]()},
}

func TestDriftGoFieldsInSchema(t *testing.T) {
	for _, tc := range contractTypes {
		t.Run(tc.goType.Name(), func(t *testing.T) {
			s := loadSchemaFile(t, tc.file)
			if s.root.Name != tc.goType.Name() {
				t.Fatalf("%s defines %s at the top, want %s", tc.file, s.root.Name, tc.goType.Name())
			}
			compareRecord(t, s, tc.goType, map[string]bool{})
		})
	}
}

func TestDriftFieldsHaveDefaults(t *testing.T) {
	// Every field except a required timestamp has a default, so a reader
	// with a later schema version can fill it in for older records.
	for _, tc := range contractTypes {
		s := loadSchemaFile(t, tc.file)
		for name := range s.records {
			record := s.record(t, name)
			for _, field := range record.Fields {
				isTimestamp := describeAvroType(t, field.Type) == "long.timestamp-millis"
				if len(field.Default) == 0 && !isTimestamp {
					t.Errorf("%s: field %s.%s has no default", tc.file, name, field.Name)
				}
			}
		}
	}
}

func TestDriftSharedRecordsIdentical(t *testing.T) {
	// Address, Attachment, BlobRef, Reason and LabelScore are written out
	// in several files. Every copy must match, docs and defaults included.
	first := map[string]string{}
	firstFile := map[string]string{}
	for _, tc := range contractTypes {
		s := loadSchemaFile(t, tc.file)
		for name, raw := range s.records {
			normalized := normalizeJSON(t, raw)
			if previous, ok := first[name]; ok && previous != normalized {
				t.Errorf("record %s in %s differs from its copy in %s", name, tc.file, firstFile[name])
				continue
			}
			first[name] = normalized
			firstFile[name] = tc.file
		}
	}

	for _, shared := range []string{"Address", "Attachment", "BlobRef", "Reason", "LabelScore"} {
		if _, ok := first[shared]; !ok {
			t.Errorf("record %s is not defined in any schema file", shared)
		}
	}
}

// normalizeJSON re-encodes JSON with sorted keys and no spacing.
func normalizeJSON(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var value any
	if err := json.Unmarshal(raw, &value); err != nil {
		t.Fatalf("parsing %s: %v", raw, err)
	}
	out, err := json.Marshal(value)
	if err != nil {
		t.Fatalf("encoding: %v", err)
	}
	return string(out)
}

func TestDriftDetectsMismatch(t *testing.T) {
	// The comparison itself must notice a renamed field and a changed type.
	type Probe struct {
		A string `json:"a"`
		B int64  `json:"b"`
	}
	s := schemaFile{records: map[string]json.RawMessage{
		"Probe": json.RawMessage(`{"type":"record","name":"Probe","doc":"d","fields":[
			{"name":"a","type":"string","doc":"d"},{"name":"b","type":"int","doc":"d"}]}`),
	}}

	recorder := &failureRecorder{}
	compareRecord(recorder, s, reflect.TypeFor[Probe](), map[string]bool{})
	if recorder.failures == 0 {
		t.Error("compareRecord accepted an int schema field for an int64 Go field")
	}

	s.records["Probe"] = json.RawMessage(`{"type":"record","name":"Probe","doc":"d","fields":[
		{"name":"a","type":"string","doc":"d"},{"name":"c","type":"long","doc":"d"}]}`)
	recorder = &failureRecorder{}
	compareRecord(recorder, s, reflect.TypeFor[Probe](), map[string]bool{})
	if recorder.failures == 0 {
		t.Error("compareRecord accepted a schema field c for the Go field b")
	}
}

// Make sure the notation helpers agree on a known case, so a bug in one of
// them cannot hide a mismatch.
func TestDriftNotation(t *testing.T) {
	tests := []struct {
		goType reflect.Type
		schema string
		want   string
	}{
		{reflect.TypeFor[*Address](), `["null",{"type":"record","name":"Address","fields":[]}]`, "[null,mailtriage.Address]"},
		{reflect.TypeFor[[]Address](), `{"type":"array","items":"Address"}`, "array<mailtriage.Address>"},
		{reflect.TypeFor[map[string]int32](), `{"type":"map","values":"int"}`, "map<int>"},
		{reflect.TypeFor[[]byte](), `"bytes"`, "bytes"},
		{reflect.TypeFor[time.Time](), `{"type":"long","logicalType":"timestamp-millis"}`, "long.timestamp-millis"},
	}
	for _, tc := range tests {
		if got := avroTypeFor(tc.goType); got != tc.want {
			t.Errorf("avroTypeFor(%s) = %s, want %s", tc.goType, got, tc.want)
		}
		if got := describeAvroType(t, json.RawMessage(tc.schema)); got != tc.want {
			t.Errorf("describeAvroType(%s) = %s, want %s", tc.schema, got, tc.want)
		}
	}
}
