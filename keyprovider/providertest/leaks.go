package providertest

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

type leakForm struct{ name, text string }

// leakForms returns the spellings of key that must never appear in an error.
func leakForms(key []byte) []leakForm {
	forms := []leakForm{
		{"raw", string(key)},
		{"hex", hex.EncodeToString(key)},
		{"upper-case hex", strings.ToUpper(hex.EncodeToString(key))},
		{"base64", base64.StdEncoding.EncodeToString(key)},
		{"base64url", base64.URLEncoding.EncodeToString(key)},
		{"unpadded base64", base64.RawStdEncoding.EncodeToString(key)},
		{"unpadded base64url", base64.RawURLEncoding.EncodeToString(key)},
		{"%v of the byte slice", strings.Trim(fmt.Sprint(key), "[]")},
	}
	for i := 0; i+8 <= len(key); i++ {
		forms = append(forms, leakForm{fmt.Sprintf("hex of bytes %d..%d", i, i+8), hex.EncodeToString(key[i : i+8])})
	}
	return forms
}

// leaks scans every recorded error for every recorded key. The report names
// the encoding found, never the key or the message.
func (e *env) leaks() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var msgs []string
	for _, err := range e.errs {
		msgs = append(msgs, err.Error(), fmt.Sprintf("%+v", err))
	}
	for _, key := range e.keys {
		for _, f := range leakForms(key) {
			for _, m := range msgs {
				if strings.Contains(m, f.text) {
					return fmt.Errorf("providertest: an error returned by the provider contains a data key (%s)", f.name)
				}
			}
		}
	}
	return nil
}

// doubledPrefixes reports an error that says a package prefix twice
// ("vault: ... vault: ...", "keyprovider: ... keyprovider: ..."), as a
// layer that wraps an error already carrying its prefix does. The report
// names the prefix, never the message.
func (e *env) doubledPrefixes() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, err := range e.errs {
		if p := repeatedPrefix(err.Error()); p != "" {
			return fmt.Errorf("providertest: an error returned by the provider repeats the prefix %q", p+": ")
		}
	}
	return nil
}

// repeatedPrefix returns the first package prefix that msg says twice, or
// "". A prefix is a lower-case identifier followed by ": " at the start of
// msg or right after ": " or "(".
func repeatedPrefix(msg string) string {
	seen := map[string]bool{}
	for i := 0; i < len(msg); i++ {
		if i > 0 && msg[i-1] != '(' && !(i >= 2 && msg[i-2:i] == ": ") {
			continue
		}
		j := i
		for j < len(msg) && (msg[j] >= 'a' && msg[j] <= 'z' || j > i && msg[j] >= '0' && msg[j] <= '9') {
			j++
		}
		if j == i || !strings.HasPrefix(msg[j:], ": ") {
			continue
		}
		if seen[msg[i:j]] {
			return msg[i:j]
		}
		seen[msg[i:j]] = true
	}
	return ""
}
