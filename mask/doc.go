// Package mask decides what a person sees of personal data: display masking
// styles, role- and channel-aware views of pii-tagged structs with audited
// reveal, a scanner that finds identifiers in free text before an agent posts
// it, and redaction for fmt, log/slog and encoding/json.
//
// # Styles
//
// A style turns one clear value into its display form. The built-in styles
// are full, fixed, last4, first1, initials, email, phone, card, iban, ip,
// date and hmac; [Masker.Register] adds custom ones by name. Every style is
// total: for any input (empty, too short, non-ASCII, invalid UTF-8,
// malformed) it returns a masked string that reveals no more than the style
// promises, never panics and never returns a non-trivial input unchanged.
// Input a style does not recognise (an e-mail style given something that is
// not an address, a card style given something that is not 12–19 digits)
// gets the fixed placeholder "********", which leaks neither the value nor
// its length.
//
//   - full: every character replaced by '*' (length is kept).
//   - fixed: always "********".
//   - last4: the last four characters, never more than half of the value.
//   - first1: the first character, never more than half of the value.
//   - initials: "Ada Lovelace" → "A. L.".
//   - email: first character of the local part and the domain
//     ("a***@example.com"); argument "mask-domain" masks the domain but its
//     last label ("a***@*******.com").
//   - phone: parsed with github.com/nyaruka/phonenumbers (default region
//     from [MaskerOptions.Region], or the style argument, e.g. "phone:GB");
//     country calling code and the last 2–4 digits ("+44 ******3456").
//   - card: PCI DSS 3.4.1; last four digits by default, argument "bin6" or
//     "bin8" also shows the BIN where the card is long enough for that to
//     leave at least five digits hidden. 12–19 digits, spaces and dashes kept.
//   - iban: country code and last four characters.
//   - ip: IPv4 truncated to its /24, IPv6 to its /48 (net/netip).
//   - date: year only ("1987-**-**").
//   - hmac: a keyed HMAC-SHA256 pseudonym carrying the key id
//     ("hmac:k1:3f5a…"); without a key in [MaskerOptions] it falls back to
//     the fixed placeholder, never to an unkeyed hash.
//
// # Views
//
// A [Policy] maps (category or field path, viewer role, channel) to reveal,
// mask with a style, or deny. Struct tags give the defaults (mask=, reveal=,
// sensitive); the policy overrides them. Sensitive categories are denied on
// public channels unless the policy says otherwise. [Views.View] returns a
// masked deep copy of a tagged struct (the original is never modified),
// [Views.ViewMap] a map for templates and [Views.ViewJSON] JSON for UIs.
// Plans are computed once per (type, role, channel) and cached, so a view
// does not resolve the policy per call.
//
// [Views.Reveal] returns one clear value to a viewer whose role may see it
// and who gives a reason; it emits an [AuditEvent] (who, which field of which
// record, why, when; never the value) to an [AuditSink]. A per-viewer reveal
// budget over a sliding window raises an alert when exceeded and, if
// [ViewsOptions.RefuseOverBudget] is set, refuses further reveals.
//
// # Scanner
//
// [Scan] finds card numbers (Luhn, 12–19 digits), e-mail addresses, phone
// numbers (phonenumbers, with a region hint), IBANs (mod 97), US social
// security numbers, IP addresses and dates of birth in free text. It makes a
// single cheap pass to find candidates and runs the expensive validators only
// on them. [Text] masks what it finds according to a policy; [Check] refuses
// text that a channel must not carry, with advice on where to move it.
//
// # Logs
//
// [Redacted] wraps a value so that it prints redacted under every fmt verb,
// through slog and through encoding/json. Tagged structs honour
// log=omit|mask|hmac (personal data is omitted by default).
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
// [ErrBudgetExceeded] when the reveal budget is spent and refusal is on,
// [ErrUnknownStyle] for an unregistered style and [ErrChannel] (wrapped with
// the kinds found) by [Check].
package mask
