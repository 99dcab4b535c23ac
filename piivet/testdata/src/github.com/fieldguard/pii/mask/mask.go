// Package mask stands in for github.com/fieldguard/pii/mask in the
// analyzer's GOPATH-mode tests: Redacted returns a slog.LogValuer whose
// dynamic type formats itself for fmt and slog, as the real one does.
package mask

import (
	"fmt"
	"log/slog"
)

type value struct{ p *struct{ v any } }

func Redacted(v any) slog.LogValuer { return value{&struct{ v any }{v}} }

func (value) Format(f fmt.State, _ rune) { fmt.Fprint(f, "[REDACTED]") }

func (value) LogValue() slog.Value { return slog.StringValue("[REDACTED]") }
