package mask_test

import (
	"fmt"
	"time"

	"github.com/fieldguard/pii/mask"
	"github.com/fieldguard/pii/piitest"
)

// A German conversation: the region hint lets the national layouts of
// phone numbers and the tax id through; the order number stays.
func ExampleScan_regionHint() {
	msg := "Hallo, Bestellnummer 30212345678. Meine Steuer-ID lautet 86 095 742 719, " +
		"ich bin am 14.03.1985 geboren. Rückruf bitte unter 030/12345678."
	opts := &mask.ScanOptions{
		Regions: []string{"DE"},
		Clock:   piitest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
	}
	for _, f := range mask.Scan(msg, opts) {
		fmt.Println(f.Kind, msg[f.Start:f.End])
	}
	// Output:
	// national_id 86 095 742 719
	// dob 14.03.1985
	// phone 030/12345678
}

// A tenant's own recognisers and lists, read from YAML.
func ExampleNewScanRules() {
	cfg, err := mask.ParseScanConfig([]byte(`
recognizers:
  - kind: employee_id
    pattern: 'EMP-\d{6}'
allow:
  - '\+44 20 7946 0000' # our own hotline
`))
	if err != nil {
		panic(err)
	}
	rules, err := mask.NewScanRules(cfg)
	if err != nil {
		panic(err)
	}
	msg := "Call us on +44 20 7946 0000, or me on +44 20 7946 0958; I am EMP-004211."
	for _, f := range mask.Scan(msg, &mask.ScanOptions{Regions: []string{"GB"}, Rules: rules}) {
		fmt.Println(f.Kind, msg[f.Start:f.End])
	}
	// Output:
	// phone +44 20 7946 0958
	// employee_id EMP-004211
}
