package mask

import (
	"strings"
	"testing"
	"time"

	"github.com/fieldguard/pii/piitest"
	"github.com/stretchr/testify/require"
)

func TestScan(t *testing.T) {
	type want struct {
		kind Kind
		text string
	}
	tests := []struct {
		in   string
		opts *ScanOptions
		want []want
	}{
		{"my card is 4111 1111 1111 1111 exp 12/25", nil, []want{{"card", "4111 1111 1111 1111"}}},
		{"4111111111111112 fails Luhn", nil, nil},
		{"amex 3782-822463-10005.", nil, []want{{"card", "3782-822463-10005"}}},
		{"mail JOHN.doe+x@Example.co.uk.", nil, []want{{"email", "JOHN.doe+x@Example.co.uk"}}},
		{"a@b.c is too short a TLD", nil, nil},
		{"+44 20 7946 0958", nil, []want{{"phone", "+44 20 7946 0958"}}},
		{"call 07911 123456", &ScanOptions{Regions: []string{"GB"}}, []want{{"phone", "07911 123456"}}},
		{"call 07911 123456", nil, []want{{"phone", "07911 123456"}}}, // announced: a phone in any region's layout
		{"my number is 07911 123456", nil, nil},                       // not a US number
		{"order 415-555-2671", nil, nil},
		{"order no. 4155552671", nil, nil},
		{"my number is 4155552671", nil, []want{{"phone", "4155552671"}}},
		{"ORD-2024-123456", nil, nil},
		{"IBAN: de89 3704 0044 0532 0130 00.", nil, []want{{"iban", "de89 3704 0044 0532 0130 00"}}},
		{"DE89 3704 0044 0532 0130 01", nil, nil},
		{"SSN 123-45-6789", nil, []want{{"ssn", "123-45-6789"}}},
		{"SSN 666-45-6789 and 900-12-3456 and 123-00-4567 and 123-45-0000", nil, nil},
		{"123456789", nil, nil},
		{"ssn 123456789", nil, []want{{"ssn", "123456789"}}},
		{"from 10.1.2.3, not 300.1.2.3", nil, []want{{"ip", "10.1.2.3"}}},
		{"ipv6 2001:db8::1 at 10:30:15", nil, []want{{"ip", "2001:db8::1"}}},
		{"version 1.2.3.4", nil, nil},
		{"DOB: 02/29/1988", nil, []want{{"dob", "02/29/1988"}}},
		{"DOB: 02/30/1988", nil, nil},
		{"delivered 03/14/1985", nil, nil},
		{"born 1 Feb 1970.", nil, []want{{"dob", "1 Feb 1970"}}},
		{"card 4111 1111 1111 1111 mail a@example.com", &ScanOptions{Kinds: []Kind{KindEmail}}, []want{{"email", "a@example.com"}}},
		{"4111111111111111@example.com", nil, []want{{"email", "4111111111111111@example.com"}}},
		{"", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := Scan(tt.in, tt.opts)
			var gw []want
			for _, f := range got {
				gw = append(gw, want{f.Kind, tt.in[f.Start:f.End]})
			}
			require.Equal(t, tt.want, gw)
		})
	}
}

// allKinds is every kind Scan reports.
func allKinds() []Kind {
	return []Kind{KindCard, KindEmail, KindPhone, KindIBAN, KindSSN, KindIP, KindDOB, KindNationalID, KindPassport}
}

func checkFindings(t testing.TB, text string, fs []Finding) {
	prev := 0
	for _, f := range fs {
		require.GreaterOrEqual(t, f.Start, prev)
		require.Less(t, f.Start, f.End)
		require.LessOrEqual(t, f.End, len(text))
		require.Contains(t, allKinds(), f.Kind)
		require.True(t, f.Confidence > 0 && f.Confidence <= 1)
		prev = f.End
	}
}

