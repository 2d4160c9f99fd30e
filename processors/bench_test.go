package processors

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"time"

	"mailtriage/internal/state"
	"mailtriage/schemas"
)

// The benchmarks run the processors over mail built by benchMail from a
// fixed seed, so every run sees the same input. Run them with
//
//	go test ./processors -run '^$' -bench . -benchtime 20x -count 3
//
// One operation of BenchmarkChain, BenchmarkRedact, BenchmarkClassify and
// BenchmarkRoute is the whole mix of benchMixSize messages; the emails/s
// metric counts messages.

const benchMixSize = 30

// largeTextSize is the size of the text and of the reply text of
// BenchmarkChainLarge's message.
const largeTextSize = 256 << 10

var (
	proseOpenings = []string{
		"Hello,", "Hi team,", "Good morning,", "Dear support,", "Hi there,", "Hallo zusammen,",
	}
	proseSentences = []string{
		"I placed an order last week and it still has not arrived.",
		"The tracking page has shown the same status for four days now.",
		"Could you please tell me when my package will be delivered?",
		"I was charged twice for the same subscription this month.",
		"Please refund the second payment to my card.",
		"I cannot log in since the update on Monday, the page just reloads.",
		"The verification code never reaches my phone.",
		"Our team uses the dashboard every day and it has been slow since yesterday.",
		"The export to CSV stops after a few hundred rows.",
		"We would like to add three more seats to our plan.",
		"Is there a discount for annual billing?",
		"The invoice shows the wrong company address.",
		"My colleague forwarded me the message below.",
		"I attached a screenshot of the error so you can see what happens.",
		"The app crashes when I open the settings screen on Android.",
		"Nothing changed on our side, the integration simply stopped working.",
		"We are happy with the product otherwise, thanks for the quick help last time.",
		"It is not urgent, but I would appreciate an answer this week.",
		"I tried a different browser and cleared the cache, with the same result.",
		"Please let me know if you need any further information from me.",
		"The item in the parcel was damaged and the box was open.",
		"Can I change the delivery address before it ships?",
		"The password reset link in your email has already expired.",
		"Which plan includes single sign-on for the whole company?",
	}
	proseClosings = []string{
		"Thanks,", "Best regards,", "Kind regards,", "Cheers,", "Thank you in advance,", "Viele Grüße,",
	}
	proseNames = []string{"Jane", "Omar", "Lena Müller", "Priya", "Tomás", "Chen Wei", "Sam"}

	benchSubjects = []string{
		"Question about my account", "Where is my order #%d?", "Refund for invoice %d",
		"Cannot log in", "Re: Ticket %d", "Feature request", "Export broken", "Fwd: delivery problem",
		"URGENT: checkout is down", "Help needed asap", "Billing question", "Hello",
	}
)

// benchMail builds the mix of BenchmarkChain: support mail with 2 to 20 KB
// of prose, some personal data among it, a quoted earlier message, an HTML
// part for half of them and attachment metadata for every third.
func benchMail(n int) []schemas.InboundEmail {
	rng := rand.New(rand.NewPCG(20250601, uint64(n)))
	mail := make([]schemas.InboundEmail, n)
	for i := range mail {
		reply := benchProse(rng, 2<<10+rng.IntN(18<<10))
		quoted := "> " + strings.ReplaceAll(benchProse(rng, 1<<10), "\n", "\n> ")
		subject := benchSubjects[rng.IntN(len(benchSubjects))]
		if strings.Contains(subject, "%d") {
			subject = fmt.Sprintf(subject, 10000+rng.IntN(90000))
		}

		e := schemas.InboundEmail{
			Tenant:     []string{"default", "acme", "globex"}[i%3],
			MessageID:  fmt.Sprintf("bench-%d@mail.example", i),
			Source:     "smtp",
			ReceivedAt: time.Date(2025, 6, 1, 9, 0, i, 0, time.UTC),
			From:       &schemas.Address{Name: "Customer", Address: fmt.Sprintf("customer%d@mail.example", i)},
			To:         []schemas.Address{{Address: []string{"support@shop.example", "billing@shop.example", "support+orders@shop.example"}[i%3]}},
			Subject:    subject,
			Text:       reply + "\n\nOn Mon, 2 Jun 2025 at 10:12, Support wrote:\n" + quoted,
			ReplyText:  reply,
			Headers: []schemas.Header{
				{Name: "Content-Type", Value: "multipart/alternative"},
				{Name: "X-Mailer", Value: "bench"},
			},
		}
		if i%2 == 0 {
			e.HTML = "<html><body><p>" + strings.ReplaceAll(e.Text, "\n\n", "</p><p>") + "</p></body></html>"
		}
		if i%3 == 0 {
			e.Attachments = benchAttachments(rng)
		}
		mail[i] = e
	}
	return mail
}

