package mask

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func spans(text string, fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, string(f.Kind)+":"+text[f.Start:f.End])
	}
	return out
}

const tenantYAML = `
recognizers:
  - kind: employee_id
    pattern: 'EMP-\d{6}'
  - kind: member_no
    pattern: '\d{4} \d{4} \d{4}'
    check: luhn
    context: [member, Mitglied]
    confidence: 0.8
allow:
  - '\+44 20 7946 0000'   # our own hotline
  - 'ORD\d{9}'
deny:
  national_id: ['HK\d{6}\(\d\)']
`

func TestScanRulesFromFile(t *testing.T) {
	jsonCfg := `{"recognizers":[{"kind":"employee_id","pattern":"EMP-\\d{6}"},
		{"kind":"member_no","pattern":"\\d{4} \\d{4} \\d{4}","check":"luhn","context":["member","Mitglied"],"confidence":0.8}],
		"allow":["\\+44 20 7946 0000","ORD\\d{9}"],"deny":{"national_id":["HK\\d{6}\\(\\d\\)"]}}`
	for name, file := range map[string]string{"yaml": tenantYAML, "json": jsonCfg} {
		t.Run(name, func(t *testing.T) {
			cfg, err := ParseScanConfig([]byte(file))
			require.NoError(t, err)
			rules, err := NewScanRules(cfg)
			require.NoError(t, err)
			opts := &ScanOptions{Regions: []string{"GB"}, Rules: rules}
			for _, tc := range []struct {
				in   string
				want []string
			}{
				{"staff EMP-123456 here", []string{"employee_id:EMP-123456"}},
				{"staff XEMP-123456 here", nil}, // glued: not a whole token
				{"member card 4111 1111 1117", []string{"member_no:4111 1111 1117"}},
				{"Mitgliedsnummer 4111 1111 1117", []string{"member_no:4111 1111 1117"}},
				{"4111 1111 1117", nil},              // no context word
				{"member card 4111 1111 1113", nil},  // fails Luhn
				{"call us on +44 20 7946 0000", nil}, // allowed: the tenant's hotline
				{"call me on +44 20 7946 0958", []string{"phone:+44 20 7946 0958"}},
				{"id HK123456(7) please", []string{"national_id:HK123456(7)"}},
				{"order 123456789", nil},
				{"ORD123456789", nil},
			} {
				require.Equal(t, tc.want, spans(tc.in, Scan(tc.in, opts)), tc.in)
			}
			// Kinds and MinConfidence apply to the tenant's kinds too.
			in := "member 4111 1111 1117, staff EMP-123456"
			require.Equal(t, []string{"employee_id:EMP-123456"}, spans(in, Scan(in, &ScanOptions{Rules: rules, Kinds: []Kind{"employee_id"}})))
			require.Equal(t, []string{"employee_id:EMP-123456"}, spans(in, Scan(in, &ScanOptions{Rules: rules, MinConfidence: 0.85})))
		})
	}
}

// The allow list removes what the built-in recognisers would report: a
// tenant whose order numbers are nine-digit numbers that pass the BSN
// check.
func TestScanRulesAllow(t *testing.T) {
	in := "mijn BSN 111222333"
	require.Equal(t, []string{"national_id:111222333"}, spans(in, Scan(in, &ScanOptions{Regions: []string{"NL"}})), "precondition")
	rules, err := NewScanRules(ScanConfig{Allow: []string{`1112\d{5}`}})
	require.NoError(t, err)
	require.Empty(t, Scan(in, &ScanOptions{Regions: []string{"NL"}, Rules: rules}))
}

// Deny entries win over what they overlap, whatever the confidence floor.
func TestScanRulesDeny(t *testing.T) {
	rules, err := NewScanRules(ScanConfig{Deny: map[Kind][]string{"customer_ref": {`C-\d{4}-\d{4}`}}})
	require.NoError(t, err)
	in := "ref C-1234-5678"
	require.Equal(t, []string{"customer_ref:C-1234-5678"}, spans(in, Scan(in, &ScanOptions{Rules: rules, MinConfidence: 0.99})))
}

func TestScanRulesFromCode(t *testing.T) {
	rules, err := NewScanRules(ScanConfig{Recognizers: []Recognizer{{
		Kind:     "ticket_pin",
		Pattern:  `\b\d{6}\b`,
		Validate: func(m string) bool { return strings.HasPrefix(m, "9") },
		Context:  []string{"pin"},
	}}})
	require.NoError(t, err)
	opts := &ScanOptions{Rules: rules}
	require.Equal(t, []string{"ticket_pin:912345"}, spans("PIN: 912345", Scan("PIN: 912345", opts)))
	require.Empty(t, Scan("PIN: 812345", opts))
	require.Empty(t, Scan("code 912345", opts))
}

