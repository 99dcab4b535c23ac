package mask

import (
	"net/netip"
	"slices"

	"github.com/fieldguard/pii"
	"go.opentelemetry.io/otel/metric"
)

// Kind is the kind of identifier a [Finding] is.
type Kind string

// Kinds of identifiers the scanner reports. [ScanConfig] adds kinds of
// one's own.
const (
	KindCard  Kind = "card"
	KindEmail Kind = "email"
	KindPhone Kind = "phone"
	KindIBAN  Kind = "iban"
	KindSSN   Kind = "ssn" // US social security number
	KindIP    Kind = "ip"
	KindDOB   Kind = "dob"
	// KindNationalID is a national identifier with check digits: UK
	// National Insurance number, German tax id (Steuer-IdNr), French NIR,
	// Spanish DNI and NIE, Italian codice fiscale, Dutch BSN, Swedish
	// personnummer, Polish PESEL, Brazilian CPF, Indian Aadhaar, Canadian
	// SIN and Australian TFN.
	KindNationalID Kind = "national_id"
	// KindPassport is a passport number, reported only after a word that
	// announces one ("passport", "Reisepass", "passeport", …).
	KindPassport Kind = "passport"
)

// Finding is one identifier found in free text. It holds a byte span into
// the scanned text, never a copy of the value, so a Finding is safe to log.
type Finding struct {
	Kind       Kind
	Start, End int     // byte offsets into the text: text[Start:End]
	Confidence float64 // 0..1; how sure the scanner is
}

// ScanOptions tunes [Scan]. The zero value (and nil) mean defaults.
type ScanOptions struct {
	// Regions are the region hints (ISO 3166 codes such as "DE", from the
	// tenant or the conversation), tried in order for phone numbers
	// written without a country calling code; national identifiers whose
	// layout alone says little (a Dutch BSN is nine digits) are reported
	// without a context word only in their own region. Default ["US"].
	Regions []string
	// Kinds restricts the kinds reported; empty means all.
	Kinds []Kind
	// MinConfidence drops findings below it. Default 0.5.
	MinConfidence float64
	// Clock dates the scan: a date of birth is at least twelve years
	// before it. nil: the system clock.
	Clock pii.Clock
	// Rules are a tenant's own recognisers, allow list and deny list
	// ([NewScanRules]). nil: none.
	Rules *ScanRules
	// MeterProvider receives the counts of findings by kind
	// (pii.mask.scan.findings) and of refusals by [Check]. nil: the
	// global provider.
	MeterProvider metric.MeterProvider
}

var defaultRegions = []string{"US"}

type scanner struct {
	text     string
	regions  []string
	want     uint16 // bit set of built-in kinds
	kinds    []Kind // the kinds asked for; nil: all
	minConf  float64
	clock    pii.Clock
	maxYear  int // latest year of birth; 0 until a date is checked
	findings []Finding
	denied   []Finding // matches of a deny list
	meter    metric.MeterProvider

	ctx         wordContext // memo of context(ctxAt)
	ctxIDRegion string      // region of the identifier word in ctx, "" for any
	ctxAt       int
	ctxOK       bool
}

const (
	bitCard uint16 = 1 << iota
	bitEmail
	bitPhone
	bitIBAN
	bitSSN
	bitIP
	bitDOB
	bitNationalID
	bitPassport
)

func kindBit(k Kind) uint16 {
	switch k {
	case KindCard:
		return bitCard
	case KindEmail:
		return bitEmail
	case KindPhone:
		return bitPhone
	case KindIBAN:
		return bitIBAN
	case KindSSN:
		return bitSSN
	case KindIP:
		return bitIP
	case KindDOB:
		return bitDOB
	case KindNationalID:
		return bitNationalID
	case KindPassport:
		return bitPassport
	}
	return 0
}

// Byte classes for the single pass.
const (
	clDigit = 1 << iota
	clUpper
	clLower
	clLocal // allowed in the local part of an e-mail address
	clHex
)

var class [256]uint8

func init() {
	for c := '0'; c <= '9'; c++ {
		class[c] |= clDigit | clLocal | clHex
	}
	for c := 'A'; c <= 'Z'; c++ {
		class[c] |= clUpper | clLocal
	}
	for c := 'a'; c <= 'z'; c++ {
		class[c] |= clLower | clLocal
	}
	for c := 'a'; c <= 'f'; c++ {
		class[c] |= clHex
	}
	for c := 'A'; c <= 'F'; c++ {
		class[c] |= clHex
	}
	for _, c := range "._%+-'" {
		class[c] |= clLocal
	}
}

func isAlnum(c byte) bool  { return class[c]&(clDigit|clUpper|clLower) != 0 }
func isLetter(c byte) bool { return class[c]&(clUpper|clLower) != 0 || c >= 0x80 }