// benchProse returns paragraphs of support-mail prose of about size bytes
// with personal data in about one sentence out of eight.
func benchProse(rng *rand.Rand, size int) string {
	var b strings.Builder
	b.WriteString(proseOpenings[rng.IntN(len(proseOpenings))])
	b.WriteString("\n\n")
	for b.Len() < size {
		for range 3 + rng.IntN(4) {
			b.WriteString(proseSentences[rng.IntN(len(proseSentences))])
			b.WriteByte(' ')
			if rng.IntN(8) == 0 {
				b.WriteString(benchPII(rng))
				b.WriteByte(' ')
			}
		}
		b.WriteString("\n\n")
	}
	b.WriteString(proseClosings[rng.IntN(len(proseClosings))])
	b.WriteByte('\n')
	b.WriteString(proseNames[rng.IntN(len(proseNames))])
	return b.String()
}

// benchPII returns a sentence with one item of personal data, or with a
// number that only looks like one.
func benchPII(rng *rand.Rand) string {
	switch rng.IntN(12) {
	case 0:
		return fmt.Sprintf("You can reach me at +44 20 7946 %04d.", rng.IntN(10000))
	case 1:
		return fmt.Sprintf("My number is 555-%03d-%04d.", 200+rng.IntN(800), rng.IntN(10000))
	case 2:
		return "The card ending in 1111 is 4111 1111 1111 1111."
	case 3:
		return "Please send it to jane.doe@customer.example instead."
	case 4:
		return "Our IBAN is DE89 3704 0044 0532 0130 00."
	case 5:
		return fmt.Sprintf("The login came from 203.0.113.%d, which is not us.", rng.IntN(256))
	case 6:
		return fmt.Sprintf("Order %d shipped on 2025-05-%02d.", 100000+rng.IntN(900000), 1+rng.IntN(28))
	case 7:
		return "My temporary password: Tr0ub4dor&3 did not work."
	case 8:
		return "Our API key is api_key=Zx81Kq02LmP7vT4wRb9n if that helps."
	case 9:
		return fmt.Sprintf("The total was $%d.%02d for %d items.", rng.IntN(1000), rng.IntN(100), 1+rng.IntN(9))
	case 10:
		return fmt.Sprintf("Version 3.%d.%d of the app, build 2025.06.%02d.", rng.IntN(20), rng.IntN(10), 1+rng.IntN(28))
	default:
		return fmt.Sprintf("Ticket %d was closed without an answer.", 400000+rng.IntN(100000))
	}
}

func benchAttachments(rng *rand.Rand) []schemas.Attachment {
	atts := []schemas.Attachment{
		{Filename: "screenshot.png", ContentType: "image/png", Size: int64(40000 + rng.IntN(400000)),
			SHA256: strings.Repeat("ab12", 16), StorageKey: "att/screenshot.png", Part: "2"},
		{Filename: "invoice.pdf", ContentType: "application/pdf", Size: int64(20000 + rng.IntN(200000)),
			SHA256: strings.Repeat("cd34", 16), StorageKey: "att/invoice.pdf", Part: "3"},
	}
	if rng.IntN(2) == 0 {
		atts = append(atts, schemas.Attachment{
			Filename: "forwarded.eml", ContentType: "message/rfc822", Size: 4096, Part: "4",
			Text: benchProse(rng, 2<<10),
		})
	}
	return atts
}

// benchLogLines returns about size bytes of application log lines, with
// timestamps, addresses, identifiers and durations but no personal data
// that the line shape does not carry itself.
func benchLogLines(rng *rand.Rand, size int) string {
	levels := []string{"INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"}
	methods := []string{"GET", "GET", "POST", "PUT", "DELETE"}
	paths := []string{"/api/v1/items", "/api/v1/carts", "/api/v2/search", "/healthz", "/api/v1/users"}
	var b strings.Builder
	b.Grow(size + 200)
	for b.Len() < size {
		fmt.Fprintf(&b, "2025-06-01T%02d:%02d:%02d.%03dZ %-5s [worker-%d] req=%08x %s %s/%d status=%d dur=%dms peer=10.%d.%d.%d:%d\n",
			rng.IntN(24), rng.IntN(60), rng.IntN(60), rng.IntN(1000),
			levels[rng.IntN(len(levels))], rng.IntN(16), rng.Uint32(),
			methods[rng.IntN(len(methods))], paths[rng.IntN(len(paths))], rng.IntN(100000),
			[]int{200, 200, 201, 204, 404, 500}[rng.IntN(6)], rng.IntN(2000),
			rng.IntN(256), rng.IntN(256), rng.IntN(256), 1024+rng.IntN(60000))
	}
	return b.String()
}

