package processors

// acAutomaton is an Aho–Corasick automaton over bytes. It finds every
// occurrence of a set of byte strings in one pass over a text, whatever the
// number of strings. The goto and failure functions are merged into one
// transition table, so the scan costs one table lookup per byte.
type acAutomaton struct {
	// columns maps a byte to its column in next. Bytes that occur in no
	// pattern share column 0, which always leads back to the root.
	columns [256]uint16
	width   int     // number of columns
	next    []int32 // next[state*width+column] is the state after a byte
	// The patterns that end at state s are out[outStart[s]:outStart[s+1]].
	outStart []int32
	out      []int32
	lens     []int // pattern lengths in bytes
}

// newACAutomaton builds the automaton of patterns. Empty patterns are
// ignored because they have no end byte to report.
func newACAutomaton(patterns []string) *acAutomaton {
	a := &acAutomaton{width: 1, lens: make([]int, len(patterns))}
	for i, p := range patterns {
		a.lens[i] = len(p)
		for j := 0; j < len(p); j++ {
			if a.columns[p[j]] == 0 {
				a.columns[p[j]] = uint16(a.width)
				a.width++
			}
		}
	}

	// The trie: -1 marks a missing edge until the failure pass fills it.
	a.next = a.newState(nil)
	own := [][]int32{nil}
	for i, p := range patterns {
		if p == "" {
			continue
		}
		s := 0
		for j := 0; j < len(p); j++ {
			edge := s*a.width + int(a.columns[p[j]])
			if a.next[edge] < 0 {
				a.next[edge] = int32(len(own))
				a.next = a.newState(a.next)
				own = append(own, nil)
			}
			s = int(a.next[edge])
		}
		own[s] = append(own[s], int32(i))
	}

	a.link(own)
	return a
}

func (a *acAutomaton) newState(next []int32) []int32 {
	for range a.width {
		next = append(next, -1)
	}
	return next
}

// link completes the transition table breadth first: a missing edge of a
// state leads where the same byte leads from the state's failure state,
// the state for the longest proper suffix of its path that is also in the
// trie. Each state's outputs are its own patterns and those of its
// failure state.
func (a *acAutomaton) link(own [][]int32) {
	states := len(own)
	fail := make([]int32, states)
	outputs := make([][]int32, states)
	outputs[0] = own[0]

	queue := make([]int32, 0, states)
	for c := range a.width {
		child := a.next[c]
		if child < 0 {
			a.next[c] = 0
			continue
		}
		fail[child] = 0
		queue = append(queue, child)
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		outputs[s] = append(own[s], outputs[fail[s]]...)
		for c := range a.width {
			edge := int(s)*a.width + c
			child := a.next[edge]
			viaFail := a.next[int(fail[s])*a.width+c]
			if child < 0 {
				a.next[edge] = viaFail
				continue
			}
			fail[child] = viaFail
			queue = append(queue, child)
		}
	}

	a.outStart = make([]int32, states+1)
	for s, out := range outputs {
		a.out = append(a.out, out...)
		a.outStart[s+1] = int32(len(a.out))
	}
}

// scan reports each occurrence of a pattern in text by calling found with
// the pattern's index and the occurrence's start and end offsets, in order
// of end offset. It stops early when found returns false.
func (a *acAutomaton) scan(text string, found func(pattern, start, end int) bool) {
	s := 0
	for i := 0; i < len(text); i++ {
		s = int(a.next[s*a.width+int(a.columns[text[i]])])
		from, to := a.outStart[s], a.outStart[s+1]
		if from == to {
			continue
		}
		for _, p := range a.out[from:to] {
			if !found(int(p), i+1-a.lens[p], i+1) {
				return
			}
		}
	}
}
