package schemas

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/linkedin/goavro/v2"
)

// goavro v2.15 sizes the slice of an array, and the map of a map, by the
// block count that the record declares, before it reads a single item. It
// accepts counts up to goavro.MaxBlockCount, 2^31-1 by default, so a
// 22-byte record that declares 2^31-1 tags makes it allocate 32 GiB and
// the Go runtime aborts the process with "out of memory". A consumer would
// then crash on the same record after every restart.
//
// checkBody therefore walks the Avro binary body against the writer schema
// before goavro decodes it. It rejects a block count that the bytes left in
// the body cannot hold: any count above the remaining length divided by the
// minimum encoded size of one item. goavro then allocates at most 16 bytes
// of slice, or one map slot, per byte of input for each array or map.
// Lengths of strings and bytes are checked against the bytes left too, as
// goavro also does.

// avroKind is the type of one node of a schema, as checkBody reads it.
type avroKind uint8

const (
	kindNull avroKind = iota
	kindBoolean
	kindVarint // int, long and enum: one zig-zag varint
	kindFloat
	kindDouble
	kindBytes // bytes and string
	kindFixed
	kindRecord
	kindArray
	kindMap
	kindUnion
)

// bodyShape is the part of an Avro schema that checkBody needs.
type bodyShape struct {
	kind     avroKind
	children []*bodyShape // record fields in order, or union branches
	item     *bodyShape   // array items or map values
	size     int          // fixed size in bytes
	minBytes int          // smallest encoded size of one value
}

// bodyShapes caches the shape of each codec's schema: the contracts and
// their history versions.
var bodyShapes sync.Map // *goavro.Codec → *bodyShape

// checkBody returns an error when body cannot be a value of codec's
// schema: a string, bytes or block count larger than the bytes left, a
// union index out of range or a truncated value. Once the shape is
// cached, it allocates nothing for a body that passes. Bytes after the
// value are left to the caller.
func checkBody(codec *goavro.Codec, body []byte) error {
	shape, err := shapeOf(codec)
	if err != nil {
		return err
	}
	_, err = shape.skip(body, len(body))
	return err
}

// shapeOf returns the cached shape of codec's schema, building it on the
// first call.
func shapeOf(codec *goavro.Codec) (*bodyShape, error) {
	if cached, ok := bodyShapes.Load(codec); ok {
		return cached.(*bodyShape), nil
	}

	var schema any
	if err := json.Unmarshal([]byte(canonicalForm(codec)), &schema); err != nil {
		return nil, fmt.Errorf("reading the canonical form of schema %s: %w", codec.Schema(), err)
	}
	shape, err := buildShape(schema, map[string]*bodyShape{})
	if err != nil {
		return nil, err
	}
	shape.computeMinBytes(map[*bodyShape]bool{})
	actual, _ := bodyShapes.LoadOrStore(codec, shape)
	return actual.(*bodyShape), nil
}

// buildShape converts one node of a schema in Parsing Canonical Form.
// named holds the records, enums and fixed types defined so far, by full
// name, because canonical form defines each once and then refers to it by
// name.
func buildShape(node any, named map[string]*bodyShape) (*bodyShape, error) {
	switch n := node.(type) {
	case string:
		return primitiveOrNamed(n, named)
	case []any:
		union := &bodyShape{kind: kindUnion}
		for _, branch := range n {
			shape, err := buildShape(branch, named)
			if err != nil {
				return nil, err
			}
			union.children = append(union.children, shape)
		}
		return union, nil
	case map[string]any:
		return complexShape(n, named)
	}
	return nil, fmt.Errorf("unexpected schema node %v", node)
}

// primitiveOrNamed returns the shape of a primitive type name or of a
// named type defined earlier.
func primitiveOrNamed(name string, named map[string]*bodyShape) (*bodyShape, error) {
	switch name {
	case "null":
		return &bodyShape{kind: kindNull}, nil
	case "boolean":
		return &bodyShape{kind: kindBoolean}, nil
	case "int", "long":
		return &bodyShape{kind: kindVarint}, nil
	case "float":
		return &bodyShape{kind: kindFloat}, nil
	case "double":
		return &bodyShape{kind: kindDouble}, nil
	case "bytes", "string":
		return &bodyShape{kind: kindBytes}, nil
	}
	if shape, ok := named[name]; ok {
		return shape, nil
	}
	return nil, fmt.Errorf("unknown type name %q", name)
}

// complexShape returns the shape of a schema node in object form.
func complexShape(node map[string]any, named map[string]*bodyShape) (*bodyShape, error) {
	typeName, _ := node["type"].(string)
	switch typeName {
	case "record", "error":
		record := &bodyShape{kind: kindRecord}
		if name, ok := node["name"].(string); ok {
			named[name] = record // before the fields, which may refer to it
		}
		fields, _ := node["fields"].([]any)
		for _, f := range fields {
			field, _ := f.(map[string]any)
			shape, err := buildShape(field["type"], named)
			if err != nil {
				return nil, err
			}
			record.children = append(record.children, shape)
		}
		return record, nil
	case "enum":
		return registerNamed(node, named, &bodyShape{kind: kindVarint}), nil
	case "fixed":
		size, _ := node["size"].(float64)
		return registerNamed(node, named, &bodyShape{kind: kindFixed, size: int(size)}), nil
	case "array":
		item, err := buildShape(node["items"], named)
		return &bodyShape{kind: kindArray, item: item}, err
	case "map":
		value, err := buildShape(node["values"], named)
		return &bodyShape{kind: kindMap, item: value}, err
	}
	return primitiveOrNamed(typeName, named)
}

