package processors

import (
	"slices"
	"strings"
)

// detectorScope describes which part of a text a detector's result depends
// on, so that a pass can tell where a replacement may change what the
// detector finds.
//
// Each detector finds its matches one segment at a time, around a trigger
// offset of the index (a digit run, an "@", a ":" or an anchor). For a
// pattern scoped by a scopedRegexp, a segment is a maximal run of the
// bytes that its matches may contain. For the patterns anchored at
// keywords (anchoredRegexp), it is the line (passwords) or, again, the run
// of the bytes their matches may contain (secrets). What a detector finds in a segment
// depends only on the segment's bytes and on at most before bytes before
// it and after bytes after it: \b and the checks around a match read a
// byte or two, the phone rule reads the 40 bytes before a number for a
// label. So a segment yields the same matches in two texts when neither
// it nor its margins touch a range where the texts differ. inside is the
// union of the bytes of the detector's patterns, which makes its segments
// the largest of theirs. The tests check all this by comparing Redact
// with the frozen reference implementation.
type detectorScope struct {
	inside        [256]bool
	before, after int
	triggers      triggerKind
	// mayStart reports whether one of the detector's matches can start at
	// the anchor s[k]. It is set when triggers has triggerAnchors.
	mayStart func(s string, k int) bool
	// lines is true when inside holds every byte but "\n", so that segments
	// are lines.
	lines bool
}

// triggerKind is a set of the index's offset lists that a detector reads.
type triggerKind uint8

const (
	triggerDigits triggerKind = 1 << iota
	triggerAts
	triggerColons
	triggerAnchors
)

// newDetectorScope returns the scope of a detector whose segments are
// those of any of patterns.
func newDetectorScope(triggers triggerKind, before, after int, patterns ...*scopedRegexp) *detectorScope {
	sc := &detectorScope{before: before, after: after, triggers: triggers}
	for _, p := range patterns {
		for c := range sc.inside {
			sc.inside[c] = sc.inside[c] || p.inside[c]
		}
	}
	sc.lines = true
	for c := range sc.inside {
		if sc.inside[c] != (c != '\n') {
			sc.lines = false
		}
	}
	return sc
}

// span is a range of a text, [start, end).
type span struct{ start, end int }

// affectedRanges appends to dst, sorted and merged, the ranges of s that
// contain every segment whose matches may depend on the bytes of spans
// (sorted and disjoint). Those are the segments that reach within after
// bytes before a span or within before bytes after it.
func (sc *detectorScope) affectedRanges(dst []span, s string, spans []span) []span {
	for _, sp := range spans {
		from, to := max(0, sp.start-sc.after), min(len(s), sp.end+sc.before)
		if n := len(dst); n > 0 && from <= dst[n-1].end {
			// The range so far already reaches this span's segments, so
			// only its end may move.
			if to > dst[n-1].end {
				dst[n-1].end = sc.segmentEnd(s, to)
			}
			continue
		}
		dst = append(dst, span{sc.segmentStart(s, from), sc.segmentEnd(s, to)})
	}
	return dst
}

// segmentStart returns the start of the segment that ends right before
// i, or i.
func (sc *detectorScope) segmentStart(s string, i int) int {
	if sc.lines {
		return lastNewline(s[:i]) + 1
	}
	for i > 0 && sc.inside[s[i-1]] {
		i--
	}
	return i
}

// segmentEnd returns the end of the segment that starts at i, or i.
func (sc *detectorScope) segmentEnd(s string, i int) int {
	if sc.lines {
		if j := strings.IndexByte(s[i:], '\n'); j >= 0 {
			return i + j
		}
		return len(s)
	}
	for i < len(s) && sc.inside[s[i]] {
		i++
	}
	return i
}

// placeholderHasTrigger reports whether the detector may find a trigger in
// the placeholder of detector, which replaced a value, or right after it
// in rest, that the text with the value does not show. Right after it,
// the checks that read the byte or two before a trigger (\b, an IBAN's
// country code) now read the placeholder. Placeholders contain no digit,
// "@" or ":".
func (sc *detectorScope) placeholderHasTrigger(detector int, rest string) bool {
	if sc.triggers&triggerAnchors != 0 {
		placeholder := piiDetectors[detector].placeholder
		for _, k := range placeholderAnchors[detector] {
			if sc.mayStart(placeholder, k) {
				return true
			}
		}
		if rest != "" && anchorAt(rest, 0) && sc.mayStart(rest, 0) {
			return true
		}
	}
	next := rest[:min(2, len(rest))]
	return sc.triggers&triggerDigits != 0 && countDigits(next) > 0 ||
		sc.triggers&triggerAts != 0 && strings.IndexByte(next, '@') >= 0 ||
		sc.triggers&triggerColons != 0 && strings.IndexByte(next, ':') >= 0
}

