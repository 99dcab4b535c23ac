package envelope

import (
	"fmt"
	"log/slog"
)

const redacted = "[REDACTED]"

// secret holds key bytes where neither methods nor reflection reach them:
// behind a closure, which fmt prints as an address under every verb and
// encoding/json and slog cannot descend into. Its own methods print
// [REDACTED] too. (A pointer to an unexported struct is not enough: fmt
// prints such a struct's fields when it falls back on a bad verb.)
type secret struct{ get func() []byte }

func newSecret(b []byte) secret { return secret{func() []byte { return b }} }

func (s secret) bytes() []byte {
	if s.get == nil {
		return nil
	}
	return s.get()
}

// wipe clears the key bytes. Go cannot promise erasure: the runtime may
// have copied them, and cipher.AEAD values keep their own key schedule.
func (s secret) wipe() { clear(s.bytes()) }

func (secret) Format(f fmt.State, _ rune)   { f.Write([]byte(redacted)) }
func (secret) GoString() string             { return redacted }
func (secret) String() string               { return redacted }
func (secret) LogValue() slog.Value         { return slog.StringValue(redacted) }
func (secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }
func (secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// noPrint, embedded in every type that holds keys, gives it the same
// redacting methods.
type noPrint struct{}

func (noPrint) Format(f fmt.State, _ rune)   { f.Write([]byte(redacted)) }
func (noPrint) GoString() string             { return redacted }
func (noPrint) String() string               { return redacted }
func (noPrint) LogValue() slog.Value         { return slog.StringValue(redacted) }
func (noPrint) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// The Sealer holds unwrapped keys; it prints as [REDACTED] too.

func (*Sealer) Format(f fmt.State, _ rune)   { f.Write([]byte("envelope.Sealer" + redacted)) }
func (*Sealer) GoString() string             { return "envelope.Sealer" + redacted }
func (*Sealer) LogValue() slog.Value         { return slog.StringValue("envelope.Sealer" + redacted) }
func (*Sealer) MarshalJSON() ([]byte, error) { return []byte(`"envelope.Sealer` + redacted + `"`), nil }
