package envelope

import "github.com/fieldguard/pii/internal/redact"

// secret holds key bytes where neither methods nor reflection reach them:
// behind a closure, which fmt prints as an address under every verb and
// encoding/json and slog cannot descend into. It prints [REDACTED] too.
// (A pointer to an unexported struct is not enough: fmt prints such a
// struct's fields when it falls back on a bad verb.)
type secret struct {
	noPrint
	get func() []byte
}

func newSecret(b []byte) secret { return secret{get: func() []byte { return b }} }

func (s secret) bytes() []byte {
	if s.get == nil {
		return nil
	}
	return s.get()
}

// wipe clears the key bytes. Go cannot promise erasure: the runtime may
// have copied them, and cipher.AEAD values keep their own key schedule.
func (s secret) wipe() { clear(s.bytes()) }

// noPrint, embedded in the Sealer and in every type that holds keys, gives
// it the printing methods of internal/redact: String, GoString, Format,
// LogValue, MarshalJSON and MarshalText print [REDACTED] (the Sealer:
// envelope.Sealer{[REDACTED]}).
type noPrint = redact.Redacted
