package processors

import (
	"slices"
	"strings"
	"sync"
)

// redactState runs the passes over one text. Detectors run in the order of
// piiDetectors, each over the text that the detectors before it produced.
// Instead of building that text after every detector, a pass keeps the
// matches found so far as pending replacements. The next detector reads
// the text as it was, but for the segments whose result a pending
// replacement may change (see detectorScope): those it reads in a small
// copy with the replacements made (see findInCopy). The pass builds the
// new text once, at its end, unless a match in such a copy overlaps a
// placeholder, which the offsets of the old text cannot express.
type redactState struct {
	ix, spare redactIndex // the index of the current text, and room for the next
	// view is ix with a filter, as one detector reads it.
	view redactIndex
	// pending holds the replacements found since the text was last built,
	// sorted and disjoint.
	pending []replacement
	// placed holds the ranges of the current text that differ from the
	// text the pass started with: the placeholders built so far.
	placed []span
	// Scratch of findAroundPending: the ranges of the pending
	// replacements, those the detector may read differently, and the
	// ranges it reads in copies.
	holes, copied, ranges []span
	filter                spanFilter
	matches               []piiMatch

	// saved is an index that redact kept for a later text (see indexText).
	saved redactIndex

	// The index, view and placeholders of the copy that findInCopy reads.
	copyIx, copyView, copySpare redactIndex
	copyPlaced                  []copiedPlaceholder
	copyReps                    []replacement
}

// replacement is a match to be replaced by the placeholder of detector.
type replacement struct {
	start, end int
	detector   int // index in piiDetectors
}

var redactStates = sync.Pool{New: func() any { return new(redactState) }}

// redactText runs every detector over s in order, again and again until a
// pass finds nothing, and records the normalized values it replaced in
// seen. A second pass finds something only where a replacement made a new
// item out of its neighbors. For example, a phone number replaced after
// the IP detector ran can leave "[PHONE]::1", an IPv6 address. And the
// word in "[PHONE]" counts as a phone label for a number right after it.
//
// A pass after the first runs only when a detector finds something in the
// segments that the previous pass's placeholders affect. mayFindMore
// explains why the other segments need no second look.
//
// NOTE: a text that still changes after maxRedactPasses passes is returned
// as it is then, and redacting it again may find more.
func redactText(s string, seen *piiSeen) string {
	st := getRedactState()
	defer st.release()
	return st.redact(s, seen, false)
}

// getRedactState returns a redactState from the pool, and release puts it
// back.
func getRedactState() *redactState { return redactStates.Get().(*redactState) }

func (st *redactState) release() {
	st.ix.s, st.spare.s, st.view.s, st.copyIx.s, st.copyView.s, st.copySpare.s = "", "", "", "", "", ""
	st.saved.s = ""
	redactStates.Put(st)
}

// redact runs redactText's passes over s. With keep set, it keeps the
// index that it built for s, so that a later text that s starts with gets
// its index without a scan (see indexText).
func (st *redactState) redact(s string, seen *piiSeen, keep bool) string {
	if s == "" {
		return s
	}
	st.indexText(s)
	if keep {
		st.saved.copyFrom(&st.ix)
	}
	for pass := range maxRedactPasses {
		if pass > 0 && !st.mayFindMore() {
			break
		}
		in := st.ix.s
		if !st.runPass(seen) || st.ix.s == in {
			break
		}
	}
	return st.ix.s
}

// indexText builds st.ix for s, or, when s starts the text of st.saved
// (as a message's reply text starts its text), takes it from st.saved.
func (st *redactState) indexText(s string) {
	if st.saved.s != "" && len(s) <= len(st.saved.s) && st.saved.s[:len(s)] == s {
		st.ix.prefixOf(&st.saved, len(s))
		return
	}
	st.ix.build(s)
}

// maxRedactPasses bounds the passes of redactText over one text, so that
// a text whose replacements keep forming new items cannot loop forever.
const maxRedactPasses = 4

// runPass runs every detector once over st.ix.s and leaves in st.ix the
// index of the text with every match replaced. It reports whether it
// replaced anything.
func (st *redactState) runPass(seen *piiSeen) bool {
	st.pending = st.pending[:0]
	st.placed = st.placed[:0]
	for di := range piiDetectors {
		d := &piiDetectors[di]
		st.matches = st.matches[:0]
		if len(st.pending) == 0 {
			st.matches = d.find(st.matches, st.ix.s, &st.ix)
		} else if !st.findAroundPending(d) {
			st.build()
			st.matches = d.find(st.matches[:0], st.ix.s, &st.ix)
		}
		st.matches = dropOverlaps(st.matches)
		if len(st.matches) > 0 {
			st.addPending(di, seen)
		}
	}
	if len(st.pending) > 0 {
		st.build()
	}
	return len(st.placed) > 0
}

