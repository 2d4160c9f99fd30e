package processors

// The scanners in this file find what a regular expression of a detector
// finds in one segment, as FindAllStringIndex(seg, -1) would: the leftmost
// match, then the next one from its end. Each pattern has a single way to
// match from a given start, so a scanner follows it byte by byte. The
// tests compare each scanner with its pattern over random texts.

// scanPhoneCandidates follows phoneCandidateRe,
// \+?\(?[0-9]+(?:(?:\) ?|[ .\-/]\(?|\()[0-9]+)*: an optional "+" and "("
// before the first digits, then digit groups joined by ")", ") ", one of
// " .-/" with an optional "(" after it, or "(".
func scanPhoneCandidates(seg string, dst []span) []span {
	for i := 0; i < len(seg); {
		start, digits := phoneCandidateStart(seg, i)
		if start < 0 {
			i++
			continue
		}
		end := digitsEnd(seg, digits)
		for {
			next := phoneGroupAfter(seg, end)
			if next < 0 {
				break
			}
			end = digitsEnd(seg, next)
		}
		dst = append(dst, span{start, end})
		i = end
	}
	return dst
}

// phoneCandidateStart returns where a candidate starting at seg[i]
// starts and where its first digits start, or -1 when none starts there.
func phoneCandidateStart(seg string, i int) (start, digits int) {
	j := i
	if seg[j] == '+' {
		j++
	}
	if j < len(seg) && seg[j] == '(' {
		j++
	}
	if j < len(seg) && isDigit(seg[j]) {
		return i, j
	}
	if isDigit(seg[i]) {
		return i, i
	}
	return -1, -1
}

// phoneGroupAfter returns where the next digit group starts when a
// separator that joins groups follows seg[:end], or -1.
func phoneGroupAfter(seg string, end int) int {
	digitAt := func(i int) bool { return i < len(seg) && isDigit(seg[i]) }
	if end >= len(seg) {
		return -1
	}
	switch c := seg[end]; {
	case c == ')':
		if end+1 < len(seg) && seg[end+1] == ' ' && digitAt(end+2) {
			return end + 2
		}
		if digitAt(end + 1) {
			return end + 1
		}
	case c == ' ' || c == '.' || c == '-' || c == '/':
		if end+1 < len(seg) && seg[end+1] == '(' && digitAt(end+2) {
			return end + 2
		}
		if digitAt(end + 1) {
			return end + 1
		}
	case c == '(':
		if digitAt(end + 1) {
			return end + 1
		}
	}
	return -1
}

// digitsEnd returns the end of the digit run at seg[i].
func digitsEnd(seg string, i int) int {
	for i < len(seg) && isDigit(seg[i]) {
		i++
	}
	return i
}

// scanCards follows cardRe, \b[0-9](?:[ -]?[0-9]){12,18}\b: 13 to 19
// digits, each after at most one space or dash, taking as many as fit
// before a \b.
func scanCards(seg string, dst []span) []span {
	var digitEnds [19]int
	for i := 0; i < len(seg); i++ {
		if !isDigit(seg[i]) || i > 0 && isASCIIWordByte(seg[i-1]) {
			continue
		}
		n := 0
		for j := i; n < len(digitEnds); {
			if j < len(seg) && isDigit(seg[j]) {
				j++
			} else if j+1 < len(seg) && (seg[j] == ' ' || seg[j] == '-') && isDigit(seg[j+1]) && n > 0 {
				j += 2
			} else {
				break
			}
			digitEnds[n] = j
			n++
		}
		for ; n >= 13; n-- {
			if end := digitEnds[n-1]; end == len(seg) || !isASCIIWordByte(seg[end]) {
				dst = append(dst, span{i, end})
				i = end - 1
				break
			}
		}
	}
	return dst
}

// scanIBANs follows ibanRe, \b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}: a
// country code and check digits, then as many as 30 capitals or digits,
// each after at most one space.
func scanIBANs(seg string, dst []span) []span {
	for i := 0; i+4 <= len(seg); i++ {
		if i > 0 && isASCIIWordByte(seg[i-1]) || !isUpper(seg[i]) || !isUpper(seg[i+1]) || !isDigit(seg[i+2]) || !isDigit(seg[i+3]) {
			continue
		}
		j, n := i+4, 0
		for n < 30 {
			if j+1 < len(seg) && seg[j] == ' ' && isUpperOrDigit(seg[j+1]) {
				j += 2
			} else if j < len(seg) && isUpperOrDigit(seg[j]) {
				j++
			} else {
				break
			}
			n++
		}
		if n >= 11 {
			dst = append(dst, span{i, j})
			i = j - 1
		}
	}
	return dst
}

func isUpperOrDigit(c byte) bool { return isUpper(c) || isDigit(c) }

// scanIPv4s follows ipv4Re, \b(?:[0-9]{1,3}\.){3}[0-9]{1,3}\b: four runs
// of one to three digits joined by dots, with \b at both ends. A longer
// run fails the pattern, because the next byte is then a digit.
func scanIPv4s(seg string, dst []span) []span {
	for i := 0; i < len(seg); i++ {
		if !isDigit(seg[i]) || i > 0 && isASCIIWordByte(seg[i-1]) || !dottedQuadAt(seg, i) {
			continue
		}
		end := i
		for range 4 {
			end += leadingDigits(seg[end:]) + 1
		}
		end-- // the last part has no dot after it
		if end == len(seg) || !isASCIIWordByte(seg[end]) {
			dst = append(dst, span{i, end})
			i = end - 1
		}
	}
	return dst
}
