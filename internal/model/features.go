package model

import (
	"fmt"
	"math"
	"slices"
)

// FeatureConfig selects the features the classifier extracts from text.
// Every n-gram is hashed into one of 1<<HashBits buckets, and only the
// buckets seen in at least MinDF training texts get a weight row.
type FeatureConfig struct {
	// HashBits is log2 of the bucket count. Default 20 (1,048,576
	// buckets), from 10 to 24.
	HashBits int `json:"hashBits"`
	// WordNgrams is the longest word n-gram: 1 for words, 2 for words and
	// word pairs. Default 2, at most 3.
	WordNgrams int `json:"wordNgrams"`
	// CharMin and CharMax bound the length of the character n-grams.
	// Default 2 and 5; CharMax 0 turns character n-grams off.
	CharMin int `json:"charMin"`
	CharMax int `json:"charMax"`
	// CharAcrossWords takes the character n-grams from the words joined by
	// single spaces, so that they also span word boundaries ("d ar" of
	// "card arrived"). Off takes them inside each word padded with a space
	// on both sides. Default on: it scored about 0.3 points higher on the
	// Banking77 validation splits of BENCHMARKS.md.
	CharAcrossWords bool `json:"charAcrossWords"`
	// IDF scales each feature by its smoothed inverse document frequency,
	// ln((1+N)/(1+df))+1, over the N training texts. Default on through
	// DefaultFeatureConfig.
	IDF bool `json:"idf"`
	// MinDF drops features that occur in fewer training texts. Default 2,
	// which dropped noise and a third of the rows on Banking77.
	MinDF int `json:"minDF"`
}

// DefaultFeatureConfig returns the feature settings that `mailtriage model
// train` uses unless flags change them.
func DefaultFeatureConfig() FeatureConfig {
	return FeatureConfig{HashBits: 20, WordNgrams: 2, CharMin: 2, CharMax: 5, CharAcrossWords: true, IDF: true, MinDF: 2}
}

// validate checks fc and names the first invalid setting.
func (fc FeatureConfig) validate() error {
	switch {
	case fc.HashBits < 10 || fc.HashBits > 24:
		return fmt.Errorf("invalid hash bits %d: use a value from 10 to 24", fc.HashBits)
	case fc.WordNgrams < 1 || fc.WordNgrams > 3:
		return fmt.Errorf("invalid word n-gram length %d: use 1, 2 or 3", fc.WordNgrams)
	case fc.CharMax != 0 && (fc.CharMin < 1 || fc.CharMin > fc.CharMax || fc.CharMax > 8):
		return fmt.Errorf("invalid character n-gram range %d to %d: use 1 <= min <= max <= 8, or max 0 for none", fc.CharMin, fc.CharMax)
	case fc.MinDF < 1:
		return fmt.Errorf("invalid minimum document frequency %d: use 1 or more", fc.MinDF)
	}
	return nil
}

