package model

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Example is one labeled text.
type Example struct {
	Text  string
	Label string
	// Line is the line of the row in its file, from 1; 0 when the example
	// did not come from a file.
	Line int
}

// Data formats that ReadExamples reads.
const (
	FormatCSV   = "csv"
	FormatJSONL = "jsonl"
)

// maxJSONLLine bounds one JSONL line.
const maxJSONLLine = 16 << 20

// DataSource names a labeled data file and the columns to read from it.
type DataSource struct {
	// Path is the file to read.
	Path string
	// Format is FormatCSV or FormatJSONL. Empty picks it from the
	// extension: .jsonl and .ndjson are JSONL, .csv is CSV.
	Format string
	// TextColumn and LabelColumn name the CSV header columns or the JSON
	// object keys of the text and the label.
	TextColumn  string
	LabelColumn string
}

// FormatOf returns the format that path's extension implies, or an error
// that names the --format flag.
func FormatOf(path string) (string, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return FormatCSV, nil
	case ".jsonl", ".ndjson":
		return FormatJSONL, nil
	}
	return "", fmt.Errorf("cannot tell the format of %s from its extension: name the file .csv or .jsonl, or pass --format csv or --format jsonl", path)
}

// ReadExamples reads every row of src. An error names the file, the line
// and the fix: a missing column, a row with the wrong field count, an
// empty text or label, or invalid JSON.
func ReadExamples(src DataSource) ([]Example, error) {
	format := src.Format
	if format == "" {
		var err error
		if format, err = FormatOf(src.Path); err != nil {
			return nil, err
		}
	}
	if src.TextColumn == "" || src.LabelColumn == "" {
		return nil, errors.New("the text and label columns must be named: pass --text-col and --label-col")
	}

	f, err := os.Open(src.Path)
	if err != nil {
		return nil, fmt.Errorf("reading labeled data: %w", err)
	}
	defer f.Close()

	var examples []Example
	switch format {
	case FormatCSV:
		examples, err = readCSV(f, src)
	case FormatJSONL:
		examples, err = readJSONL(f, src)
	default:
		return nil, fmt.Errorf("unknown data format %q: use csv or jsonl", format)
	}
	if err != nil {
		return nil, err
	}
	if len(examples) == 0 {
		return nil, fmt.Errorf("%s: no rows after the header: add labeled rows", src.Path)
	}
	return examples, nil
}

// readCSV reads a CSV file whose first row is the header.
func readCSV(r io.Reader, src DataSource) ([]Example, error) {
	cr := csv.NewReader(bufio.NewReader(r))
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: the file is empty: add a header row such as %q and labeled rows", src.Path, src.TextColumn+","+src.LabelColumn)
	}
	if err != nil {
		return nil, csvError(src.Path, err)
	}
	header[0] = strings.TrimPrefix(header[0], "\ufeff")
	textAt, labelAt, err := columnIndexes(src, header)
	if err != nil {
		return nil, err
	}

	var examples []Example
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return examples, nil
		}
		if err != nil {
			return nil, csvError(src.Path, err)
		}
		line, _ := cr.FieldPos(0)
		e := Example{Text: rec[textAt], Label: strings.TrimSpace(rec[labelAt]), Line: line}
		if err := e.check(src); err != nil {
			return nil, err
		}
		examples = append(examples, e)
	}
}

// csvError turns an encoding/csv error into one with the file, the line
// and the fix.
func csvError(path string, err error) error {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if errors.Is(pe.Err, csv.ErrFieldCount) {
		return fmt.Errorf("%s:%d: row has a different number of fields than the header: quote fields that contain commas with double quotes", path, pe.StartLine)
	}
	return fmt.Errorf("%s:%d: invalid CSV (%v): quote fields that contain commas, quotes or line breaks, and double the quotes inside them", path, pe.Line, pe.Err)
}

