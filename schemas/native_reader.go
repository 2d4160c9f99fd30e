package schemas

import (
	"fmt"
	"time"
)

// recordReader reads typed fields out of one record that goavro decoded into
// its native form (map[string]any). It keeps the first failure in an error
// shared with the readers of nested records, so conversion functions read
// field after field and check the error once at the end.
type recordReader struct {
	path   string
	fields map[string]any
	err    *error
}

// newRecordReader starts reading the top-level record named path.
func newRecordReader(path string, native any) *recordReader {
	var err error
	r := &recordReader{path: path, err: &err}
	r.fields = r.asRecord(path, native)
	return r
}

// failed reports whether any field read so far failed.
func (r *recordReader) failed() error { return *r.err }

// fail records a type error for the value at path unless one was recorded
// before.
func (r *recordReader) fail(path, expected string, got any) {
	if *r.err == nil {
		*r.err = fmt.Errorf("field %s: expected %s, decoded %T", path, expected, got)
	}
}

// field returns the raw native value of a field and its path.
func (r *recordReader) field(name string) (any, string) {
	path := r.path + "." + name
	value, ok := r.fields[name]
	if !ok && *r.err == nil {
		*r.err = fmt.Errorf("field %s: missing from the decoded record", path)
	}
	return value, path
}

// asRecord converts a native value to the field map of a record.
func (r *recordReader) asRecord(path string, value any) map[string]any {
	fields, ok := value.(map[string]any)
	if !ok {
		r.fail(path, "a record", value)
	}
	return fields
}

// child returns a reader for a nested record that shares this reader's error.
func (r *recordReader) child(path string, value any) *recordReader {
	return &recordReader{path: path, fields: r.asRecord(path, value), err: r.err}
}

func (r *recordReader) string(name string) string {
	value, path := r.field(name)
	s, ok := value.(string)
	if !ok {
		r.fail(path, "a string", value)
	}
	return s
}

func (r *recordReader) bool(name string) bool {
	value, path := r.field(name)
	b, ok := value.(bool)
	if !ok {
		r.fail(path, "a boolean", value)
	}
	return b
}

func (r *recordReader) int32(name string) int32 {
	value, path := r.field(name)
	n, ok := value.(int32)
	if !ok {
		r.fail(path, "an int", value)
	}
	return n
}

func (r *recordReader) int64(name string) int64 {
	value, path := r.field(name)
	n, ok := value.(int64)
	if !ok {
		r.fail(path, "a long", value)
	}
	return n
}

func (r *recordReader) float64(name string) float64 {
	value, path := r.field(name)
	f, ok := value.(float64)
	if !ok {
		r.fail(path, "a double", value)
	}
	return f
}

// bytes reads a bytes field. An empty value comes back as nil.
func (r *recordReader) bytes(name string) []byte {
	value, path := r.field(name)
	b, ok := value.([]byte)
	if !ok {
		r.fail(path, "bytes", value)
	}
	if len(b) == 0 {
		return nil
	}
	return b
}

// time reads a timestamp-millis field as a UTC time.
func (r *recordReader) time(name string) time.Time {
	value, path := r.field(name)
	t, ok := value.(time.Time)
	if !ok {
		r.fail(path, "a timestamp-millis", value)
	}
	return t.UTC()
}

// optionalTime reads a ["null", timestamp-millis] field. Null comes back as
// the zero time.
func (r *recordReader) optionalTime(name string) time.Time {
	value, path := r.field(name)
	branch, ok := r.unionBranch(path, value, unionTimestampMillis)
	if !ok {
		return time.Time{}
	}
	t, isTime := branch.(time.Time)
	if !isTime {
		r.fail(path, "a timestamp-millis", branch)
	}
	return t.UTC()
}

// strings reads an array of strings. An empty array comes back as nil.
func (r *recordReader) strings(name string) []string {
	value, path := r.field(name)
	items := r.asArray(path, value)
	if len(items) == 0 {
		return nil
	}

	out := make([]string, len(items))
	for i, item := range items {
		s, ok := item.(string)
		if !ok {
			r.fail(fmt.Sprintf("%s[%d]", path, i), "a string", item)
		}
		out[i] = s
	}
	return out
}

// counts reads a map of ints. An empty map comes back as nil.
func (r *recordReader) counts(name string) map[string]int32 {
	value, path := r.field(name)
	entries, ok := value.(map[string]any)
	if !ok {
		r.fail(path, "a map", value)
	}
	if len(entries) == 0 {
		return nil
	}

	out := make(map[string]int32, len(entries))
	for key, entry := range entries {
		n, isInt := entry.(int32)
		if !isInt {
			r.fail(fmt.Sprintf("%s[%q]", path, key), "an int", entry)
		}
		out[key] = n
	}
	return out
}

// record returns a reader for a nested record field.
func (r *recordReader) record(name string) *recordReader {
	value, path := r.field(name)
	return r.child(path, value)
}

// optionalRecord returns a reader for a ["null", record] field, or nil when
// the field is null. branchName is the full Avro name of the record.
func (r *recordReader) optionalRecord(name, branchName string) *recordReader {
	value, path := r.field(name)
	branch, ok := r.unionBranch(path, value, branchName)
	if !ok {
		return nil
	}
	return r.child(path, branch)
}

// records returns one reader per item of an array of records. An empty
// array returns nil.
func (r *recordReader) records(name string) []*recordReader {
	value, path := r.field(name)
	items := r.asArray(path, value)
	if len(items) == 0 {
		return nil
	}

	out := make([]*recordReader, len(items))
	for i, item := range items {
		out[i] = r.child(fmt.Sprintf("%s[%d]", path, i), item)
	}
	return out
}

// asArray converts a native value to the items of an array.
func (r *recordReader) asArray(path string, value any) []any {
	items, ok := value.([]any)
	if !ok {
		r.fail(path, "an array", value)
	}
	return items
}

// unionBranch unwraps a ["null", X] union value. goavro decodes null as nil
// and X as a one-entry map keyed by the full name of X. ok is false for null
// and on a type error.
func (r *recordReader) unionBranch(path string, value any, branchName string) (any, bool) {
	if value == nil {
		return nil, false
	}

	wrapped, isMap := value.(map[string]any)
	branch, found := wrapped[branchName]
	if !isMap || !found || len(wrapped) != 1 {
		r.fail(path, "null or a "+branchName, value)
		return nil, false
	}
	return branch, true
}
