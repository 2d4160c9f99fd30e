package processors

import (
	"slices"
	"strings"
)

// apply makes ix describe out, the text that replacing reps (sorted and
// disjoint) made of ix.s. It writes the new offsets into next's slices and
// swaps them with ix's, so the two indexes reuse their memory.
func (ix *redactIndex) apply(out string, reps []replacement, next *redactIndex) {
	next.s = out
	next.digitRuns = shiftStarts(next.digitRuns[:0], ix.digitRuns, reps, out, nil, false, func(i int) bool {
		return isDigit(out[i])
	})
	next.anchors = shiftStarts(next.anchors[:0], ix.anchors, reps, out, anchorReach, true, func(i int) bool {
		return anchorAt(out, i)
	})
	next.ats = shiftBytes(next.ats[:0], ix.ats, reps)
	next.colons = shiftBytes(next.colons[:0], ix.colons, reps)
	*ix, *next = *next, *ix
}

// maxKeywordBytes bounds the bytes a keyword spans: 13 letters, each of
// at most 3 bytes when written as a Kelvin sign or a long s.
const maxKeywordBytes = 3 * len("authorization")

// anchorReach returns the first offset of out before i (the start of a
// placeholder) whose anchorAt may read out[i]. That is a keyword's length
// before i, or further when a key name, one quote and white space run up
// to i, as assignmentFollows reads them.
func anchorReach(out string, i int) int {
	w := i
	for w > 0 && strings.IndexByte(asciiSpace, out[w-1]) >= 0 {
		w--
	}
	if w > 0 && (out[w-1] == '"' || out[w-1] == '\'') {
		w--
	}
	for w > 0 && isAssignedKeyByte(out[w-1]) {
		w--
	}
	return min(w, i-maxKeywordBytes)
}

// shiftStarts appends to dst the offsets of run or word starts in out,
// given their offsets in the old text and the replacements reps that made
// out. Offsets inside a replaced range or right after it go, and the
// others shift by the length change. Each placeholder adds its own
// anchors when anchors is true, and the offset right after it counts
// when startsAt reports true there, because the byte before it changed.
// An offset from which startsAt may read the replaced range (from
// reach(out, start of the placeholder) on) is checked again; reach nil
// means none can.
func shiftStarts(dst, offsets []int, reps []replacement, out string, reach func(out string, i int) int, anchors bool, startsAt func(i int) bool) []int {
	delta := 0
	k := 0
	for ri, r := range reps {
		recheck := r.start + delta
		if reach != nil {
			recheck = reach(out, r.start+delta)
		}
		for ; k < len(offsets) && offsets[k] < r.start; k++ {
			if moved := offsets[k] + delta; moved < recheck || startsAt(moved) {
				dst = append(dst, moved)
			}
		}
		for k < len(offsets) && offsets[k] <= r.end {
			k++
		}
		placeholder := piiDetectors[r.detector].placeholder
		if anchors {
			for _, off := range placeholderAnchors[r.detector] {
				dst = append(dst, r.start+delta+off)
			}
		}
		delta += len(placeholder) - (r.end - r.start)
		adjacent := ri+1 < len(reps) && reps[ri+1].start == r.end
		if end := r.end + delta; !adjacent && end < len(out) && startsAt(end) {
			dst = append(dst, end)
		}
	}
	for ; k < len(offsets); k++ {
		dst = append(dst, offsets[k]+delta)
	}
	return dst
}

// shiftBytes appends to dst the offsets of single bytes in the new text:
// those inside a replaced range go and the others shift. Placeholders
// contain none of the bytes indexed this way.
func shiftBytes(dst, offsets []int, reps []replacement) []int {
	delta := 0
	k := 0
	for _, r := range reps {
		for ; k < len(offsets) && offsets[k] < r.start; k++ {
			dst = append(dst, offsets[k]+delta)
		}
		for k < len(offsets) && offsets[k] < r.end {
			k++
		}
		delta += replacementDelta(r)
	}
	for ; k < len(offsets); k++ {
		dst = append(dst, offsets[k]+delta)
	}
	return dst
}

// copyFrom makes ix a copy of src that shares no memory with it.
func (ix *redactIndex) copyFrom(src *redactIndex) {
	ix.s = src.s
	ix.digitRuns = append(ix.digitRuns[:0], src.digitRuns...)
	ix.anchors = append(ix.anchors[:0], src.anchors...)
	ix.ats = append(ix.ats[:0], src.ats...)
	ix.colons = append(ix.colons[:0], src.colons...)
}

// prefixOf makes ix the index of src.s[:n] without a scan.
func (ix *redactIndex) prefixOf(src *redactIndex, n int) {
	ix.windowOf(src, 0, n)
}

// windowOf makes ix the index of src.s[from:to] without a scan. Every
// offset list keeps its offsets in the window, because whether an offset
// belongs to a list depends only on the bytes around it. The exceptions
// are checked again: the first byte, which has no byte before it in the
// window, and anchors near the end, whose keyword or assignment may run
// past it.
func (ix *redactIndex) windowOf(src *redactIndex, from, to int) {
	s := src.s[from:to]
	in := func(dst, offsets []int) []int {
		lo, _ := slices.BinarySearch(offsets, from)
		hi, _ := slices.BinarySearch(offsets, to)
		dst = dst[:0]
		for _, off := range offsets[lo:hi] {
			dst = append(dst, off-from)
		}
		return dst
	}
	ix.s = s
	ix.ats = in(ix.ats, src.ats)
	ix.colons = in(ix.colons, src.colons)
	ix.digitRuns = in(ix.digitRuns, src.digitRuns)
	if s != "" && isDigit(s[0]) && (len(ix.digitRuns) == 0 || ix.digitRuns[0] != 0) {
		ix.digitRuns = slices.Insert(ix.digitRuns, 0, 0)
	}

	ix.anchors = in(ix.anchors, src.anchors)
	recheck := anchorReach(s, len(s))
	kept := ix.anchors[:0]
	for _, k := range ix.anchors {
		if k > 0 && (k < recheck || anchorAt(s, k)) {
			kept = append(kept, k)
		}
	}
	ix.anchors = kept
	if s != "" && anchorAt(s, 0) {
		ix.anchors = slices.Insert(ix.anchors, 0, 0)
	}
}