func TestScanRulesErrors(t *testing.T) {
	for name, cfg := range map[string]ScanConfig{
		"bad pattern":   {Recognizers: []Recognizer{{Kind: "x", Pattern: "("}}},
		"empty pattern": {Recognizers: []Recognizer{{Kind: "x"}}},
		"matches empty": {Recognizers: []Recognizer{{Kind: "x", Pattern: `\d*`}}},
		"unknown check": {Recognizers: []Recognizer{{Kind: "x", Pattern: `\d+`, Check: "crc"}}},
		"bad kind":      {Recognizers: []Recognizer{{Kind: "Has Space", Pattern: `\d+`}}},
		"no kind":       {Recognizers: []Recognizer{{Pattern: `\d+`}}},
		"confidence":    {Recognizers: []Recognizer{{Kind: "x", Pattern: `\d+`, Confidence: 1.5}}},
		"empty context": {Recognizers: []Recognizer{{Kind: "x", Pattern: `\d+`, Context: []string{" "}}}},
		"bad allow":     {Allow: []string{"["}},
		"bad deny":      {Deny: map[Kind][]string{"x": {"["}}},
		"deny bad kind": {Deny: map[Kind][]string{"X Y": {`\d+`}}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewScanRules(cfg)
			require.Error(t, err)
			require.True(t, strings.HasPrefix(err.Error(), "mask: "), err.Error())
		})
	}
	_, err := ParseScanConfig([]byte("recognizers:\n  - kind: x\n    patern: 'y'\n"))
	require.ErrorContains(t, err, "patern", "unknown fields are errors")
	cfg, err := ParseScanConfig(nil)
	require.NoError(t, err)
	require.Empty(t, cfg.Recognizers)
}

// FuzzScanIntl fuzzes the national identifiers, passports, national phone
// layouts, multilingual dates and the tenant rules, with each region hint.
func FuzzScanIntl(f *testing.F) {
	seeds := []string{"DNI 12345678Z", "NIE X-1234567-L", "RSSMRA85T10A562S", "AB 12 34 56 C", "2 69 05 49 588 157 80",
		"111.444.777-35", "19850709-9805", "mijn BSN 111222333", "SIN 046 454 286", "TFN 123 456 782", "Aadhaar 2341 2341 2346",
		"Steuer-ID 86 095 742 719", "PESEL 44051401359", "passport number 533380006", "Reisepass: C01X00T47",
		"Tel. 030/12345678", "0049 30 12345678", "06.12.34.56.78", "(11) 98765-4321", "Ich bin am 14.03.1985 geboren",
		"née le 1er mars 1979", "14 de marzo de 1985", "14. März 1985", "staff EMP-123456", "member 4111 1111 1117",
		"passport passport passport", "geboren geboren 1.1.1", "12.345.678-Z", "x-1234567-", "AB 12 34 5"}
	for i, s := range seeds {
		f.Add(s, uint8(i))
	}
	require.NotEmpty(f, seeds, "fuzz seed corpus must not be empty")
	cfg, err := ParseScanConfig([]byte(tenantYAML))
	require.NoError(f, err)
	rules, err := NewScanRules(cfg)
	require.NoError(f, err)
	regions := []string{"US", "GB", "DE", "FR", "ES", "IT", "NL", "SE", "PL", "BR", "IN", "CA", "AU", "PT", "BE", "CH", "AT", "MX", "ZZ"}
	f.Fuzz(func(t *testing.T, text string, r uint8) {
		fs := Scan(text, &ScanOptions{Regions: []string{regions[int(r)%len(regions)]}, Rules: rules})
		prev := 0
		for _, fd := range fs {
			require.GreaterOrEqual(t, fd.Start, prev)
			require.Less(t, fd.Start, fd.End)
			require.LessOrEqual(t, fd.End, len(text))
			require.True(t, fd.Confidence > 0 && fd.Confidence <= 1)
			prev = fd.End
		}
		// Without the rules, only built-in kinds, as checkFindings asks.
		checkFindings(t, text, Scan(text, &ScanOptions{Regions: []string{regions[int(r)%len(regions)]}}))
	})
}