func benchLargeMail() schemas.InboundEmail {
	rng := rand.New(rand.NewPCG(20250601, 1))
	return schemas.InboundEmail{
		Tenant:    "default",
		MessageID: "bench-large@mail.example",
		From:      &schemas.Address{Address: "ops@customer.example"},
		To:        []schemas.Address{{Address: "support@shop.example"}},
		Subject:   "Logs from this morning",
		Text:      benchLogLines(rng, largeTextSize),
		ReplyText: benchLogLines(rng, largeTextSize),
	}
}

// freshMessage returns a Message for e that the chain may change without
// touching e: the attachments and PII counts are copied, and the message
// ID carries round so that Dedupe sees a new message.
func freshMessage(e schemas.InboundEmail, round int, store state.Store) *Message {
	e.MessageID = fmt.Sprintf("%d.%s", round, e.MessageID)
	e.Attachments = append([]schemas.Attachment(nil), e.Attachments...)
	e.PII = nil
	return &Message{Email: e, State: store}
}

func benchChain(b *testing.B) Chain {
	b.Helper()
	chain, err := DefaultChain(ChainConfig{RulesFile: sampleRulesFile})
	if err != nil {
		b.Fatal(err)
	}
	return chain
}

// reportEmailRate reports emails per second of wall time and, because a
// shared machine stretches wall time, the process's CPU time per email
// since cpuStart (user plus system, garbage collection included).
func reportEmailRate(b *testing.B, perOp int, cpuStart time.Duration) {
	emails := float64(b.N * perOp)
	b.ReportMetric(emails/b.Elapsed().Seconds(), "emails/s")
	b.ReportMetric(float64((processCPUTime()-cpuStart).Microseconds())/emails, "cpu-µs/email")
}

// processCPUTime returns the user and system CPU time of the process.
func processCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkChain(b *testing.B) {
	chain := benchChain(b)
	mail := benchMail(benchMixSize)
	store := state.NewMemory()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	cpuStart := processCPUTime()
	for round := range b.N {
		for _, e := range mail {
			m := freshMessage(e, round, store)
			if _, err := chain.Run(ctx, m); err != nil {
				b.Fatal(err)
			}
		}
	}
	reportEmailRate(b, len(mail), cpuStart)
}

func BenchmarkChainLarge(b *testing.B) {
	chain := benchChain(b)
	e := benchLargeMail()
	store := state.NewMemory()
	ctx := context.Background()
	b.SetBytes(int64(len(e.Text) + len(e.ReplyText)))
	b.ReportAllocs()
	b.ResetTimer()
	cpuStart := processCPUTime()
	for round := range b.N {
		m := freshMessage(e, round, store)
		if _, err := chain.Run(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
	reportEmailRate(b, 1, cpuStart)
}

func BenchmarkRedact(b *testing.B) {
	redact := NewRedact()
	mail := benchMail(benchMixSize)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	cpuStart := processCPUTime()
	for round := range b.N {
		for _, e := range mail {
			if _, err := redact.Process(ctx, freshMessage(e, round, nil)); err != nil {
				b.Fatal(err)
			}
		}
	}
	reportEmailRate(b, len(mail), cpuStart)
}

// redactedMail returns the benchmark mix after Redact, as Classify and
// Route see it in the chain.
func redactedMail(b *testing.B) []*Message {
	b.Helper()
	mail := benchMail(benchMixSize)
	msgs := make([]*Message, len(mail))
	for i, e := range mail {
		msgs[i] = freshMessage(e, 0, nil)
		if _, err := NewRedact().Process(context.Background(), msgs[i]); err != nil {
			b.Fatal(err)
		}
	}
	return msgs
}

func BenchmarkClassify(b *testing.B) {
	rs, err := LoadRules(sampleRulesFile)
	if err != nil {
		b.Fatal(err)
	}
	classify, err := NewClassify(ClassifyConfig{Rules: rs})
	if err != nil {
		b.Fatal(err)
	}
	msgs := redactedMail(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	cpuStart := processCPUTime()
	for range b.N {
		for _, m := range msgs {
			// A new Message each time, so that no state from the previous
			// round is reused.
			fresh := &Message{Email: m.Email}
			if _, err := classify.Process(ctx, fresh); err != nil {
				b.Fatal(err)
			}
		}
	}
	reportEmailRate(b, len(msgs), cpuStart)
}

func BenchmarkRoute(b *testing.B) {
	route := NewRoute(RouteConfig{})
	msgs := redactedMail(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	cpuStart := processCPUTime()
	for range b.N {
		for _, m := range msgs {
			fresh := &Message{Email: m.Email, Decision: Decision{Queue: "general"}}
			if _, err := route.Process(ctx, fresh); err != nil {
				b.Fatal(err)
			}
		}
	}
	reportEmailRate(b, len(msgs), cpuStart)
}