// Scan finds identifiers in text: payment card numbers, e-mail addresses,
// phone numbers, IBANs, US social security numbers, IP addresses and dates
// of birth. Findings are sorted by Start and do not overlap. opts may be
// nil.
//
// The scan is one pass over the bytes that notes candidates (digit runs,
// '@', ':' inside hex runs, two letters followed by two digits, words that
// announce a date of birth); only candidates reach the validators (Luhn,
// mod 97, phonenumbers, net/netip).
func Scan(text string, opts *ScanOptions) []Finding {
	s := scanner{text: text, regions: defaultRegions, want: 0xffff, minConf: 0.5}
	if opts != nil {
		if len(opts.Regions) > 0 {
			s.regions = opts.Regions
		}
		if len(opts.Kinds) > 0 {
			s.want = 0
			for _, k := range opts.Kinds {
				s.want |= kindBit(k)
			}
			s.kinds = opts.Kinds
		}
		if opts.MinConfidence > 0 {
			s.minConf = opts.MinConfidence
		}
		s.clock = opts.Clock
		s.meter = opts.MeterProvider
	}
	s.run()
	var rules *ScanRules
	if opts != nil && opts.Rules != nil {
		rules = opts.Rules
		s.custom(rules)
	}
	fs := s.resolve()
	if rules != nil {
		fs = s.applyLists(fs, rules)
	}
	return s.done(fs)
}

// done is where every finding Scan returns passes, once, sorted and
// without overlaps: the one place to count them.
func (s *scanner) done(fs []Finding) []Finding {
	return countFindings(s.meter, fs)
}

// wants reports whether findings of kind are asked for.
func (s *scanner) wants(kind Kind) bool {
	if b := kindBit(kind); b != 0 {
		return s.want&b != 0
	}
	return s.kinds == nil || slices.Contains(s.kinds, kind)
}

func (s *scanner) add(kind Kind, start, end int, conf float64) {
	if conf < s.minConf || !s.wants(kind) {
		return
	}
	s.findings = append(s.findings, Finding{Kind: kind, Start: start, End: end, Confidence: conf})
}

func (s *scanner) run() {
	t := s.text
	n := len(t)
	for i := 0; i < n; {
		c := t[i]
		cl := class[c]
		switch {
		case cl&clDigit != 0:
			if i > 0 && isAlnum(t[i-1]) || i > 1 && (t[i-1] == '-' || t[i-1] == '_' || t[i-1] == '/') && isAlnum(t[i-2]) {
				// Inside a word or an identifier such as "ORD-2024-1234":
				// skip the rest of the token.
				i = s.skipToken(i)
				continue
			}
			i = s.digitRun(i)
			continue
		case c == '@':
			s.email(i)
		case c == ':':
			if s.want&bitIP != 0 {
				s.ipv6(i)
			}
		case cl&(clUpper|clLower) != 0:
			if i == 0 || !isAlnum(t[i-1]) {
				if i+3 < n && class[t[i+2]]&clDigit != 0 && class[t[i+3]]&clDigit != 0 && class[t[i+1]]&(clUpper|clLower) != 0 {
					if end := s.iban(i); end > 0 {
						i = end
						continue
					}
				}
				if i+8 < n && s.want&bitNationalID != 0 {
					if end := s.idWord(i); end > 0 {
						i = end
						continue
					}
				}
				if kws := keywords[c|0x20]; kws != nil {
					s.keyword(i, kws)
				}
			}
			i = skipAlnum(t, i)
			continue
		}
		i++
	}
}

// skipToken skips digits, letters and the '-', '_', '/' and '.' joining
// them.
func (s *scanner) skipToken(i int) int {
	t := s.text
	for i < len(t) {
		if isAlnum(t[i]) {
			i++
			continue
		}
		if (t[i] == '-' || t[i] == '_' || t[i] == '/' || t[i] == '.') && i+1 < len(t) && isAlnum(t[i+1]) {
			i++
			continue
		}
		break
	}
	return i
}

func skipAlnum(t string, i int) int {
	for i < len(t) && isAlnum(t[i]) {
		i++
	}
	return i
}