// columnIndexes finds the text and label columns in header.
func columnIndexes(src DataSource, header []string) (textAt, labelAt int, err error) {
	textAt, labelAt = -1, -1
	for i, name := range header {
		switch strings.TrimSpace(name) {
		case src.TextColumn:
			textAt = i
		case src.LabelColumn:
			labelAt = i
		}
	}
	for _, missing := range []struct {
		at         int
		name, flag string
	}{{textAt, src.TextColumn, "--text-col"}, {labelAt, src.LabelColumn, "--label-col"}} {
		if missing.at < 0 {
			return 0, 0, fmt.Errorf("%s:1: no column %q in the header (columns: %s): pass %s with one of them",
				src.Path, missing.name, strings.Join(header, ", "), missing.flag)
		}
	}
	return textAt, labelAt, nil
}

// readJSONL reads one JSON object per line; blank lines are skipped.
func readJSONL(r io.Reader, src DataSource) ([]Example, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxJSONLLine)
	var examples []Example
	for line := 1; sc.Scan(); line++ {
		raw := bytes.TrimSpace(sc.Bytes())
		if line == 1 {
			raw = bytes.TrimPrefix(raw, []byte("\ufeff"))
		}
		if len(raw) == 0 {
			continue
		}
		var row map[string]json.RawMessage
		if err := json.Unmarshal(raw, &row); err != nil {
			return nil, fmt.Errorf("%s:%d: invalid JSON (%v): write one JSON object per line", src.Path, line, err)
		}
		text, err := jsonField(src, line, row, src.TextColumn, "--text-col")
		if err != nil {
			return nil, err
		}
		label, err := jsonField(src, line, row, src.LabelColumn, "--label-col")
		if err != nil {
			return nil, err
		}
		e := Example{Text: text, Label: strings.TrimSpace(label), Line: line}
		if err := e.check(src); err != nil {
			return nil, err
		}
		examples = append(examples, e)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%s: line %d is longer than %d bytes: shorten the text", src.Path, len(examples)+1, maxJSONLLine)
		}
		return nil, fmt.Errorf("reading %s: %w", src.Path, err)
	}
	return examples, nil
}

// jsonField returns the string or number under key in row.
func jsonField(src DataSource, line int, row map[string]json.RawMessage, key, flag string) (string, error) {
	raw, ok := row[key]
	if !ok {
		return "", fmt.Errorf("%s:%d: missing key %q: add it, or pass %s with the key of the value", src.Path, line, key, flag)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		return n.String(), nil
	}
	return "", fmt.Errorf("%s:%d: invalid value %s for key %q: use a string or a number", src.Path, line, abbreviate(raw), key)
}

// abbreviate shortens a JSON value for an error message.
func abbreviate(raw []byte) string {
	const limit = 40
	if len(raw) <= limit {
		return string(raw)
	}
	return string(raw[:limit]) + "…"
}

// check rejects an example with an empty text or label.
func (e Example) check(src DataSource) error {
	if e.Label == "" {
		return fmt.Errorf("%s:%d: empty label in %q: fill it in or remove the row", src.Path, e.Line, src.LabelColumn)
	}
	if strings.TrimSpace(e.Text) == "" {
		return fmt.Errorf("%s:%d: empty text in %q: fill it in or remove the row", src.Path, e.Line, src.TextColumn)
	}
	return nil
}

// WriteExamples writes examples to path as CSV or JSONL (by format, or by
// the extension when format is empty), under the given column names, so
// that ReadExamples reads them back.
func WriteExamples(path, format, textColumn, labelColumn string, examples []Example) error {
	if format == "" {
		var err error
		if format, err = FormatOf(path); err != nil {
			return err
		}
	}
	var buf bytes.Buffer
	switch format {
	case FormatCSV:
		cw := csv.NewWriter(&buf)
		_ = cw.Write([]string{textColumn, labelColumn}) // a bytes.Buffer does not fail
		for _, e := range examples {
			_ = cw.Write([]string{e.Text, e.Label})
		}
		cw.Flush()
	case FormatJSONL:
		for _, e := range examples {
			row, err := json.Marshal(map[string]string{textColumn: e.Text, labelColumn: e.Label})
			if err != nil {
				return err
			}
			buf.Write(append(row, '\n'))
		}
	default:
		return fmt.Errorf("unknown data format %q: use csv or jsonl", format)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing examples: %w", err)
	}
	return nil
}
