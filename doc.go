// Package pii reads the `pii:"..."` struct tags that the rest of the
// library is driven by, and reports what personal data a program holds.
//
// A tag names a data category and options:
//
//	type Customer struct {
//		ID       string    `pii:"subject"`
//		Email    string    `pii:"email,encrypt,index,mask=email,retain=2y,from=LastSeen,then=shred"`
//		Phone    string    `pii:"phone,token=ff1,mask=phone,reveal=supervisor"`
//		LastSeen time.Time `pii:"-"`
//	}
//
// [SchemaOf] parses and checks a type's tags once and caches the result;
// envelope, tokenize, mask and retention all read that schema. [Inventory]
// turns the schemas of a program's types into the report a privacy officer
// asks for: which types hold which categories, how protected, kept how long,
// why, and which untagged fields look personal.
//
// # Grammar
//
// The first token is a category (a built-in one such as email, phone, name,
// address, dob, national_id, card, iban, ip, location, health; or a dotted
// taxonomy key such as user.contact.email), or one of: "-" (not personal
// data), subject (the data-subject id), id (the record id), tenant (the
// tenant id), dive (descend into a nested struct, pointer, slice, array or
// map of structs). Options follow, comma-separated: encrypt, encrypt=det,
// index, index=Field, norm=n|n, prefix=N, with=Field,
// token=ff1|ff3-1|hmac|stored, mask=style[:arg],
// reveal=role|role, retain=D, min=D, grace=D, from=Field,
// then=delete|null|redact|anonymize|generalize:rule|shred|block,
// purpose=name, basis=legal-basis, sensitive, log=omit|mask|hmac.
// Durations are 30d, 12h, 2w, 6m (calendar months), 2y (calendar years),
// combinations such as 1y6m, or ISO 8601 (P2Y6M, PT12H). The README has an
// example per option.
//
// # Lookups
//
// norm= names the normalisers a value passes through before its blind
// index or deterministic ciphertext is computed, on write and on lookup
// alike: nfc (Unicode NFC), trim (white space at both ends), lower (Unicode
// lower case), joined by | in any order (they run in that order), or one of
// email (the e-mail canonical form: nfc, trim and lower of the whole
// address) and digits (ASCII digits only, for phone and card numbers).
// It needs index or encrypt=det and a string field.
//
// What they do not do: nfc does not fold compatibility forms (fullwidth
// letters, ligatures: that is NFKC, not offered); lower has no locale (the
// Turkish dotless ı is not special). email lower-cases the local part as
// every large provider does, although RFC 5321 leaves it case-sensitive,
// and does no more: no removal of dots or +tags from the local part, no
// IDNA conversion (a U-label domain and its xn-- A-label are different
// values), no removal of a trailing dot, a display name, angle brackets,
// comments or quotes, and no validation. digits knows nothing of country
// codes: "+44 20 7946 0958" and "020 7946 0958" are different values.
// email and digits combine with no other normaliser. With encrypt=det the normal form is what
// is stored (Open returns it); with index only the index is normalised
// and the ciphertext keeps the value as typed.
//
// prefix=N makes the blind index cover the first N characters (runes,
// after normalisation) of the value, 1 to 64: a lookup by any value with
// those N characters finds the record. Values shorter than N are indexed
// whole. with=Field makes it a compound index over this field and a second
// string field of the same struct (normalised by this field's norm=): a
// lookup needs both values. prefix= and with= need index and exclude each
// other. What each leaks is in envelope's security model: a prefix index
// links every record sharing those N characters (the smaller N, the
// larger the groups and the easier a frequency attack); a compound index
// links records equal in both fields, and in neither alone.
//
// A malformed tag is an error from SchemaOf naming the type, the field and
// the token (a [FieldError]); it is never ignored and never panics.
//
// # Type names
//
// The schema's Name is bound into the associated data of every encrypted
// field. It defaults to the Go type's name (without the package path, so
// moving a type between packages keeps its data readable). Before renaming
// a type, [Register] its old name in an init function.
//
// # Shared by every package
//
// A data subject is the pair (tenant, subject): the fields tagged tenant and
// subject; a type without a tenant field belongs to the tenant "". [Clock]
// is the one way to inject time (piitest has a fake); [WithExecutor] makes
// every SQL store of the library read and write through the caller's
// transaction; [FieldError] is the one error naming the field and record an
// operation on a tagged struct failed on.
//
// # Security model
//
// This package reads types, never values, except for [Schema.SubjectOf],
// [Schema.TenantOf] and [Schema.RecordOf], which return the
// identifiers the other packages bind into keys and associated data. Reports
// hold names only.
package pii
