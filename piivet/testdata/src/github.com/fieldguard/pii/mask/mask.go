// Package mask stands in for github.com/fieldguard/pii/mask in the
// analyzer's GOPATH-mode tests: Redacted returns a Value that formats
// itself for fmt and slog, as the real one does.
package mask

import (
	"fmt"
	"log/slog"
)

type Value struct{ p *struct{ v any } }

func Redacted(v any) Value { return Value{&struct{ v any }{v}} }

func (Value) Format(f fmt.State, _ rune) { fmt.Fprint(f, "[REDACTED]") }

func (Value) LogValue() slog.Value { return slog.StringValue("[REDACTED]") }
