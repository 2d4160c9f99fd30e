package processors

import (
	"slices"
	"strings"
)

// findInCopy appends to st.matches what d finds in r (a range of st.ix.s
// from affectedRanges) with the pending replacements made. It copies r
// and the margins around it, makes the replacements in the copy and maps
// the matches back to offsets of st.ix.s. It reports false when a match
// overlaps a placeholder.
func (st *redactState) findInCopy(d *detector, r span) bool {
	s := st.ix.s
	from, to := st.copyBounds(d.scope, r)

	var b strings.Builder
	b.Grow(st.lengthAfterReplacing(from, to))
	st.copyPlaced = st.copyPlaced[:0]
	st.copyReps = st.copyReps[:0]
	last, shift := from, 0
	for k := st.pendingFrom(from); k < len(st.pending) && st.pending[k].start < to; k++ {
		p := st.pending[k]
		b.WriteString(s[last:p.start])
		placeholder := piiDetectors[p.detector].placeholder
		shift += replacementDelta(p)
		st.copyPlaced = append(st.copyPlaced, copiedPlaceholder{b.Len(), b.Len() + len(placeholder), p.end, shift})
		st.copyReps = append(st.copyReps, replacement{p.start - from, p.end - from, p.detector})
		b.WriteString(placeholder)
		last = p.end
	}
	b.WriteString(s[last:to])
	text := b.String()

	// The copy's index is the index of the copied part, with the
	// replacements made as build makes them in the whole text.
	st.copyIx.windowOf(&st.ix, from, to)
	st.copyIx.apply(text, st.copyReps, &st.copySpare)
	inRange := span{st.toCopy(r.start, from), st.toCopy(r.end, from)}
	if !d.scope.view(&st.copyView, &st.copyIx, inRange) {
		return true
	}
	n := len(st.matches)
	st.matches = d.find(st.matches, text, &st.copyView)
	for i := n; i < len(st.matches); i++ {
		m := &st.matches[i]
		if st.overlapsCopiedPlaceholder(m.start, m.end) {
			st.matches = st.matches[:n]
			return false
		}
		m.start, m.end = st.fromCopy(m.start, from), st.fromCopy(m.end, from)
	}
	return true
}

// copiedPlaceholder is a placeholder in the text of findInCopy: its range
// there, the end of the range it replaced in st.ix.s, and the sum of the
// length changes of the replacements up to and including it.
type copiedPlaceholder struct {
	start, end int
	sourceEnd  int
	shift      int
}

// copyBounds returns the part of st.ix.s that findInCopy copies for r: r
// and enough bytes around it that, with the replacements made, the
// margins of sc fit. The bounds never cut a pending replacement.
func (st *redactState) copyBounds(sc *detectorScope, r span) (from, to int) {
	s := st.ix.s
	from = r.start
	for need := sc.before; need > 0 && from > 0; {
		from = max(0, from-need)
		from = st.outsidePending(from, -1)
		need = sc.before - st.lengthAfterReplacing(from, r.start)
	}
	to = r.end
	for need := sc.after; need > 0 && to < len(s); {
		to = min(len(s), to+need)
		to = st.outsidePending(to, +1)
		need = sc.after - st.lengthAfterReplacing(r.end, to)
	}
	return from, to
}

// pendingFrom returns the index of the first pending replacement that
// ends after offset i.
func (st *redactState) pendingFrom(i int) int {
	k, _ := slices.BinarySearchFunc(st.pending, i, func(p replacement, i int) int {
		if p.end <= i {
			return -1
		}
		return 1
	})
	return k
}

// outsidePending moves offset i out of the pending replacement it falls
// inside, to the replacement's start (dir -1) or end (dir +1).
func (st *redactState) outsidePending(i, dir int) int {
	if k := st.pendingFrom(i); k < len(st.pending) && st.pending[k].start < i {
		if dir < 0 {
			return st.pending[k].start
		}
		return st.pending[k].end
	}
	return i
}

// lengthAfterReplacing returns the length that st.ix.s[from:to] has once
// the pending replacements inside it are made.
func (st *redactState) lengthAfterReplacing(from, to int) int {
	n := to - from
	for k := st.pendingFrom(from); k < len(st.pending) && st.pending[k].end <= to; k++ {
		if st.pending[k].start >= from {
			n += replacementDelta(st.pending[k])
		}
	}
	return n
}

// toCopy maps offset i of st.ix.s, outside every pending replacement, to
// the text of findInCopy that starts at from.
func (st *redactState) toCopy(i, from int) int {
	k, _ := slices.BinarySearchFunc(st.copyPlaced, i, func(c copiedPlaceholder, i int) int {
		if c.sourceEnd <= i {
			return -1
		}
		return 1
	})
	return i - from + st.copyShift(k)
}

// fromCopy maps offset i of the text of findInCopy, outside every
// placeholder, back to st.ix.s.
func (st *redactState) fromCopy(i, from int) int {
	return i + from - st.copyShift(st.copiedFrom(i))
}

// copyShift returns the length change of the first k copied placeholders.
func (st *redactState) copyShift(k int) int {
	if k == 0 {
		return 0
	}
	return st.copyPlaced[k-1].shift
}

// copiedFrom returns the index of the first copied placeholder that ends
// after offset i of the copy.
func (st *redactState) copiedFrom(i int) int {
	k, _ := slices.BinarySearchFunc(st.copyPlaced, i, func(c copiedPlaceholder, i int) int {
		if c.end <= i {
			return -1
		}
		return 1
	})
	return k
}

// overlapsCopiedPlaceholder reports whether [start, end) of the text of
// findInCopy overlaps one of its placeholders.
func (st *redactState) overlapsCopiedPlaceholder(start, end int) bool {
	k := st.copiedFrom(start)
	return k < len(st.copyPlaced) && st.copyPlaced[k].start < end
}