func FuzzScan(f *testing.F) {
	seeds := []string{"", "card 4111 1111 1111 1111", "+44 20 7946 0958", "a@b.co", "DE89 3704 0044 0532 0130 00",
		"DOB 1985-03-14", "2001:db8::1", "1.2.3.4", "123-45-6789", "born March 3, 1980", "((((", "::::", "@@@",
		"4111 1111 1111 1111 1111 1111 1111 1111 1111", "\xff\xfe1234567890"}
	for _, s := range seeds {
		f.Add(s)
	}
	require.NotEmpty(f, seeds, "fuzz seed corpus must not be empty")
	f.Fuzz(func(t *testing.T, text string) {
		checkFindings(t, text, Scan(text, nil))
	})
}

// transcript builds about n bytes of chat from the corpus.
func transcript(t testing.TB, n int) string {
	corpus := loadCorpus(t)
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		b.WriteString(corpus[i%len(corpus)].Text)
		b.WriteByte('\n')
	}
	return b.String()
}

func BenchmarkScanTranscript(b *testing.B) {
	text := transcript(b, 1<<20)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		Scan(text, nil)
	}
}

// BenchmarkScanTranscriptIntl scans a transcript of the multilingual
// corpus with a European region hint.
func BenchmarkScanTranscriptIntl(b *testing.B) {
	corpus := loadCorpusFile(b, "testdata/corpus_intl.jsonl")
	var sb strings.Builder
	for i := 0; sb.Len() < 1<<20; i++ {
		sb.WriteString(corpus[i%len(corpus)].Text)
		sb.WriteByte('\n')
	}
	text := sb.String()
	opts := &ScanOptions{Regions: []string{"DE", "FR", "GB"}}
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		Scan(text, opts)
	}
}

// BenchmarkScanBaseline is the floor for a single pass: counting digits
// over the same transcript.
func BenchmarkScanBaseline(b *testing.B) {
	text := transcript(b, 1<<20)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		n := 0
		for i := 0; i < len(text); i++ {
			if text[i] >= '0' && text[i] <= '9' {
				n++
			}
		}
		if n == 0 {
			b.Fatal("no digits")
		}
	}
}

// pathological inputs that would make a careless scanner quadratic.
func pathological() map[string]string {
	const n = 1 << 20
	rep := func(s string) string { return strings.Repeat(s, n/len(s)) }
	return map[string]string{
		"colons":     rep(":"),
		"hexcolons":  rep("a:"),
		"ats":        rep("a@"),
		"digits":     rep("1"),
		"spaced":     rep("1 "),
		"dashed":     rep("12-"),
		"dots":       rep("1."),
		"iban":       rep("DE89 "),
		"dob":        rep("born "),
		"letters":    rep("abcdefghij"),
		"parens":     rep("(1) "),
		"plus":       rep("+1 "),
		"mixed":      rep("call 4111 a@b.co DE89 :: born 1/1/1990 "),
		"non-ascii":  rep("ж漢😀"),
		"invalid":    rep("\xff\xfe"),
		"long-local": rep("abcdefghijklmnopqrstuvwxyz.") + "@example.com",
		"geboren":    rep("1.1.1990 geboren "),
		"passport":   rep("passport 12 "),
		"nie":        rep("X-1234567-"),
		"nino":       rep("AB 12 34 "),
		"cf":         rep("RSSMRA85T10A562"),
		"slashes":    rep("030/"),
	}
}

// TestScanPathological runs the scanner over 1 MB adversarial inputs; a
// quadratic scanner would not finish within the test timeout.
func TestScanPathological(t *testing.T) {
	for name, text := range pathological() {
		t.Run(name, func(t *testing.T) {
			checkFindings(t, text, Scan(text, nil))
		})
	}
}

func BenchmarkScanPathological(b *testing.B) {
	for name, text := range pathological() {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				Scan(text, nil)
			}
		})
	}
}

