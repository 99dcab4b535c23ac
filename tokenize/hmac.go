package tokenize

import (
	"encoding/base64"
	"strings"
)

// pseudonym returns the keyed pseudonym of value in scope s (MethodHMAC):
// "<key id>:" followed by the first 128 bits of
// HMAC-SHA256(hmac key, tenant, field, value) in unpadded base64url (22
// characters). Pseudonyms are deterministic within a scope, differ across
// tenants and fields, and cannot be reversed; the key id tells which key
// generation made them.
func (t *Tokenizer) pseudonym(s Scope, value string) string {
	mac := t.mac(t.k.hmac, s, value)
	defer clear(mac)
	return t.opts.KeyID + ":" + base64.RawURLEncoding.EncodeToString(mac[:16])
}

// IsPseudonym reports whether s has the form of a pseudonym this Tokenizer
// makes (token=hmac): its Options.KeyID, ":", and 22 characters of
// unpadded base64url (128 bits). It judges the form only: a value typed
// in that form is indistinguishable from a pseudonym. Code that must not
// hash a pseudonym twice (a struct protected again after it was read)
// tells the two apart with it.
func (t *Tokenizer) IsPseudonym(s string) bool {
	rest, ok := strings.CutPrefix(s, t.opts.KeyID+":")
	if !ok || len(rest) != 22 {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(rest)
	return err == nil && len(b) == 16
}
