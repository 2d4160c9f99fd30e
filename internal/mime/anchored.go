package mime

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"unicode/utf8"
)

// anchoredPattern is a regular expression anchored at the start of the text,
// with the ASCII bytes that can start a match. MatchString rejects a string
// that starts with any other ASCII byte without running the expression,
// which matters because replyText tries several patterns on every line.
type anchoredPattern struct {
	*regexp.Regexp
	first [utf8.RuneSelf]bool
}

// mustCompileAnchored compiles expr, which must start with ^ (after its
// flags), and panics when it does not or does not compile.
func mustCompileAnchored(expr string) *anchoredPattern {
	p := &anchoredPattern{Regexp: regexp.MustCompile(expr)}
	first, err := firstASCIIBytes(expr)
	if err != nil {
		panic(fmt.Sprintf("mime: pattern %q: %v", expr, err))
	}
	p.first = first
	return p
}

// MatchString reports whether s matches the pattern.
func (p *anchoredPattern) MatchString(s string) bool {
	if s != "" && s[0] < utf8.RuneSelf && !p.first[s[0]] {
		return false
	}
	return p.Regexp.MatchString(s)
}

// firstASCIIBytes returns which ASCII bytes can be the first byte of a
// match of expr. It follows the compiled program from its start through
// empty-width, capture and alternation instructions to the instructions
// that consume the first rune, and tests each of them against every ASCII
// rune, so case folding is taken into account as the regexp package does
// it. A program that can match the empty string allows every byte.
func firstASCIIBytes(expr string) ([utf8.RuneSelf]bool, error) {
	var first [utf8.RuneSelf]bool
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return first, err
	}
	re = re.Simplify()
	if re.Op != syntax.OpConcat || len(re.Sub) == 0 || re.Sub[0].Op != syntax.OpBeginText {
		return first, fmt.Errorf("the pattern must start with ^ outside any group")
	}
	prog, err := syntax.Compile(re)
	if err != nil {
		return first, err
	}

	seen := make([]bool, len(prog.Inst))
	var visit func(pc uint32)
	visit = func(pc uint32) {
		if seen[pc] {
			return
		}
		seen[pc] = true
		inst := &prog.Inst[pc]
		switch inst.Op {
		case syntax.InstAlt, syntax.InstAltMatch:
			visit(inst.Out)
			visit(inst.Arg)
		case syntax.InstCapture, syntax.InstNop, syntax.InstEmptyWidth:
			visit(inst.Out)
		case syntax.InstMatch:
			for c := range first {
				first[c] = true
			}
		case syntax.InstRune, syntax.InstRune1:
			for c := range first {
				if inst.MatchRunePos(rune(c)) >= 0 {
					first[c] = true
				}
			}
		case syntax.InstRuneAny:
			for c := range first {
				first[c] = true
			}
		case syntax.InstRuneAnyNotNL:
			for c := range first {
				if c != '\n' {
					first[c] = true
				}
			}
		case syntax.InstFail:
		}
	}
	visit(uint32(prog.Start))
	return first, nil
}
