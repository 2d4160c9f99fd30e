package model

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
)

// The model file starts with fileMagic and a little-endian uint16 format
// version, uncompressed, so a wrong file is recognized before anything is
// decompressed. A gzip stream follows with:
//
//	uint32 length, then that many bytes of JSON metadata (fileMeta)
//	uint32 row buckets, ascending          (rows values)
//	float32 IDF per row                    (rows values, only when features.idf)
//	float32 bias per label                 (labels values)
//	float32 weights, row-major             (rows × labels values)
//
// Every number is little-endian. Nothing may follow the weights.
const (
	fileMagic = "MTMODEL\x00"
	// FormatVersion is the model file format this build writes and reads.
	FormatVersion = 1
	// maxMetaBytes bounds the metadata of a model file.
	maxMetaBytes = 16 << 20
	// maxWeights bounds rows × labels, so that a damaged header cannot
	// make the loader allocate without limit (4 GiB of float32).
	maxWeights = 1 << 30
)

// fileMeta is the JSON metadata of a model file.
type fileMeta struct {
	Version  string        `json:"version"`
	Labels   []string      `json:"labels"`
	Features FeatureConfig `json:"features"`
	Training TrainConfig   `json:"training"`
	Examples int           `json:"examples"`
	Rows     int           `json:"rows"`
}

// Save writes c to path in the model file format, replacing any file there
// only once the new one is complete.
func (c *Classifier) Save(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("writing model file: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename

	// CreateTemp makes the file private; a model holds no secret, and the
	// processor may run as another user.
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("writing model file %s: %w", path, err)
	}
	if err := c.Write(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("writing model file %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing model file %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing model file: %w", err)
	}
	return nil
}

// Write writes c in the model file format to w.
func (c *Classifier) Write(w io.Writer) error {
	head := binary.LittleEndian.AppendUint16([]byte(fileMagic), FormatVersion)
	if _, err := w.Write(head); err != nil {
		return err
	}
	zw := gzip.NewWriter(w)
	bw := bufio.NewWriter(zw)
	if err := c.writeBody(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return zw.Close()
}

// writeBody writes the metadata and the arrays.
func (c *Classifier) writeBody(w io.Writer) error {
	meta, err := json.Marshal(fileMeta{
		Version:  c.Version,
		Labels:   c.Labels,
		Features: c.Features,
		Training: c.Training,
		Examples: c.Examples,
		Rows:     len(c.vocab.buckets),
	})
	if err != nil {
		return err
	}
	if err := binary.Write(w, binary.LittleEndian, uint32(len(meta))); err != nil {
		return err
	}
	if _, err := w.Write(meta); err != nil {
		return err
	}
	return c.writeArrays(w)
}

// writeArrays writes the buckets, IDF, bias and weights.
func (c *Classifier) writeArrays(w io.Writer) error {
	for _, data := range []any{c.vocab.buckets, c.vocab.idf, c.bias, c.weights} {
		if err := binary.Write(w, binary.LittleEndian, data); err != nil {
			return err
		}
	}
	return nil
}

// contentHash returns the hex SHA-256 of what decides c's predictions:
// labels, feature settings and every array. The version and training
// settings are left out, so retraining the same data with the same seed
// on another date gives the same hash.
func (c *Classifier) contentHash() string {
	h := sha256.New()
	for _, l := range c.Labels {
		h.Write([]byte(l))
		h.Write([]byte{0})
	}
	features, _ := json.Marshal(c.Features) // FeatureConfig has only ints and bools, which always encode
	h.Write(features)
	_ = c.writeArrays(h) // a hash.Hash never returns an error
	return hex.EncodeToString(h.Sum(nil))
}

// ErrFormat is returned, wrapped, for a file that is not a model file of
// FormatVersion or is damaged.
var ErrFormat = errors.New("not a readable mailtriage model file")

// Load reads the model file at path. A file of another format, another
// format version or with damaged contents gets an error that wraps
// ErrFormat and names the file and the fix.
func Load(path string) (*Classifier, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading model file: %w; pass the file that `mailtriage model train --out` wrote", err)
	}
	defer f.Close()

	c, err := Read(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("model file %s: %w", path, err)
	}
	return c, nil
}

