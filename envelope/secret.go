package envelope

import (
	"fmt"
	"log/slog"
)

const redacted = "[REDACTED]"

// secret holds key bytes behind a pointer to an unexported struct, so no
// fmt verb, slog handler or JSON encoder reaches them.
type secret struct{ p *secretBytes }

type secretBytes struct{ b []byte }

func newSecret(b []byte) secret { return secret{&secretBytes{b}} }

func (s secret) bytes() []byte {
	if s.p == nil {
		return nil
	}
	return s.p.b
}

// wipe clears the key bytes. Go cannot promise erasure: the runtime may
// have copied them, and cipher.AEAD values keep their own key schedule.
func (s secret) wipe() {
	if s.p != nil {
		clear(s.p.b)
	}
}

func (secret) Format(f fmt.State, _ rune)    { f.Write([]byte(redacted)) }
func (secret) GoString() string              { return redacted }
func (secret) String() string                { return redacted }
func (secret) LogValue() slog.Value          { return slog.StringValue(redacted) }
func (secret) MarshalJSON() ([]byte, error)  { return []byte(`"` + redacted + `"`), nil }
func (secret) MarshalText() ([]byte, error)  { return []byte(redacted), nil }
func (*secretBytes) Format(f fmt.State, _ rune) { f.Write([]byte(redacted)) }
func (*secretBytes) GoString() string           { return redacted }

// The Sealer holds unwrapped keys; it prints as [REDACTED] too.

func (*Sealer) Format(f fmt.State, _ rune)   { f.Write([]byte("envelope.Sealer" + redacted)) }
func (*Sealer) GoString() string             { return "envelope.Sealer" + redacted }
func (*Sealer) String() string               { return "envelope.Sealer" + redacted }
func (*Sealer) LogValue() slog.Value         { return slog.StringValue("envelope.Sealer" + redacted) }
func (*Sealer) MarshalJSON() ([]byte, error) { return []byte(`"envelope.Sealer` + redacted + `"`), nil }
