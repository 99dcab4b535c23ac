package tokenize

import (
	"encoding/base64"
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
