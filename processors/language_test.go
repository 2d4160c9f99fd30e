package processors

import (
	"strings"
	"testing"
)

func TestDetectLanguage(t *testing.T) {
	tests := []struct {
		text string
		want string
	}{
		{"Hello, I have not received my invoice yet. Could you please help me with this?", "en"},
		{"Hallo, ich habe meine Rechnung noch nicht bekommen. Können Sie mir bitte helfen?", "de"},
		{"Bonjour, je n'ai pas encore reçu ma facture. Pouvez-vous m'aider s'il vous plaît ?", "fr"},
		{"Hola, todavía no he recibido mi factura. ¿Pueden ayudarme, por favor?", "es"},
		{"Buongiorno, non ho ancora ricevuto la mia fattura. Potete aiutarmi per favore?", "it"},
		{"Olá, ainda não recebi a minha fatura. Vocês podem me ajudar, por favor?", "pt"},
		{"Hallo, ik heb mijn factuur nog niet ontvangen. Kunt u mij helpen?", "nl"},
		{"Hej, jag har inte fått min faktura än. Kan ni hjälpa mig?", "sv"},
		{"Hej, jeg har ikke modtaget min faktura endnu. Kan I hjælpe mig? Venlig hilsen", "da"},
		{"Hei, jeg har ikke mottatt fakturaen min ennå. Kan dere hjelpe meg? Vennlig hilsen", "no"},
		{"Hei, en ole vielä saanut laskua. Voitteko auttaa? Kiitos", "fi"},
		{"Dzień dobry, nie otrzymałem jeszcze faktury. Czy możecie mi pomóc?", "pl"},
		{"Dobrý den, ještě jsem nedostal fakturu. Můžete mi prosím pomoci?", "cs"},
		{"Merhaba, faturamı henüz almadım. Bana yardım edebilir misiniz lütfen?", "tr"},
		{"Jó napot, még nem kaptam meg a számlát. Kérem segítsenek, köszönöm", "hu"},
		{"Здравствуйте, я ещё не получил счёт. Помогите, пожалуйста.", "ru"},
		{"Доброго дня, я ще не отримав рахунок. Допоможіть, будь ласка.", "uk"},
		{"Γεια σας, δεν έχω λάβει ακόμα το τιμολόγιο μου.", "el"},
		{"שלום, עדיין לא קיבלתי את החשבונית שלי.", "he"},
		{"مرحبا، لم أستلم فاتورتي بعد. هل يمكنكم المساعدة؟", "ar"},
		{"سلام، هنوز فاکتور خود را دریافت نکرده‌ام. لطفا کمک کنید.", "fa"},
		{"नमस्ते, मुझे अभी तक मेरा बिल नहीं मिला है।", "hi"},
		{"สวัสดีครับ ผมยังไม่ได้รับใบแจ้งหนี้", "th"},
		{"안녕하세요, 아직 청구서를 받지 못했습니다.", "ko"},
		{"こんにちは、請求書がまだ届いていません。", "ja"},
		{"你好，我还没有收到我的发票。", "zh"},
		{"Ok", ""},
		{"", ""},
		{"12345 67890 !!!", ""},
	}
	for _, tt := range tests {
		if got := detectLanguage(tt.text); got != tt.want {
			t.Errorf("detectLanguage(%q) = %q, want %q", tt.text, got, tt.want)
		}
		if tt.want != "" && !containsString(SupportedLanguages(), tt.want) {
			t.Errorf("SupportedLanguages() lacks %q", tt.want)
		}
	}
}

func TestDetectLanguageReadsSubjectAndBody(t *testing.T) {
	if got := detectLanguage("Rechnung", "Ich habe die Rechnung nicht bekommen, bitte helfen Sie mir."); got != "de" {
		t.Errorf("detectLanguage(subject, body) = %q, want de", got)
	}
}

func TestDetectLanguageBoundsSample(t *testing.T) {
	// A German opening followed by a long English quote: only the first
	// languageSampleBytes count.
	german := strings.Repeat("Ich habe die Rechnung nicht bekommen und bitte um Hilfe. ", 80)
	english := strings.Repeat("The invoice that you sent me was not what I expected and it is wrong. ", 200)
	if got := detectLanguage(german + english); got != "de" {
		t.Errorf("detectLanguage(long German then English) = %q, want de", got)
	}
	if got := languageSample([]string{german + english}); len(got) > languageSampleBytes {
		t.Errorf("sample is %d bytes, want at most %d", len(got), languageSampleBytes)
	}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// BenchmarkDetectLanguage measures one detection on a support message of
// about 1 KB, and on a body long enough to hit languageSampleBytes.
func BenchmarkDetectLanguage(b *testing.B) {
	short := strings.Repeat("Hallo, ich habe meine Rechnung noch nicht bekommen. Können Sie mir bitte helfen? ", 12)
	long := strings.Repeat(short, 20)
	for _, bc := range []struct {
		name, text string
	}{{"1KB", short}, {"20KB", long}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if detectLanguage("Rechnung", bc.text) != "de" {
					b.Fatal("wrong language")
				}
			}
		})
	}
}
