package redact_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/internal/redact"
)

type noPrint = redact.Redacted

// holder stands for a secret-holding type: the key must never be printed.
type holder struct {
	noPrint
	key []byte
}

func TestRedacted(t *testing.T) {
	key := []byte("KEYBYTES-KEYBYTES")
	leaks := []string{"KEYBYTES", "4b455942595445", "4B455942595445", "75 69 89", "[75"}
	tests := []struct {
		name string
		r    redact.Redacted
		want string
	}{
		{"zero", redact.Redacted{}, "[REDACTED]"},
		{"named", redact.Named("pkg.Holder"), "pkg.Holder{[REDACTED]}"},
		{"described", redact.Describe(func() string { return "pkg.Holder{path: x}" }), "pkg.Holder{path: x}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &holder{noPrint: tt.r, key: key}
			var outs []string
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%t", "%o", "%b", "%e", "%c", "%U", "%8.3v", "%-10s"} {
				for _, v := range []any{h, *h, []any{h}, struct{ H *holder }{h}} {
					out := fmt.Sprintf(verb, v)
					require.Contains(t, out, tt.want, verb)
					outs = append(outs, out)
				}
			}
			var buf bytes.Buffer
			slog.New(slog.NewJSONHandler(&buf, nil)).Info("m", "h", h)
			slog.New(slog.NewTextHandler(&buf, nil)).Info("m", "h", *h)
			require.Equal(t, 2, strings.Count(buf.String(), strings.Trim(fmt.Sprintf("%q", tt.want), `"`)), buf.String())
			j, err := json.Marshal(struct {
				H *holder
				M map[string]holder
			}{h, map[string]holder{"k": *h}})
			require.NoError(t, err)
			want, _ := json.Marshal(tt.want)
			require.Equal(t, 2, bytes.Count(j, want), string(j))
			txt, err := h.MarshalText()
			require.NoError(t, err)
			require.Equal(t, tt.want, string(txt))
			outs = append(outs, buf.String(), string(j))
			for _, out := range outs {
				for _, l := range leaks {
					require.NotContains(t, out, l)
				}
			}
		})
	}
}