func FuzzText(f *testing.F) {
	seeds := []string{"", "card 4111 1111 1111 1111 and 5555-5555-5555-4444", "ssn 123-45-6789", "mail a@example.com, call +44 20 7946 0958",
		"IBAN DE89 3704 0044 0532 0130 00", "born 1 Feb 1970 at 10.1.2.3"}
	for _, s := range seeds {
		f.Add(s)
	}
	require.NotEmpty(f, seeds, "fuzz seed corpus must not be empty")
	f.Fuzz(func(t *testing.T, msg string) {
		for _, ch := range []Channel{ChannelPublicSocial, ChannelDirectMessage, ChannelSecureChat} {
			out, fs := Text(msg, nil, ch)
			checkFindings(t, msg, fs)
			for _, fd := range fs {
				clear := msg[fd.Start:fd.End]
				if len(clear) >= 8 && (fd.Kind == KindCard || fd.Kind == KindIBAN) {
					// The found occurrence is gone (the same digits may
					// also stand elsewhere, glued to a word).
					require.Less(t, strings.Count(out, clear), strings.Count(msg, clear), "a %s stayed in clear on %s", fd.Kind, ch)
				}
			}
		}
	})
}

// A date of birth is at least twelve years before the scan's clock.
func TestScanClock(t *testing.T) {
	msg := "DOB: 03/14/2010"
	for _, tc := range []struct {
		year int
		want int
	}{{2021, 0}, {2022, 1}, {2030, 1}} {
		opts := &ScanOptions{Clock: piitest.NewClock(time.Date(tc.year, 1, 1, 0, 0, 0, 0, time.UTC))}
		require.Len(t, Scan(msg, opts), tc.want, "scan in %d", tc.year)
	}
}

// National identifiers and passports are carried only by the secure chat
// and the phone, like card numbers.
func TestCheckNationalIDs(t *testing.T) {
	for _, msg := range []string{"DNI 12345678Z", "passport number 533380006"} {
		require.Error(t, Check(msg, ChannelDirectMessage, nil), msg)
		require.Error(t, Check(msg, ChannelEmail, nil), msg)
		require.NoError(t, Check(msg, ChannelSecureChat, nil), msg)
	}
}

