package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
)

// Phrases of the latency run's mail, a support mix like the one of the
// topology benchmark.
var (
	latencyLines = []string{
		"My order from last Tuesday has not arrived yet and the tracking stopped updating.",
		"I was billed twice this month, please refund one of the payments.",
		"Since the last update I cannot sign in, and the page reloads without an error.",
		"The CSV export ends after about three hundred rows.",
		"We want to add four seats to our team plan before the renewal.",
		"The invoice lists our old company address, could you correct it?",
		"The mobile app closes as soon as I open the settings.",
		"The parcel arrived damaged and one item is missing.",
	}
	latencyPII = []string{
		"Call me back on +44 20 7946 0321 if that is easier.",
		"The card used was 4111 1111 1111 1111.",
		"The sign-in came from 203.0.113.77.",
	}
	latencySubjects = []string{
		"Order %d not delivered", "Refund for invoice %d", "Cannot sign in (%d)", "Export stops early (%d)",
	}
)

// latencyPayload returns the JSON webhook body of email i of a run: 2 to
// 20 KB of text with some personal data, and attachment metadata for one
// email in three. The message ID carries run and i, so that the ticket row
// can be matched to its request.
func latencyPayload(rng *rand.Rand, run string, i int) ([]byte, error) {
	var text strings.Builder
	text.WriteString("Hello,\n\n")
	size := 2<<10 + rng.IntN(18<<10)
	for text.Len() < size {
		text.WriteString(latencyLines[rng.IntN(len(latencyLines))])
		text.WriteByte(' ')
		if rng.IntN(10) == 0 {
			text.WriteString(latencyPII[rng.IntN(len(latencyPII))])
			text.WriteByte(' ')
		}
		if rng.IntN(4) == 0 {
			text.WriteString("\n\n")
		}
	}
	text.WriteString("\n\nKind regards,\nAlex")

	payload := map[string]any{
		"messageId": fmt.Sprintf("<%s-%d@bench.example>", run, i),
		"from":      map[string]string{"name": "Customer", "address": fmt.Sprintf("buyer%d@bench.example", i)},
		"to":        []string{"support@shop.example"},
		"subject":   fmt.Sprintf(latencySubjects[rng.IntN(len(latencySubjects))], 20000+i),
		"text":      text.String(),
	}
	if i%3 == 0 {
		payload["attachments"] = []map[string]any{
			{"filename": "receipt.pdf", "contentType": "application/pdf", "size": 10_000 + rng.IntN(90_000)},
		}
	}
	return json.Marshal(payload)
}

// latencyIndex returns i of a message ID that latencyPayload made for run,
// with or without the angle brackets.
func latencyIndex(run, messageID string) (int, bool) {
	id := strings.Trim(messageID, "<>")
	rest, ok := strings.CutPrefix(id, run+"-")
	if !ok {
		return 0, false
	}
	digits, ok := strings.CutSuffix(rest, "@bench.example")
	if !ok {
		return 0, false
	}
	var i int
	if _, err := fmt.Sscanf(digits, "%d", &i); err != nil {
		return 0, false
	}
	return i, true
}