// placeholderAnchors holds the anchors inside each detector's
// placeholder: "[PASSWORD]" has one. anchorAt finds it whatever surrounds
// the placeholder, because "[" and "]" enclose the word.
var placeholderAnchors = func() (anchors [piiDetectorCount][]int) {
	for i, d := range piiDetectors {
		anchors[i] = newRedactIndex(d.placeholder).anchors
	}
	return anchors
}()

// offsetsIn appends to dst the offsets (sorted) in r.
func offsetsIn(dst, offsets []int, r span) []int {
	lo, _ := slices.BinarySearch(offsets, r.start)
	for _, off := range offsets[lo:] {
		if off >= r.end {
			break
		}
		dst = append(dst, off)
	}
	return dst
}

// view fills v with the offsets of ix in r, for the trigger kinds of sc.
// It reports whether v has any trigger.
func (sc *detectorScope) view(v, ix *redactIndex, r span) bool {
	v.s = ix.s
	v.digitRuns, v.anchors, v.ats, v.colons = v.digitRuns[:0], v.anchors[:0], v.ats[:0], v.colons[:0]
	if sc.triggers&triggerDigits != 0 {
		v.digitRuns = offsetsIn(v.digitRuns, ix.digitRuns, r)
	}
	if sc.triggers&triggerAnchors != 0 {
		v.anchors = offsetsIn(v.anchors, ix.anchors, r)
	}
	if sc.triggers&triggerAts != 0 {
		v.ats = offsetsIn(v.ats, ix.ats, r)
	}
	if sc.triggers&triggerColons != 0 {
		v.colons = offsetsIn(v.colons, ix.colons, r)
	}
	return len(v.digitRuns)+len(v.anchors)+len(v.ats)+len(v.colons) > 0
}

// withAnchors sets sc.mayStart and returns sc.
func (sc *detectorScope) withAnchors(mayStart func(s string, k int) bool) *detectorScope {
	sc.mayStart = mayStart
	return sc
}

// anyAnchor accepts every anchor.
func anyAnchor(string, int) bool { return true }

// spanFilter limits the segments that a detector reads to those whose
// result may depend on some spans of the text (near) or to the others
// (avoid). A segment [i, j) depends on a span when [i-before, j+after)
// overlaps it, before and after being the detector's margins.
type spanFilter struct {
	spans         []span // sorted and disjoint
	before, after int
	avoid         bool
	// touched[k] is set, in avoid mode, when a skipped segment depended on
	// spans[k].
	touched []bool
	// cursor is the first span that ends after last, the trigger that
	// skips saw last.
	cursor, last int
}

// skips reports whether the detector should not start a segment at
// trigger p. In avoid mode, those are the triggers inside a span, because
// the text that the detector should read has a placeholder there.
// Triggers come in increasing order within each list, so a cursor finds
// the span.
func (f *spanFilter) skips(p int) bool {
	if f == nil || !f.avoid {
		return false
	}
	if p < f.last {
		f.cursor = 0
	}
	f.last = p
	for f.cursor < len(f.spans) && f.spans[f.cursor].end <= p {
		f.cursor++
	}
	return f.cursor < len(f.spans) && f.spans[f.cursor].start <= p
}

// allows reports whether the detector may read the segment [i, j). A nil
// filter allows every segment.
func (f *spanFilter) allows(i, j int) bool {
	if f == nil {
		return true
	}
	from, to := i-f.before, j+f.after
	// The first span that ends after from.
	lo, hi := 0, len(f.spans)
	for lo < hi {
		if m := int(uint(lo+hi) >> 1); f.spans[m].end <= from {
			lo = m + 1
		} else {
			hi = m
		}
	}
	near := false
	for k := lo; k < len(f.spans) && f.spans[k].start < to; k++ {
		near = true
		if !f.avoid {
			break
		}
		f.touched[k] = true
	}
	return near != f.avoid
}