// Read reads a model in the model file format from r.
func Read(r io.Reader) (*Classifier, error) {
	head := make([]byte, len(fileMagic)+2)
	if _, err := io.ReadFull(r, head); err != nil || string(head[:len(fileMagic)]) != fileMagic {
		return nil, fmt.Errorf("%w: it does not start with the model file signature; train a model with `mailtriage model train`", ErrFormat)
	}
	if v := binary.LittleEndian.Uint16(head[len(fileMagic):]); v != FormatVersion {
		return nil, fmt.Errorf("%w: format version %d, but this build reads version %d; retrain the model with this build's `mailtriage model train`", ErrFormat, v, FormatVersion)
	}

	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, damaged(err)
	}
	br := bufio.NewReader(zr)
	c, err := readBody(br)
	if err != nil {
		return nil, err
	}
	// The trailing read checks the gzip checksum and that nothing follows.
	if n, err := io.Copy(io.Discard, br); err != nil || n != 0 {
		if err == nil {
			err = fmt.Errorf("%d unexpected bytes after the weights", n)
		}
		return nil, damaged(err)
	}
	return c, nil
}

// damaged wraps err as a damaged-file error with the fix.
func damaged(err error) error {
	return fmt.Errorf("%w: the file is damaged (%v); copy it again or retrain with `mailtriage model train`", ErrFormat, err)
}

// readBody reads the metadata and arrays and checks that they agree.
func readBody(r io.Reader) (*Classifier, error) {
	var metaLen uint32
	if err := binary.Read(r, binary.LittleEndian, &metaLen); err != nil {
		return nil, damaged(err)
	}
	if metaLen > maxMetaBytes {
		return nil, damaged(fmt.Errorf("metadata length %d is over %d bytes", metaLen, maxMetaBytes))
	}
	raw := make([]byte, metaLen)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, damaged(err)
	}
	var meta fileMeta
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&meta); err != nil {
		return nil, damaged(fmt.Errorf("metadata: %v", err))
	}
	if err := meta.check(); err != nil {
		return nil, damaged(err)
	}

	k := len(meta.Labels)
	c := &Classifier{
		Version:  meta.Version,
		Labels:   meta.Labels,
		Features: meta.Features,
		Training: meta.Training,
		Examples: meta.Examples,
		vocab:    &vocabulary{config: meta.Features, buckets: make([]uint32, meta.Rows)},
		bias:     make([]float32, k),
		weights:  make([]float32, meta.Rows*k),
	}
	if meta.Features.IDF {
		c.vocab.idf = make([]float32, meta.Rows)
	}
	for _, data := range []any{c.vocab.buckets, c.vocab.idf, c.bias, c.weights} {
		if err := binary.Read(r, binary.LittleEndian, data); err != nil {
			return nil, damaged(err)
		}
	}
	if err := c.checkArrays(); err != nil {
		return nil, damaged(err)
	}
	c.vocab.buildIndex()
	return c, nil
}

// check validates the metadata before any array is allocated.
func (m *fileMeta) check() error {
	if m.Version == "" {
		return errors.New("empty model version")
	}
	if err := m.Features.validate(); err != nil {
		return err
	}
	if len(m.Labels) < 2 {
		return fmt.Errorf("%d labels, expected at least 2", len(m.Labels))
	}
	if !slices.IsSorted(m.Labels) || len(slices.Compact(slices.Clone(m.Labels))) != len(m.Labels) {
		return errors.New("labels are not sorted and distinct")
	}
	if m.Rows < 0 || m.Rows > 1<<m.Features.HashBits || m.Rows*len(m.Labels) > maxWeights {
		return fmt.Errorf("invalid row count %d", m.Rows)
	}
	return nil
}

// checkArrays rejects buckets out of range or out of order and numbers
// that are not finite.
func (c *Classifier) checkArrays() error {
	limit := uint32(1) << c.Features.HashBits
	for i, b := range c.vocab.buckets {
		if b >= limit || (i > 0 && b <= c.vocab.buckets[i-1]) {
			return fmt.Errorf("bucket %d of row %d is out of range or order", b, i)
		}
	}
	for _, data := range [][]float32{c.vocab.idf, c.bias, c.weights} {
		for _, v := range data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return errors.New("a weight is not a finite number")
			}
		}
	}
	return nil
}
