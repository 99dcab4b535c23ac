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
		{"call 07911 123456", nil, nil},
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
	return []Kind{KindCard, KindEmail, KindPhone, KindIBAN, KindSSN, KindIP, KindDOB}
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