// Hash namespaces keep a word, a word pair and a character n-gram with the
// same runes in different buckets.
const (
	nsWord = iota + 1
	nsWordPair
	nsWordTriple
	nsChar
)

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// hashRunes continues an FNV-1a hash over the runes of r.
func hashRunes(h uint64, r []rune) uint64 {
	for _, c := range r {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}

// hashStart returns the FNV-1a hash state after the namespace byte ns.
func hashStart(ns int) uint64 {
	return (fnvOffset ^ uint64(ns)) * fnvPrime
}

// appendBuckets appends the bucket of every n-gram of the normalized text
// to dst, one entry per occurrence.
func (fc FeatureConfig) appendBuckets(dst []uint32, words [][]rune) []uint32 {
	mask := uint64(1)<<fc.HashBits - 1
	for i, w := range words {
		h := hashRunes(hashStart(nsWord), w)
		dst = append(dst, uint32(h&mask))
		if fc.WordNgrams >= 2 && i+1 < len(words) {
			h := hashRunes(hashStart(nsWordPair), w)
			h = hashRunes(h^' ', words[i+1])
			dst = append(dst, uint32(h&mask))
		}
		if fc.WordNgrams >= 3 && i+2 < len(words) {
			h := hashRunes(hashStart(nsWordTriple), w)
			h = hashRunes(h^' ', words[i+1])
			h = hashRunes(h^' ', words[i+2])
			dst = append(dst, uint32(h&mask))
		}
	}
	if fc.CharMax == 0 {
		return dst
	}

	if fc.CharAcrossWords {
		// One run over all words: " w1 w2 w3 ".
		joined := []rune{' '}
		for _, w := range words {
			joined = append(append(joined, w...), ' ')
		}
		return fc.appendCharBuckets(dst, joined, mask)
	}
	var padded []rune
	for _, w := range words {
		padded = append(append(append(padded[:0], ' '), w...), ' ')
		dst = fc.appendCharBuckets(dst, padded, mask)
	}
	return dst
}

// appendCharBuckets appends the bucket of every character n-gram of runs.
func (fc FeatureConfig) appendCharBuckets(dst []uint32, runs []rune, mask uint64) []uint32 {
	for n := fc.CharMin; n <= fc.CharMax && n <= len(runs); n++ {
		for start := 0; start+n <= len(runs); start++ {
			h := hashRunes(hashStart(nsChar), runs[start:start+n])
			dst = append(dst, uint32(h&mask))
		}
	}
	return dst
}

// textWords normalizes and tokenizes text into words as rune slices.
func textWords(text string) [][]rune {
	tokens := Tokenize(Normalize(text))
	words := make([][]rune, len(tokens))
	for i, t := range tokens {
		words[i] = []rune(t)
	}
	return words
}

// sparseVector is a feature vector over weight rows, sorted by row.
type sparseVector struct {
	rows []int32
	vals []float32
}

// vocabulary maps buckets to weight rows and holds each row's IDF.
type vocabulary struct {
	config  FeatureConfig
	buckets []uint32  // bucket of each row, ascending
	idf     []float32 // per row; nil when config.IDF is off
	rowOf   []int32   // bucket -> row, or -1; built from buckets
}

// buildIndex fills rowOf from buckets.
func (v *vocabulary) buildIndex() {
	v.rowOf = make([]int32, 1<<v.config.HashBits)
	for i := range v.rowOf {
		v.rowOf[i] = -1
	}
	for row, b := range v.buckets {
		v.rowOf[b] = int32(row)
	}
}

// newVocabulary keeps the buckets that occur in at least fc.MinDF of the
// texts, whose buckets are in bucketsPerText (each sorted, unique).
func newVocabulary(fc FeatureConfig, bucketsPerText [][]uint32) *vocabulary {
	df := make(map[uint32]int32)
	for _, bs := range bucketsPerText {
		for _, b := range bs {
			df[b]++
		}
	}

	v := &vocabulary{config: fc}
	for b, n := range df {
		if int(n) >= fc.MinDF {
			v.buckets = append(v.buckets, b)
		}
	}
	slices.Sort(v.buckets)
	if fc.IDF {
		total := float64(len(bucketsPerText))
		v.idf = make([]float32, len(v.buckets))
		for row, b := range v.buckets {
			v.idf[row] = float32(math.Log((1+total)/(1+float64(df[b]))) + 1)
		}
	}
	v.buildIndex()
	return v
}

// uniqueSorted sorts bs in place and returns its distinct values.
func uniqueSorted(bs []uint32) []uint32 {
	slices.Sort(bs)
	return slices.Compact(bs)
}

// vectorize turns the buckets of one text into its feature vector:
// sublinear term frequency 1+ln(tf), times the IDF when on, L2-normalized.
// Buckets without a row are dropped. bs is sorted in place.
func (v *vocabulary) vectorize(bs []uint32, out *sparseVector) {
	out.rows = out.rows[:0]
	out.vals = out.vals[:0]
	slices.Sort(bs)

	var norm float64
	for i := 0; i < len(bs); {
		j := i + 1
		for j < len(bs) && bs[j] == bs[i] {
			j++
		}
		row := v.rowOf[bs[i]]
		if row >= 0 {
			val := 1 + math.Log(float64(j-i))
			if v.idf != nil {
				val *= float64(v.idf[row])
			}
			out.rows = append(out.rows, row)
			out.vals = append(out.vals, float32(val))
			norm += val * val
		}
		i = j
	}
	if norm == 0 {
		return
	}
	scale := float32(1 / math.Sqrt(norm))
	for i := range out.vals {
		out.vals[i] *= scale
	}
}
