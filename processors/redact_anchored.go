package processors

import (
	"math/bits"
	"regexp"
	"strings"
)

// findAround returns what findAll(s) returns, visiting only the segments
// that contain one of triggers (sorted offsets) that startOK accepts.
// Every segment that keep accepts must contain a trigger, and triggers
// outside every segment are skipped. With startOK set, it skips segments
// that hold no match at all, which findAll returns nothing for either
// unless keep accepts them. f (when not nil) limits the segments further.
func (sr *scopedRegexp) findAround(s string, triggers []int, f *spanFilter) [][]int {
	var found [][]int
	sr.eachSegment(s, triggers, f, func(i, j int) {
		found = sr.appendMatches(found, s, i, j)
	})
	return found
}

// spansAround is findAround for a pattern with a scanner and no groups:
// it appends the matches to dst as spans.
func (sr *scopedRegexp) spansAround(s string, triggers []int, f *spanFilter, dst []span) []span {
	sr.eachSegment(s, triggers, f, func(i, j int) {
		n := len(dst)
		dst = sr.scan(s[i:j], dst)
		for k := n; k < len(dst); k++ {
			dst[k].start += i
			dst[k].end += i
		}
	})
	return dst
}

// eachSegment calls visit with the bounds of each segment around
// triggers that findAround reads and f (when not nil) allows.
func (sr *scopedRegexp) eachSegment(s string, triggers []int, f *spanFilter, visit func(i, j int)) {
	end := 0 // the end of the last segment visited
	for _, p := range triggers {
		if p < end || !sr.inside[s[p]] || f.skips(p) || sr.startOK != nil && !sr.startOK(s, p) {
			continue
		}
		i := p
		for i > end && sr.inside[s[i-1]] {
			i--
		}
		j := p + 1
		for j < len(s) && sr.inside[s[j]] {
			j++
		}
		end = j
		if (sr.keep == nil || sr.keep(s[i:j])) && f.allows(i, j) {
			visit(i, j)
		}
	}
}

// appendMatches appends the submatch offsets of every match in s[i:j],
// as offsets of s.
func (sr *scopedRegexp) appendMatches(found [][]int, s string, i, j int) [][]int {
	if sr.scan != nil {
		for _, sp := range sr.scan(s[i:j], nil) {
			found = append(found, []int{sp.start + i, sp.end + i})
		}
		return found
	}
	for _, loc := range sr.re.FindAllStringSubmatchIndex(s[i:j], -1) {
		for k := range loc {
			if loc[k] >= 0 {
				loc[k] += i
			}
		}
		found = append(found, loc)
	}
	return found
}

// anchoredRegexp finds the matches of a pattern of the form \b(?:w1|w2…)…
// by trying, at each offset where one of the words starts, the same
// pattern anchored there. That returns what FindAllStringSubmatchIndex
// over the whole text returns, because every match starts at such an
// offset, and the leftmost-first match that starts there is the anchored
// pattern's match.
type anchoredRegexp struct {
	// re is the pattern with its leading \b replaced by ^; findAll checks
	// \b itself.
	re *regexp.Regexp
	// startsHere reports whether a match can start at s[k]: one of the
	// words starts there, and what must follow it does. It may accept
	// offsets where no match starts but must accept every one where one
	// does.
	startsHere func(s string, k int) bool
	// windowEnd returns an offset that no match starting at k reaches
	// past, such as the end of the line for patterns that never cross one.
	windowEnd func(s string, k int) int
	// segmentStart returns an offset that no match covering k starts
	// before: windowEnd's counterpart.
	segmentStart func(s string, k int) int
	// matchEnd, when set, returns an offset before windowEnd that no
	// match starting at k reaches past either, so that the pattern reads
	// less of a long line.
	matchEnd func(s string, k int) int
}

// findAll returns the matches in s, given starts: sorted offsets that
// include every offset where a match starts. f (when not nil) limits the
// segments it reads: the text from segmentStart to windowEnd around an
// offset, which holds every match that may cover the offset.
func (ar *anchoredRegexp) findAll(s string, starts []int, f *spanFilter) [][]int {
	var found [][]int
	end := 0
	// The segment around the last offset read. Offsets come in order, and
	// the next one often lies in the same segment, which would cost a scan
	// of it per offset otherwise.
	segStart, segEnd := 0, -1
	for _, k := range starts {
		if k < end || f.skips(k) || !ar.startsHere(s, k) || !wordBoundaryAt(s, k) {
			continue
		}
		if k >= segEnd {
			segStart, segEnd = -1, ar.windowEnd(s, k)
		}
		// A match may cover later offsets, so whether one is read depends
		// on the whole segment around it.
		if f != nil {
			if segStart < 0 {
				segStart = ar.segmentStart(s, k)
			}
			if !f.allows(segStart, segEnd) {
				continue
			}
		}
		windowEnd := segEnd
		if ar.matchEnd != nil {
			windowEnd = min(windowEnd, ar.matchEnd(s, k))
		}
		loc := ar.re.FindStringSubmatchIndex(s[k:windowEnd])
		if loc == nil {
			continue
		}
		for i := range loc {
			if loc[i] >= 0 {
				loc[i] += k
			}
		}
		found = append(found, loc)
		end = loc[1]
	}
	return found
}

// segmentBegin returns a segmentStart function for a pattern whose
// matches stay inside the segments of sr.
func segmentBegin(sr *scopedRegexp) func(s string, k int) int {
	return func(s string, k int) int {
		for k > 0 && sr.inside[s[k-1]] {
			k--
		}
		return k
	}
}

// lastNewline returns the offset of the last "\n" in s, or -1, reading
// 8 bytes at a time.
func lastNewline(s string) int {
	i := len(s)
	for ; i >= 8; i -= 8 {
		// A byte of x ^ 0x0a… is zero where s has "\n".
		x := load64(s, i-8) ^ 0x0a0a0a0a0a0a0a0a
		if zero := ^((x&swarLow7 + swarLow7) | x) & swarHigh; zero != 0 {
			return i - 8 + (63-bits.LeadingZeros64(zero))>>3
		}
	}
	return strings.LastIndexByte(s[:i], '\n')
}

// lineStart returns the offset after the last line feed before k, or 0.
func lineStart(s string, k int) int {
	return lastNewline(s[:k]) + 1
}

// segmentEnd returns a windowEnd function for a pattern whose matches stay
// inside the segments of sr.
func segmentEnd(sr *scopedRegexp) func(s string, k int) int {
	return func(s string, k int) int {
		for k < len(s) && sr.inside[s[k]] {
			k++
		}
		return k
	}
}

// lineEnd returns the offset of the first line feed at or after k, or
// len(s).
func lineEnd(s string, k int) int {
	if i := strings.IndexByte(s[k:], '\n'); i >= 0 {
		return k + i
	}
	return len(s)
}
