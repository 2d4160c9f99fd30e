package benchparse

import (
	"bytes"
	"fmt"
	"runtime"
	"runtime/debug"
	"sort"
	"time"

	"github.com/jhillyerd/enmime/v2"

	"mailtriage/internal/mime"
	"mailtriage/schemas"
)

// Parser is one Go parser that Run can measure.
type Parser struct {
	// Work describes what one parse does, for the report.
	Work string
	// Module is the Go module whose version the report shows.
	Module string
	// Parse parses one message.
	Parse ParseFunc
}

// receivedAt is fixed so that Parse never reads the clock.
var receivedAt = time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)

// Parsers are the Go parsers by the name the runner flag takes.
var Parsers = map[string]Parser{
	"mailtriage": {
		Work: "mime.Parse, the parse every ingress role runs: all header fields decoded, " +
			"addresses, date and message IDs, text and HTML bodies converted to UTF-8 " +
			"(text derived from HTML when there is no text part), attachment metadata " +
			"with the SHA-256 of each decoded attachment, attached messages parsed, " +
			"malformed structure repaired, and the reply text without quotes and signature",
		Module: "mailtriage",
		Parse: func(raw []byte) error {
			_, err := mime.Parse(raw, mime.Options{Tenant: "bench", Source: schemas.SourceImport, ReceivedAt: receivedAt})
			return err
		},
	},
	"enmime": {
		Work: "enmime.ReadEnvelope with the default parser: header fields, text and HTML " +
			"bodies converted to UTF-8 (text derived from HTML when there is no text part), " +
			"attachments and inlines decoded into memory",
		Module: "github.com/jhillyerd/enmime/v2",
		Parse: func(raw []byte) error {
			_, err := enmime.ReadEnvelope(bytes.NewReader(raw))
			return err
		},
	},
}

// ParserNames returns the keys of Parsers in order, for help text.
func ParserNames() []string {
	names := make([]string, 0, len(Parsers))
	for name := range Parsers {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Run measures the named Go parser over pack.
func Run(name string, pack *Pack, limits Limits) (Result, error) {
	parser, ok := Parsers[name]
	if !ok {
		return Result{}, fmt.Errorf("unknown parser %q; use one of %v", name, ParserNames())
	}
	res, err := Measure(pack, limits, parser.Parse)
	if err != nil {
		return Result{}, err
	}
	res.Parser = name
	res.Version = moduleVersion(parser.Module)
	res.Runtime = fmt.Sprintf("%s, GOMAXPROCS=%d", runtime.Version(), runtime.GOMAXPROCS(0))
	res.Work = parser.Work
	return res, nil
}

// moduleVersion returns the version of module in this binary's build
// information, or "(this tree)" for the main module.
func moduleVersion(module string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if info.Main.Path == module {
		return "(this tree)"
	}
	for _, dep := range info.Deps {
		if dep.Path == module {
			return dep.Version
		}
	}
	return "unknown"
}
