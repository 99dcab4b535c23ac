// Package mask decides what a person sees of personal data: display masking
// styles, role- and channel-aware views of pii-tagged structs with audited
// reveal, a scanner that finds identifiers in free text before an agent posts
// it, and redaction for fmt, log/slog and encoding/json.
//
// Each job has one way in:
//
//   - a struct for a viewer: [ViewOf] (or [Views.ViewMap] for templates and
//     JSON), with [Views.Reveal] for one audited clear value;
//   - one value: [Masker.Mask] with a [Style];
//   - free text: [Scan] finds, [Text] masks, [Check] refuses;
//   - logs: [Redacted] (or [Masker.Redacted] for keyed pseudonyms), for
//     fmt, log/slog and encoding/json alike.
//
// # Styles
//
// A [Style] turns one clear value into its display form. It is a name with
// an optional argument after ':' ("card:bin6"), spelled the same in tags
// (`mask=card:bin6`), in a [Rule] and in [Masker.Mask]. The built-in
// styles are full, fixed, last4, first-char, initials, email, phone, card,
// iban, ip, date and hmac; [MaskerOptions.Styles] adds custom ones by
// name. An unknown style, or an argument a built-in style does not take, is
// an error wherever it is named ("mask: unknown style"), never a quiet
// default.
// Every style is total: for any input (empty, too short, non-ASCII,
// invalid UTF-8, malformed) it returns a masked string that reveals no more
// than the style promises, never panics and never returns a non-trivial
// input unchanged. Input a style does not recognise (an e-mail style given
// something that is not an address, a card style given something that is
// not 12–19 digits) gets the fixed [Placeholder] "********", which leaks
// neither the value nor its length.
//
//   - full: every character replaced by '*' (length is kept).
//   - fixed: always "********".
//   - last4: the last four characters, never more than half of the value.
//   - first-char: the first character, never more than half of the value.
//   - initials: "Ada Lovelace" → "A. L.".
//   - email: first character of the local part and the domain
//     ("a***@example.com"); a local part of one or two characters is masked
//     whole ("****@example.com"); argument "mask-domain" masks the domain
//     but its last label ("a***@*******.com").
//   - phone: parsed with github.com/nyaruka/phonenumbers (default region
//     from [MaskerOptions.Region], or the style argument, e.g. "phone:GB");
//     country calling code and the last 2–4 digits ("+44 ******3456").
//   - card: PCI DSS 3.4.1; last four digits by default, argument "bin6" or
//     "bin8" also shows the BIN where the card is long enough for that to
//     leave at least five digits hidden. 12–19 digits, spaces and dashes kept.
//   - iban: country code and last four characters.
//   - ip: IPv4 truncated to its /24, IPv6 to its /48 (net/netip); an IPv4
//     address carried in IPv6 (IPv4-mapped ::ffff:0:0/96, 6to4 2002::/16,
//     Teredo 2001:0::/32) is shown as that IPv4 address's /24, so its host
//     byte never shows (a 6to4 /48 would show it whole).
//   - date: year only ("1987-**-**").
//   - hmac: a keyed HMAC-SHA256 pseudonym carrying the key id
//     ("hmac:k1:3f5a…"); without a key in [MaskerOptions] it falls back to
//     the fixed placeholder, never to an unkeyed hash. The argument is a
//     domain: views use the field's category, as log=hmac does, so the
//     same value in two categories gives unlinkable pseudonyms.
//
// # Views
//
// [Views] ([NewViews]) map (field path or category, viewer role,
// [Channel]) to reveal, mask with a style, or deny ([Action]). Struct tags give the
// defaults (mask=, reveal=, sensitive); rules ([ViewsOptions.Rules])
// override them, the most
// specific rule winning. Sensitive categories (health, national_id, card, …
// and fields tagged sensitive) are denied on public channels unless a rule
// that names that channel says otherwise (a rule for a role or category
// alone does not lift this floor); a channel other than
// [ChannelDirectMessage], [ChannelSecureChat], [ChannelEmail] and
// [ChannelPhone] counts as public. [ViewOf] returns a masked deep copy of a
// tagged struct, never touching the original; untagged fields that can
// hold tagged structs are left out of the copy because the rules cannot
// reach them. [Views.ViewMap] gives the masked personal-data fields keyed
// by concrete path, for templates, UIs and JSON. [Views.Decide] says what
// a role sees of one field and whether it may reveal it. A plan is
// computed once per (type, role, channel) and cached in the Views, so a
// view does not resolve the rules per call.
//
// Views show clear values only. A field to be shown (masked or revealed)
// that still holds an envelope ciphertext ("pii1.", "pii2.", "pii3." text
// form, recognised exactly as envelope.IsSealed does) fails the view, and
// [Views.Reveal] ("field is still sealed"); so does a token= field whose
// value its category's tokenize format marks as a token (a card number
// failing the Luhn check, an IBAN failing mod 97: "field holds a token").
// The error is a [pii.FieldError] naming the type, field path and the
// record by its id; it reports a mistake of the program (the record was not
// opened or reversed first), so it has no sentinel of its own.
// Tokens of formats that look like values (phone, e-mail, SSN, generic,
// and cards or IBANs tokenized with LuhnValid or ChecksumValid) cannot be
// told apart and are masked like values. Denied fields are not shown and
// may stay sealed.
//
// [Views.Reveal] returns one clear value to a viewer whose role may see it
// (tag reveal= list, or a rule revealing the field) and who gives a reason;
// it emits an [AuditEvent] (who, which field of which record of which
// tenant, why, when; never the value) to an [AuditSink] such as
// [SlogAudit]. The tenant comes from the struct's `pii:"tenant"` field; types
// without one belong to the tenant "". Reveals are always audited: without
// [ViewsOptions.Audit] the sink is [SlogAudit] on slog.Default(). Refused
// attempts are audited too, and a failing sink reveals nothing. A
// per-viewer reveal budget over a sliding window
// ([ViewsOptions.RevealBudget]) raises an [EventBudgetExceeded] alert when
// exceeded and, if [ViewsOptions.RefuseOverBudget] is set, refuses further
// reveals until the window slides. Time comes from [ViewsOptions.Clock].
//
// # Scanner
//
// [Scan] reports each identifier as a [Finding] of a [Kind]: card numbers
// (Luhn and issuer prefix, 12–19 digits with spaces or dashes), e-mail
// addresses, phone numbers, IBANs (registry length and mod 97), US social
// security numbers (area, group and serial rules; dashed, or announced by
// context), IP addresses (net/netip), dates of birth, national identifiers
// and passport numbers. It makes one cheap pass over the bytes that notes
// candidates (digit runs, '@', ':' in hex runs, two letters and two digits,
// the first bytes of keywords) and runs the validators only on them. A
// Finding holds a span, never a copy of the value.
//
// Packs. Every recogniser is on by default, in every language; none needs
// to be enabled, and [ScanOptions.Kinds] restricts what is reported.
//
//   - Phone numbers: what a reader takes for one, in the layouts of the
//     region hints: +CC and 00CC, trunk prefix and groups ("030/12345678",
//     "06.12.34.56.78", "07911 123456"), area codes in parentheses ("(11)
//     98765-4321"), the North American 3-3-4. Validity in
//     github.com/nyaruka/phonenumbers' metadata raises the confidence; a
//     number in a phone layout is reported even in an unassigned range,
//     with less. Bare digit runs need a context word ("call", "Handy",
//     "llámame", "bel me").
//   - National identifiers ([KindNationalID]), each with its check digits
//     and rules: UK National Insurance number (prefix rules; no check
//     digit), German tax id (Steuer-IdNr: digit structure, ISO 7064 MOD
//     11,10), French NIR (key mod 97), Spanish DNI and NIE (check letter),
//     Italian codice fiscale (check letter), Dutch BSN (elfproef), Swedish
//     personnummer (date, Luhn), Polish PESEL (date, weights), Brazilian
//     CPF (two mod 11 digits), Indian Aadhaar (Verhoeff), Canadian SIN
//     (Luhn) and Australian TFN (weights). A distinctive layout with a
//     strong check (DNI, NIE, codice fiscale, National Insurance number,
//     CPF as 123.456.789-09, NIR spaced, personnummer with its dash) is
//     reported anywhere; bare digits with a one-in-ten check (BSN, SIN,
//     TFN, Aadhaar, PESEL, Steuer-IdNr) only in their own region or after
//     a word that announces an identifier ("BSN", "Steuer-ID", "NAS").
//   - Passport numbers ([KindPassport]): only after a word that announces
//     one ("passport", "Reisepass", "passeport", "pasaporte",
//     "passaporto", "passaporte", "paspoort").
//   - Dates of birth: a full date after (or, in German and Dutch, right
//     before) a word that announces one ("DOB", "Geburtsdatum", "geboren",
//     "né le", "fecha de nacimiento", "nato il", "nasci em",
//     "geboortedatum", …), numeric or with a month name in English,
//     German, French, Spanish, Italian, Portuguese or Dutch ("14. März
//     1985", "1er mars 1985", "14 de marzo de 1985"), at least twelve
//     years before [ScanOptions.Clock].
//
// Context words in the same seven languages steer the rest: a number
// announced as an order, tracking, invoice, customer or company number
// ("Bestellnummer", "commande", "pedido", "fattura", "klantnummer", "SIRET",
// "P.IVA") is neither a phone number nor a national identifier; digit runs
// glued to letters or identifier prefixes ("ORD-2024-123456") and numeric
// dates are never phones; a number announced as an identifier is never
// read as a phone.
//
// Region hints. [ScanOptions.Regions] carries the regions of the tenant or
// the conversation ("DE", "FR"): they are tried in order for phone numbers
// written without a country code, and they let the weak-layout national
// identifiers of those regions through without a context word. Default
// ["US"].
//
// Custom recognisers, allow and deny lists. A tenant adds its own through
// a [ScanConfig], written in code or read from JSON or YAML by
// [ParseScanConfig], compiled once by [NewScanRules] and passed as
// [ScanOptions.Rules]: [Recognizer]s (a kind, a pattern, a named check
// digit or a validator, context words), an allow list (what is never
// reported, however much it looks like an identifier: the tenant's order
// numbers, tracking ids, its own hotline) and a deny list (what is always
// reported as its kind). For example:
//
//	recognizers:
//	  - kind: employee_id
//	    pattern: 'EMP-\d{6}'
//	  - kind: member_no
//	    pattern: '\d{4} \d{4} \d{4}'
//	    check: luhn
//	    context: [member, Mitglied]
//	allow:
//	  - 'ORD\d{9}'
//	deny:
//	  national_id: ['HK\d{6}\(\d\)']
//
// The scanner is measured by TestScanCorpus on testdata/corpus.jsonl
// (English) and by TestScanCorpusIntl on testdata/corpus_intl.jsonl
// (seven languages, with region hints and look-alikes), which log
// precision and recall per kind, language and identifier scheme; a
// held-out split (testdata/corpus_heldout.jsonl, TestScanCorpusHeldOut)
// is reported separately. The corpora are generated by internal/corpusgen
// with its own check-digit code. Known false positives: a Luhn-valid
// number in a card-like range, grouped like a card and called a loyalty
// or gift card number, is reported as a card, since missing a card costs
// more.
//
// [Text] masks what the scanner finds as the rules of a [Views] decide; [Check]
// refuses text a channel must not carry: public channels carry no
// identifiers, direct messages and e-mail no card numbers, social
// security numbers, national identifiers or passport numbers; the
// [ChannelError] advises where to move the conversation. These floors do
// not depend on any rules.
//
// # Logs
//
// [Redacted] wraps a value so that it prints redacted under every fmt verb,
// through log/slog (it is a slog.LogValuer) and through encoding/json:
// tagged structs show their type name, id, subject and tenant, and their
// personal-data fields according to log=: omit (the default) leaves them
// out, mask shows the masked form, hmac a keyed pseudonym (through
// [Masker.Redacted] with a keyed [Masker]; [Redacted] has no key and
// leaves such fields out). Everything else prints "[REDACTED]". A tagged
// type can be its own slog.LogValuer:
//
//	func (c Customer) LogValue() slog.Value { return mask.Redacted(c).LogValue() }
//
// # Security model
//
// Masking is for display: it limits what an honest viewer sees, it is not
// encryption. Partial reveals of the same value under different styles can
// be combined (last four of a card plus its BIN), which is why the card style
// never exceeds what PCI DSS allows and why the hmac style is keyed: an
// unkeyed hash of a card number or phone number is reversible by enumeration.
// The scanner is a safety net for agents, not a data-loss-prevention
// guarantee: it is measured on a labelled corpus (testdata/corpus.jsonl) and
// errs towards reporting.
//
// Clear values never appear in errors, audit events or log lines produced by
// this package. Go cannot promise that clear strings are erased from memory.
//
// # Errors
//
// Errors start with "mask: ". [ErrDenied] is returned when a viewer may not
// reveal a field, [ErrReasonRequired] when no reason is given,
// [ErrBudgetExceeded] when the reveal budget is spent and refusal is on.
// Mistakes of the program have no sentinel of their own: "mask: no such
// tagged field" for a field path the type does not have, a
// [pii.FieldError] for a field that is not clear (still sealed, or a
// token), "mask: unknown style" for an unknown style or style argument (a
// mistake in a tag, a rule or the code). [Check]
// returns a *[ChannelError] listing the kinds found. Errors never contain
// clear values, ciphertexts or tokens, and carry the "mask: " prefix once.
//
// # Telemetry
//
// mask reports to OpenTelemetry through ScanOptions.MeterProvider and
// ViewsOptions.MeterProvider, or the global provider when they are nil:
// pii.mask.scan.findings counts what [Scan] finds by pii.mask.kind;
// pii.mask.channel.refusals counts what [Check] refuses by
// pii.mask.channel and pii.mask.kind; pii.mask.reveals counts the audited
// reveal attempts of [Views.Reveal] (reveal, reveal_denied,
// budget_exceeded) by pii.mask.event, pii.mask.role, pii.mask.channel,
// pii.type and pii.category, once the audit sink has taken them. No
// attribute carries a value, a viewer, a record id or a concrete path.
package mask