// digitRun reads a run of digits joined by single separators (space, '-',
// '.', parentheses), starting at a digit at i, with a '+' or '(' right
// before it included, classifies it and returns where scanning resumes.
func (s *scanner) digitRun(i int) int {
	t := s.text
	start := i
	if start > 0 && (t[start-1] == '+' || t[start-1] == '(') {
		start--
		if start > 0 && t[start] == '(' && t[start-1] == '+' {
			start--
		}
	}
	var groups [24]int // start offsets of digit groups, then end offsets
	var gends [24]int
	ng := 0
	digits := 0
	j := i
	seps := uint8(0) // bit set of separator bytes seen
	for {
		gs := j
		for j < len(t) && class[t[j]]&clDigit != 0 {
			j++
		}
		digits += j - gs
		if ng < len(groups) {
			groups[ng], gends[ng] = gs, j
		}
		ng++
		// Separators: at most two bytes (three with a parenthesis, or
		// " - "), then a digit; " / " only after an area code with its
		// trunk 0 ("0172 / 123 45 67").
		k := j
		var sb uint8
		for k < len(t) && k-j < 3 {
			switch t[k] {
			case ' ':
				sb |= sepSpace
			case '-':
				sb |= sepDash
			case '.':
				sb |= sepDot
			case '(', ')':
				sb |= sepParen
			case '/':
				sb |= sepSlash
			default:
				goto done
			}
			k++
		}
	done:
		if k == j || k >= len(t) || class[t[k]]&clDigit == 0 || (k-j > 1 && sb&sepParen == 0 && !(k-j == 3 && t[j] == ' ' && t[j+2] == ' ')) || k-j > 1 && sb&sepSlash != 0 && !(ng == 1 && t[i] == '0' && j-i >= 3 && j-i <= 5) {
			break
		}
		if digits > 40 {
			break
		}
		seps |= sb
		j = k
	}
	end := j // one past the last digit
	next := end
	if digits == 8 && ng <= 3 && s.want&bitNationalID != 0 {
		// A Spanish DNI: 12345678Z, 12345678-Z, 12.345.678-Z.
		var d [8]byte
		compact(t[i:end], d[:])
		if e := s.dni(i, end, groups[:ng], gends[:ng], string(d[:])); e > 0 {
			return e
		}
	}
	if end < len(t) && isLetter(t[end]) {
		// Digits glued to letters ("12kg", "A1234B") are not identifiers;
		// but a run ending in a word after a space was already cut.
		return skipAlnum(t, end)
	}
	if end < len(t) && t[end] == '@' {
		// Local part of an e-mail address: the '@' handler takes it.
		return next
	}
	if ng > len(groups) {
		return next
	}
	s.classify(start, i, end, groups[:ng], gends[:ng], digits, seps)
	return next
}

// Separators seen in a digit run.
const (
	sepSpace = 1 << iota
	sepDash
	sepDot
	sepParen
	sepSlash
)

// compact copies the ASCII digits of s into d (which must be large
// enough) and returns how many there were.
func compact(s string, d []byte) int {
	n := 0
	for i := 0; i < len(s) && n < len(d); i++ {
		if c := s[i]; c >= '0' && c <= '9' {
			d[n] = c
			n++
		}
	}
	return n
}

func (s *scanner) classify(start, first, end int, gs, ge []int, digits int, seps uint8) {
	t := s.text
	plus := t[start] == '+' || (t[start] == '(' && start+1 < len(t) && t[start+1] == '+')
	// IPv4: four dotted groups of at most three digits.
	if len(gs) == 4 && seps == sepDot && !plus {
		if s.context(first)[catVersion] >= 0 {
			return
		}
		if a, err := netip.ParseAddr(t[first:end]); err == nil && a.Is4() {
			s.add(KindIP, first, end, 0.95)
			return
		}
		// Not an address: "012.34.55.33" is a Belgian phone number.
	}
	// Dates (2024-05-12, 12.05.2024, 12-05-24) are handled by the DOB
	// pass; never phones or cards.
	if looksLikeDate(t, gs, ge) {
		return
	}
	if !plus && seps&sepParen == 0 && digits >= 8 && digits <= 15 && s.want&bitNationalID != 0 {
		var d [15]byte
		n := compact(t[first:end], d[:])
		if s.nationalDigits(first, end, gs, ge, string(d[:n])) {
			return
		}
	}
	if !plus && seps&(sepDot|sepParen|sepSlash) == 0 && digits >= 12 && s.want&bitCard != 0 {
		if s.card(gs, ge) {
			return
		}
	}
	if digits == 9 && !plus && s.want&bitSSN != 0 {
		if s.ssn(first, end, gs, ge, seps) {
			return
		}
	}
	if digits >= 7 && digits <= 17 && s.want&bitPhone != 0 {
		s.phone(start, first, end, gs, ge, seps, plus)
	}
}

// priority breaks ties between overlapping findings of equal length.
func priority(kind Kind) int {
	switch kind {
	case KindEmail:
		return 9
	case KindIBAN:
		return 8
	case KindCard:
		return 7
	case KindPassport:
		return 6
	case KindDOB:
		return 5
	case KindNationalID:
		return 4
	case KindSSN:
		return 3
	case KindIP:
		return 2
	case KindPhone:
		return 1
	}
	return 7 // a tenant's own kind: it knows its data
}

// resolve sorts findings and drops those overlapping a longer (or, at
// equal length, higher-priority) one.
func (s *scanner) resolve() []Finding {
	f := s.findings
	if len(f) < 2 {
		return f
	}
	slices.SortFunc(f, func(a, b Finding) int {
		if a.Start != b.Start {
			return a.Start - b.Start
		}
		return (b.End - b.Start) - (a.End - a.Start)
	})
	out := f[:0]
	for _, x := range f {
		if len(out) > 0 {
			last := &out[len(out)-1]
			if x.Start < last.End {
				if better(x, *last) {
					*last = x
				}
				continue
			}
		}
		out = append(out, x)
	}
	return out
}

func better(a, b Finding) bool {
	la, lb := a.End-a.Start, b.End-b.Start
	if la != lb {
		return la > lb
	}
	return priority(a.Kind) > priority(b.Kind)
}
