package benchreport

import (
	"strings"
	"testing"
)

func TestReplaceSectionAppends(t *testing.T) {
	doc := "# Benchmarks\n\nHand-written text.\n"
	got, err := ReplaceSection(doc, "## Run\n\nfigures\n")
	if err != nil {
		t.Fatalf("ReplaceSection: %v", err)
	}
	exp := doc + "\n" + BeginMarker + "\n\n## Run\n\nfigures\n\n" + EndMarker + "\n"
	if got != exp {
		t.Errorf("ReplaceSection =\n%s\nexpected\n%s", got, exp)
	}
}

func TestReplaceSectionKeepsTheRest(t *testing.T) {
	before := "# Benchmarks\n\nBy hand, before.\n\n"
	after := "\n## Model section\n\nBy another author.\n"
	doc := before + BeginMarker + "\n\nold figures\n\n" + EndMarker + "\n" + after

	got, err := ReplaceSection(doc, "new figures")
	if err != nil {
		t.Fatalf("ReplaceSection: %v", err)
	}
	if !strings.HasPrefix(got, before) {
		t.Errorf("text before the markers changed:\n%s", got)
	}
	if !strings.HasSuffix(got, EndMarker+"\n"+after) {
		t.Errorf("text after the markers changed:\n%s", got)
	}
	if strings.Contains(got, "old figures") || !strings.Contains(got, "new figures") {
		t.Errorf("section not replaced:\n%s", got)
	}

	again, err := ReplaceSection(got, "new figures")
	if err != nil || again != got {
		t.Errorf("a second ReplaceSection with the same section changed the page (err %v)", err)
	}
}

func TestReplaceSectionBrokenMarkers(t *testing.T) {
	cases := map[string]string{
		"begin only":  "x\n" + BeginMarker + "\ny\n",
		"end only":    "x\n" + EndMarker + "\n",
		"wrong order": EndMarker + "\n" + BeginMarker + "\n",
		"two pairs":   BeginMarker + EndMarker + BeginMarker + EndMarker,
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := ReplaceSection(doc, "s"); err == nil {
				t.Errorf("ReplaceSection returned no error, expected one about the markers")
			}
		})
	}
}
