package runner

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"mailtriage/schemas"
)

// Phrases of the topology benchmark's mail.
var (
	mixLines = []string{
		"My order from last Tuesday has not arrived yet and the tracking stopped updating.",
		"I was billed twice this month, please refund one of the payments.",
		"Since the last update I cannot sign in; the page reloads without an error.",
		"The CSV export ends after about three hundred rows.",
		"We want to add four seats to our team plan before the renewal.",
		"The invoice lists our old company address, could you correct it?",
		"The mobile app closes as soon as I open the settings.",
		"The parcel arrived damaged and one item is missing.",
		"Could you move the delivery to my office address instead?",
		"The reset link in your email expired before I could use it.",
		"Nothing changed on our side, but the webhook calls stopped on Friday.",
		"Thanks for the quick answer last time, this is a different problem.",
	}
	mixPII = []string{
		"Call me back on +44 20 7946 0321 if that is easier.",
		"The card used was 4111 1111 1111 1111.",
		"Please write to j.smith@customer.example from now on.",
		"Our IBAN is DE89 3704 0044 0532 0130 00.",
		"The sign-in came from 203.0.113.77.",
	}
	mixSubjects = []string{
		"Order %d not delivered", "Refund for invoice %d", "Cannot sign in", "Re: Ticket %d",
		"Export stops early", "Add seats to plan", "Wrong address on invoice", "App crash on settings",
	}
)

// topologyMail returns n distinct support emails from a fixed seed. Each
// has 2 to 20 KB of reply text with some personal data and a quoted
// earlier message. Every other one has an HTML part, every third has
// attachment metadata.
func topologyMail(n int) []schemas.InboundEmail {
	rng := rand.New(rand.NewPCG(44, uint64(n)))
	received := time.Date(2025, 6, 2, 8, 0, 0, 0, time.UTC)
	out := make([]schemas.InboundEmail, n)
	for i := range out {
		reply := mixText(rng, 2<<10+rng.IntN(18<<10))
		quoted := "> " + strings.ReplaceAll(mixText(rng, 1<<10), "\n", "\n> ")
		subject := mixSubjects[rng.IntN(len(mixSubjects))]
		if strings.Contains(subject, "%d") {
			subject = fmt.Sprintf(subject, 20000+rng.IntN(80000))
		}
		e := schemas.InboundEmail{
			Tenant:     []string{"acme", "globex", "initech"}[i%3],
			MessageID:  fmt.Sprintf("topology-%d-%d@mail.example", n, i),
			Source:     schemas.SourceSMTP,
			ReceivedAt: received.Add(time.Duration(i) * time.Millisecond),
			From:       &schemas.Address{Name: "Customer", Address: fmt.Sprintf("buyer%d@mail.example", i)},
			To:         []schemas.Address{{Address: "support@shop.example"}},
			Subject:    subject,
			Text:       reply + "\n\nOn Mon, 2 Jun 2025, Support wrote:\n" + quoted,
			ReplyText:  reply,
			Headers:    []schemas.Header{{Name: "Content-Type", Value: "multipart/alternative"}},
		}
		if i%2 == 0 {
			e.HTML = "<html><body><p>" + strings.ReplaceAll(e.Text, "\n\n", "</p><p>") + "</p></body></html>"
		}
		if i%3 == 0 {
			e.Attachments = []schemas.Attachment{
				{Filename: "photo.jpg", ContentType: "image/jpeg", Size: int64(50_000 + rng.IntN(500_000)),
					SHA256: strings.Repeat("9f", 32), StorageKey: fmt.Sprintf("att/%d/photo.jpg", i), Part: "2"},
				{Filename: "receipt.pdf", ContentType: "application/pdf", Size: int64(10_000 + rng.IntN(90_000)),
					SHA256: strings.Repeat("e1", 32), StorageKey: fmt.Sprintf("att/%d/receipt.pdf", i), Part: "3"},
			}
		}
		out[i] = e
	}
	return out
}

// mixText returns paragraphs of about size bytes, with personal data in
// about one sentence out of ten.
func mixText(rng *rand.Rand, size int) string {
	var b strings.Builder
	b.WriteString("Hello,\n\n")
	for b.Len() < size {
		for range 2 + rng.IntN(5) {
			b.WriteString(mixLines[rng.IntN(len(mixLines))])
			b.WriteByte(' ')
			if rng.IntN(10) == 0 {
				b.WriteString(mixPII[rng.IntN(len(mixPII))])
				b.WriteByte(' ')
			}
		}
		b.WriteString("\n\n")
	}
	b.WriteString("Kind regards,\nAlex")
	return b.String()
}