func registerNamed(node map[string]any, named map[string]*bodyShape, shape *bodyShape) *bodyShape {
	if name, ok := node["name"].(string); ok {
		named[name] = shape
	}
	return shape
}

// computeMinBytes sets minBytes on s and everything below it. A record
// that contains itself counts as 0 bytes inside itself, which keeps the
// bound low rather than wrong.
func (s *bodyShape) computeMinBytes(visiting map[*bodyShape]bool) int {
	if visiting[s] {
		return s.minBytes
	}
	visiting[s] = true
	defer delete(visiting, s)

	switch s.kind {
	case kindNull:
		s.minBytes = 0
	case kindFloat:
		s.minBytes = 4
	case kindDouble:
		s.minBytes = 8
	case kindFixed:
		s.minBytes = s.size
	case kindRecord:
		total := 0
		for _, field := range s.children {
			total += field.computeMinBytes(visiting)
		}
		s.minBytes = total
	case kindUnion:
		smallest := -1
		for _, branch := range s.children {
			if n := branch.computeMinBytes(visiting); smallest < 0 || n < smallest {
				smallest = n
			}
		}
		s.minBytes = 1 + max(smallest, 0)
	case kindArray, kindMap:
		s.item.computeMinBytes(visiting)
		s.minBytes = 1 // the closing zero count
	default: // boolean, varint, bytes: at least one byte
		s.minBytes = 1
	}
	return s.minBytes
}

var errTruncated = errors.New("the body ends inside a value")

// skip returns buf after one value of s, or an error when the value
// cannot fit in buf. total is the length of the whole body, for messages.
func (s *bodyShape) skip(buf []byte, total int) ([]byte, error) {
	switch s.kind {
	case kindNull:
		return buf, nil
	case kindBoolean:
		return skipBytes(buf, 1)
	case kindVarint:
		_, rest, err := readVarint(buf)
		return rest, err
	case kindFloat:
		return skipBytes(buf, 4)
	case kindDouble:
		return skipBytes(buf, 8)
	case kindFixed:
		return skipBytes(buf, s.size)
	case kindBytes:
		return skipLengthPrefixed(buf, total)
	case kindRecord:
		var err error
		for _, field := range s.children {
			if buf, err = field.skip(buf, total); err != nil {
				return nil, err
			}
		}
		return buf, nil
	case kindUnion:
		return s.skipUnion(buf, total)
	default: // kindArray, kindMap
		return s.skipBlocks(buf, total)
	}
}

func (s *bodyShape) skipUnion(buf []byte, total int) ([]byte, error) {
	index, rest, err := readVarint(buf)
	if err != nil {
		return nil, err
	}
	if index < 0 || index >= int64(len(s.children)) {
		return nil, fmt.Errorf("union index %d at byte %d is not one of the %d branches", index, total-len(buf), len(s.children))
	}
	return s.children[index].skip(rest, total)
}

// skipBlocks skips the blocks of an array or a map. Each block is a count
// (negative when its byte size follows) and that many items, and a zero
// count ends the value.
func (s *bodyShape) skipBlocks(buf []byte, total int) ([]byte, error) {
	itemBytes := s.item.minBytes
	if s.kind == kindMap {
		itemBytes++ // the key is a string of at least one byte
	}
	itemBytes = max(itemBytes, 1)

	for {
		at := total - len(buf)
		count, rest, err := readVarint(buf)
		if err != nil {
			return nil, err
		}
		if count == 0 {
			return rest, nil
		}
		if count < 0 {
			if _, rest, err = readVarint(rest); err != nil { // the block size in bytes
				return nil, err
			}
			count = -count // a count of -2^63 stays negative and fails below
		}
		if count < 0 || count > int64(len(rest)/itemBytes) {
			return nil, fmt.Errorf("the block count %d at byte %d needs at least %d bytes per item, but only %d bytes are left", count, at, itemBytes, len(rest))
		}

		buf = rest
		for range count {
			if s.kind == kindMap {
				if buf, err = skipLengthPrefixed(buf, total); err != nil {
					return nil, err
				}
			}
			if buf, err = s.item.skip(buf, total); err != nil {
				return nil, err
			}
		}
	}
}

// readVarint reads one zig-zag varint, the encoding of Avro int and long.
func readVarint(buf []byte) (int64, []byte, error) {
	v, n := binary.Varint(buf)
	switch {
	case n == 0:
		return 0, nil, errTruncated
	case n < 0:
		return 0, nil, errors.New("a varint is longer than 64 bits")
	}
	return v, buf[n:], nil
}

func skipBytes(buf []byte, n int) ([]byte, error) {
	if len(buf) < n {
		return nil, errTruncated
	}
	return buf[n:], nil
}

func skipLengthPrefixed(buf []byte, total int) ([]byte, error) {
	at := total - len(buf)
	length, rest, err := readVarint(buf)
	if err != nil {
		return nil, err
	}
	if length < 0 || length > int64(len(rest)) {
		return nil, fmt.Errorf("the length %d at byte %d exceeds the %d bytes left", length, at, len(rest))
	}
	return rest[length:], nil
}

// decodeNative decodes body with codec once checkBody accepts it. Every
// decode of a record from outside the process goes through it.
func decodeNative(codec *goavro.Codec, body []byte) (any, []byte, error) {
	if err := checkBody(codec, body); err != nil {
		return nil, body, err
	}
	return codec.NativeFromBinary(body)
}
