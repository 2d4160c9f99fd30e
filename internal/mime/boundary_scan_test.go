package mime

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// boundaryScanPieces are the fragments random inputs are built from: the
// word in several cases, what may follow it, and bytes that are not ASCII
// (the Kelvin sign and the long s case-fold to ASCII letters).
var boundaryScanPieces = []string{
	"boundary", "BOUNDARY", "Boundary", "bOuNdArY", "boundar", "bboundary",
	"=", " = ", "\t", "\r\n", "\r\n ", ";", "\"", "'", "abc", "--x", "B", "b",
	"\u212a", "\u017f", "\xff\xfe", "é", "boundary=\"", "boundary=''",
}

func randomBoundaryInput(r *rand.Rand) []byte {
	var sb strings.Builder
	for range r.IntN(40) {
		sb.WriteString(boundaryScanPieces[r.IntN(len(boundaryScanPieces))])
	}
	return []byte(sb.String())
}

func TestBoundaryParamsInMatchesPattern(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 50000 {
		input := randomBoundaryInput(r)
		var want [][]byte
		for _, m := range boundaryPattern.FindAllSubmatch(input, -1) {
			want = append(want, m[1])
		}
		got := boundaryParamsIn(input)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("boundaryParamsIn(%q) = %q, boundaryPattern finds %q", input, got, want)
		}
	}
}

func TestIndexFoldASCII(t *testing.T) {
	cases := []struct {
		input string
		want  int
	}{
		{"", -1},
		{"boundar", -1},
		{"boundary", 0},
		{"xxBOUNDARY", 2},
		{"bbbBBBoundary", 5},
		{"b\u212aboundary", 4},
		{"BoUnDaRx boundarY", 9},
	}
	for _, c := range cases {
		if got := indexFoldASCII([]byte(c.input), "boundary"); got != c.want {
			t.Errorf("indexFoldASCII(%q) = %d, want %d", c.input, got, c.want)
		}
	}
}