// findAroundPending appends to st.matches what d finds in the text with
// the pending replacements made, without making them in the whole text.
// It reads st.ix.s as it is, but for the segments that a pending
// replacement affects (see detectorScope). Those that may hold a trigger
// it reads in a copy of their range with the replacements made. It
// reports false, having found nothing, when a match in such a copy
// overlaps a placeholder, which the offsets of st.ix.s cannot express.
func (st *redactState) findAroundPending(d *detector) bool {
	s := st.ix.s
	st.holes = st.holes[:0]
	for _, r := range st.pending {
		st.holes = append(st.holes, span{r.start, r.end})
	}
	st.filter = spanFilter{spans: st.holes, before: d.scope.before, after: d.scope.after, avoid: true,
		touched: slices.Grow(st.filter.touched[:0], len(st.holes))[:len(st.holes)]}
	clear(st.filter.touched)
	st.view = st.ix
	st.view.filter = &st.filter
	st.matches = d.find(st.matches, s, &st.view)

	// The segments skipped above, read in their new form. A placeholder
	// may also bring a trigger of its own, or one right after it.
	st.copied = st.copied[:0]
	for k, r := range st.pending {
		if st.filter.touched[k] || d.scope.placeholderHasTrigger(r.detector, s[r.end:]) {
			st.copied = append(st.copied, st.holes[k])
		}
	}
	if len(st.copied) == 0 {
		return true
	}
	st.ranges = d.scope.affectedRanges(st.ranges[:0], s, st.copied)
	st.ranges = st.widenToPending(st.ranges)
	st.matches = slices.DeleteFunc(st.matches, func(m piiMatch) bool { return inSpans(st.ranges, m.start) })
	for _, r := range st.ranges {
		if !st.findInCopy(d, r) {
			return false
		}
	}
	return true
}

// widenToPending moves the bounds of ranges (sorted and disjoint) that
// fall inside a pending replacement out to its bounds, so that
// findInCopy's offsets stay outside every replacement, and merges ranges
// that then overlap. A range may cut a replacement that was not copied.
func (st *redactState) widenToPending(ranges []span) []span {
	merged := ranges[:0]
	for _, r := range ranges {
		r.start = st.outsidePending(r.start, -1)
		r.end = st.outsidePending(r.end, +1)
		if n := len(merged); n > 0 && r.start <= merged[n-1].end {
			merged[n-1].end = max(merged[n-1].end, r.end)
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

// inSpans reports whether offset i lies in one of spans (sorted and
// disjoint).
func inSpans(spans []span, i int) bool {
	k, _ := slices.BinarySearchFunc(spans, i, func(sp span, i int) int {
		if sp.end <= i {
			return -1
		}
		return 1
	})
	return k < len(spans) && spans[k].start <= i
}

// addPending records the values of st.matches in seen and adds the
// matches to the pending replacements. The matches lie outside every
// pending replacement, because the segments they come from do.
func (st *redactState) addPending(detector int, seen *piiSeen) {
	for _, m := range st.matches {
		seen.add(detector, m.value)
	}
	sorted := len(st.pending) == 0 || st.pending[len(st.pending)-1].end <= st.matches[0].start
	for _, m := range st.matches {
		st.pending = append(st.pending, replacement{m.start, m.end, detector})
	}
	if !sorted {
		slices.SortFunc(st.pending, func(a, b replacement) int { return a.start - b.start })
	}
}

// build replaces the pending matches in st.ix.s, updates the index and
// records the new placeholders in st.placed.
func (st *redactState) build() {
	s := st.ix.s
	var b strings.Builder
	n := len(s)
	for _, r := range st.pending {
		n += len(piiDetectors[r.detector].placeholder) - (r.end - r.start)
	}
	b.Grow(n)
	last := 0
	for _, r := range st.pending {
		b.WriteString(s[last:r.start])
		b.WriteString(piiDetectors[r.detector].placeholder)
		last = r.end
	}
	b.WriteString(s[last:])
	out := b.String()

	st.placed = shiftSpans(st.placed, st.pending)
	st.ix.apply(out, st.pending, &st.spare)
	st.pending = st.pending[:0]
}

// shiftSpans returns spans (sorted and disjoint ranges of a text) and the
// ranges of reps, merged where they overlap, in offsets of the text after
// reps are replaced.
func shiftSpans(spans []span, reps []replacement) []span {
	for _, r := range reps {
		spans = append(spans, span{r.start, r.end})
	}
	slices.SortFunc(spans, func(a, b span) int { return a.start - b.start })
	merged := spans[:0]
	for _, sp := range spans {
		if n := len(merged); n > 0 && sp.start < merged[n-1].end {
			merged[n-1].end = max(merged[n-1].end, sp.end)
			continue
		}
		merged = append(merged, sp)
	}
	// Every replacement lies inside one merged span, so a span's start
	// moves by the replacements before it and its end also by those
	// inside it.
	delta, k := 0, 0
	for i := range merged {
		for ; k < len(reps) && reps[k].end <= merged[i].start; k++ {
			delta += replacementDelta(reps[k])
		}
		merged[i].start += delta
		for ; k < len(reps) && reps[k].end <= merged[i].end; k++ {
			delta += replacementDelta(reps[k])
		}
		merged[i].end += delta
	}
	return merged
}

// replacementDelta returns how much longer the text gets by r.
func replacementDelta(r replacement) int {
	return len(piiDetectors[r.detector].placeholder) - (r.end - r.start)
}

// mayFindMore reports whether another pass over st.ix.s could find
// anything, given that the pass that made it changed only the ranges in
// st.placed.
//
// A segment that does not reach those ranges (see detectorScope) holds
// the same bytes, with the same margins, as it did when the detector read
// it in that pass. Had the detector found a match there, the match would
// have been replaced, or dropped for an overlapping one that was, and
// either leaves a placeholder inside the segment. So the detector found
// nothing there and finds nothing again. Running each detector over the
// affected segments alone therefore finds something exactly when a whole
// pass would. Each detector reads the text as the pass left it, which is
// what a whole pass shows it as long as the detectors before it find
// nothing.
func (st *redactState) mayFindMore() bool {
	s := st.ix.s
	st.view = st.ix
	st.view.filter = &st.filter
	for di := range piiDetectors {
		d := &piiDetectors[di]
		st.filter = spanFilter{spans: st.placed, before: d.scope.before, after: d.scope.after, touched: st.filter.touched}
		st.matches = d.find(st.matches[:0], s, &st.view)
		if len(st.matches) > 0 {
			return true
		}
	}
	return false
}