// TestScanIntl covers each national identifier, its layouts and what
// must keep it from being reported, phones in national layouts with a
// region hint, and dates of birth in the seven languages.
func TestScanIntl(t *testing.T) {
	type want struct {
		kind Kind
		text string
	}
	clock := piitest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	tests := []struct {
		region string
		in     string
		want   []want
	}{
		// National identifiers: distinctive layouts anywhere.
		{"US", "DNI 12345678Z", []want{{KindNationalID, "12345678Z"}}},
		{"US", "mi DNI es 12345678-Z.", []want{{KindNationalID, "12345678-Z"}}},
		{"ES", "DNI 12345678A", nil}, // wrong letter
		{"ES", "NIE X1234567L", []want{{KindNationalID, "X1234567L"}}},
		{"ES", "NIE X-1234567-L", []want{{KindNationalID, "X-1234567-L"}}},
		{"ES", "pedido 12345678Z", nil},
		{"IT", "codice fiscale RSSMRA85T10A562S", []want{{KindNationalID, "RSSMRA85T10A562S"}}},
		{"IT", "RSSMRA85T10A562T", nil},
		{"GB", "NI number AB 12 34 56 C", []want{{KindNationalID, "AB 12 34 56 C"}}},
		{"GB", "AB123456C", []want{{KindNationalID, "AB123456C"}}},
		{"GB", "GB123456C", nil}, // reserved prefix
		{"GB", "QQ123456C", nil},
		{"GB", "NI no: QQ 12 34 56 C", []want{{KindNationalID, "QQ 12 34 56 C"}}}, // HMRC's specimen, announced
		{"FR", "NIR 2 69 05 49 588 157 80", []want{{KindNationalID, "2 69 05 49 588 157 80"}}},
		{"US", "2 69 05 49 588 157 80", []want{{KindNationalID, "2 69 05 49 588 157 80"}}},
		{"FR", "2 69 05 49 588 157 81", nil},
		{"BR", "CPF 111.444.777-35", []want{{KindNationalID, "111.444.777-35"}}},
		{"US", "111.444.777-35", []want{{KindNationalID, "111.444.777-35"}}},
		{"BR", "111.444.777-36", nil},
		{"SE", "850709-9805", []want{{KindNationalID, "850709-9805"}}},
		{"SE", "19850709-9805", []want{{KindNationalID, "19850709-9805"}}},
		{"SE", "order 850709-9805", nil},
		// Nine to twelve bare digits: only in their region or announced.
		{"NL", "mijn BSN is 111222333", []want{{KindNationalID, "111222333"}}},
		{"NL", "111222333", []want{{KindNationalID, "111222333"}}},
		{"US", "111222333", nil},
		{"NL", "bestelling 111222333", nil},
		{"CA", "SIN 046 454 286", []want{{KindNationalID, "046 454 286"}}},
		{"US", "046 454 286", nil},
		{"AU", "TFN 123 456 782", []want{{KindNationalID, "123 456 782"}}},
		{"IN", "Aadhaar 2341 2341 2346", []want{{KindNationalID, "2341 2341 2346"}}},
		{"IN", "tracking 2341 2341 2346", nil},
		{"DE", "Steuer-ID 86 095 742 719", []want{{KindNationalID, "86 095 742 719"}}},
		{"DE", "Steuer-IdNr. 86095742719", []want{{KindNationalID, "86095742719"}}},
		{"DE", "Bestellnummer 86095742719", nil},
		{"DE", "Steuer-IdNr 86/095/742/719", []want{{KindNationalID, "86/095/742/719"}}},
		{"US", "86 095 742 719", nil},
		{"PL", "PESEL 44051401359", []want{{KindNationalID, "44051401359"}}},
		{"PL", "44051401358", nil},
		// One wrong check digit (or rule) and it is not reported, even announced.
		{"IN", "Aadhaar 2341 2341 2347", nil},
		{"DE", "Steuer-ID 86 095 742 718", nil},
		{"DE", "Steuer-ID 12345678903", nil}, // check digit right, no repeated digit
		{"NL", "BSN 111222334", nil},
		{"AU", "TFN 123 456 783", nil},
		{"ES", "NIE X1234567A", nil},
		{"CA", "SIN 046 454 287", nil},
		{"SE", "personnummer 850709-9806", nil},
		{"SE", "personnummer 19850709-9806", nil},
		{"FR", "NIR 5 85 05 78 006 084 85", nil},       // key right, no such sex digit
		{"IT", "codice fiscale RSSMRA85F10A562R", nil}, // check right, F is no month
		// An identifier word counts near the number, in any region; "sin"
		// in lower case is Spanish for "without".
		{"US", "mijn BSN is 111222333", []want{{KindNationalID, "111222333"}}},
		{"US", "SIN 046 454 286", []want{{KindNationalID, "046 454 286"}}},
		{"US", "sin 046 454 286", nil},
		{"US", "my BSN and all the other details are below: 111222333", nil},
		// Passports only after a passport word.
		{"GB", "passport number 533380006", []want{{KindPassport, "533380006"}}},
		{"GB", "The passport number on the booking is 533380006", []want{{KindPassport, "533380006"}}},
		{"DE", "Reisepass: C01X00T47", []want{{KindPassport, "C01X00T47"}}},
		{"FR", "numéro de passeport 12AB34567", []want{{KindPassport, "12AB34567"}}},
		{"GB", "533380006", nil},
		{"GB", "passport photos cost £12.50", nil},
		{"GB", "passport expires 14.03.2030", nil},
		// Phones in national layouts, with the region hint.
		{"DE", "Tel. 030/12345678", []want{{KindPhone, "030/12345678"}}},
		{"DE", "Handy: 0172 / 123 45 67", []want{{KindPhone, "0172 / 123 45 67"}}},
		{"DE", "Rückruf unter 0151 23456789", []want{{KindPhone, "0151 23456789"}}},
		{"DE", "Ruf mich an: 0049 30 12345678", []want{{KindPhone, "0049 30 12345678"}}},
		{"FR", "appelez le 06.12.34.56.78", []want{{KindPhone, "06.12.34.56.78"}}},
		{"FR", "01 42 68 53 00", []want{{KindPhone, "01 42 68 53 00"}}},
		{"ES", "llámame al 612 34 56 78", []want{{KindPhone, "612 34 56 78"}}},
		{"IT", "cellulare 333 123 4567", []want{{KindPhone, "333 123 4567"}}},
		{"BR", "celular (11) 98765-4321", []want{{KindPhone, "(11) 98765-4321"}}},
		{"NL", "bel 06-12345678", []want{{KindPhone, "06-12345678"}}},
		{"US", "call (555) 123-4567", []want{{KindPhone, "(555) 123-4567"}}}, // unassigned, still a phone
		{"DE", "Rechnung 2024/123456", nil},
		{"FR", "commande 0612345678", nil},
		{"IT", "Tracking 1Z 999 AA1 01 2345 6784", nil},                        // the rest of a spaced code
		{"US", "call me on 07911 123456", []want{{KindPhone, "07911 123456"}}}, // another region's layout, announced
		{"US", "07911 123456", nil},
		{"US", "text me at 555-0147", []want{{KindPhone, "555-0147"}}},
		{"US", "room 555-0147", nil},
		{"PT", "liga pra mim no 11 98765-4321", []want{{KindPhone, "11 98765-4321"}}},
		{"US", "call me back re: 2024 0512 1030", nil},
		{"AT", "Sie können mich unter 0664771622 anrufen", []want{{KindPhone, "0664771622"}}}, // the verb last
		{"NL", "je kunt me op 0612345678 bellen", []want{{KindPhone, "0612345678"}}},
		{"NL", "bestelling 0612345678 bellen", nil},
		{"DE", "Bitte nicht die 4406 5605 0509 anrufen", nil},
		{"DE", "4406 5605 0509", nil},                             // no trunk 0: not a German national number
		{"IN", "98765 43210", []want{{KindPhone, "98765 43210"}}}, // Indian mobiles drop it
		{"BR", "11 98765-4321", []want{{KindPhone, "11 98765-4321"}}},
		{"US", "4155552671", nil},              // bare digits need a phone word
		{"GB", "NI number 020 7946 0958", nil}, // announced as an identifier
		{"US", "see page 415/555/2671", nil},   // slashes only after a trunk 0
		{"IT", "chiamami al 312 345 7529, ordine n. 0975234", []want{{KindPhone, "312 345 7529"}}},
		{"FR", "Montant : 1 234,56 €", nil},
		// Dates of birth.
		{"DE", "Geburtsdatum: 14. März 1985", []want{{KindDOB, "14. März 1985"}}},
		{"DE", "Ich bin am 14.03.1985 geboren", []want{{KindDOB, "14.03.1985"}}},
		{"DE", "Lieferdatum 14.03.1985", nil},
		{"FR", "née le 1er mars 1979", []want{{KindDOB, "1er mars 1979"}}},
		{"ES", "fecha de nacimiento: 14 de marzo de 1985", []want{{KindDOB, "14 de marzo de 1985"}}},
		{"IT", "nato il 10 dicembre 1985", []want{{KindDOB, "10 dicembre 1985"}}},
		{"BR", "nasci em 14 de março de 1985", []want{{KindDOB, "14 de março de 1985"}}},
		{"NL", "geboren op 14 maart 1985", []want{{KindDOB, "14 maart 1985"}}},
		{"NL", "geboortedatum 14-03-1985", []want{{KindDOB, "14-03-1985"}}},
		{"GB", "DOB 14-Mar-1985", []want{{KindDOB, "14-Mar-1985"}}},
		{"GB", "DOB 14-Mar 1985", nil},
	}
	for _, tt := range tests {
		t.Run(tt.region+" "+tt.in, func(t *testing.T) {
			got := Scan(tt.in, &ScanOptions{Regions: []string{tt.region}, Clock: clock})
			var gw []want
			for _, f := range got {
				gw = append(gw, want{f.Kind, tt.in[f.Start:f.End]})
			}
			require.Equal(t, tt.want, gw)
		})
	}
}
