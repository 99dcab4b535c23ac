package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRun(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run(nil, &stdout, &stderr), stderr.String())
	require.Empty(t, stderr.String())
	out := stdout.String()

	// The table: one line per (role, channel), with what that viewer sees.
	for _, want := range []string{
		"agent       public_social   A. L.  -                 -                 -                    -",
		"agent       secure_chat     A. L.  a***@example.com  +44 ******0958    **** **** **** 1111  1985-**-**",
		"supervisor  phone           A. L.  a***@example.com  +44 20 7946 0958  **** **** **** 1111  1985-**-**",
		"fraud       public_social   A. L.  -                 -                 -                    -",
		"fraud       secure_chat     A. L.  a***@example.com  +44 ******0958    4111 11** **** 1111  1985-**-**",
	} {
		require.Contains(t, out, want)
	}
	require.Equal(t, 12, strings.Count(out, "A. L.  "), "one row per role and channel")

	// The public reply with a card number is refused, with advice.
	require.Contains(t, out, "refused: the reply carries card, which public_social must not carry")
	require.Contains(t, out, "advice:  move the conversation to the secure chat or the phone")
	require.Contains(t, out, "  public_social   refused (card)\n  direct_message  refused (card)\n  secure_chat     allowed\n  phone           allowed\n")
	require.Contains(t, out, "I have updated card [card removed] on your account.")
	require.Contains(t, out, "check:   ok, nothing to refuse")

	// The audit lines: a denied agent, a supervisor's reveal, the breach alert.
	require.Contains(t, out, `level=WARN msg="mask: reveal_denied" event=reveal_denied at=2026-11-23T12:00:00.000Z viewer=agent-7 role=agent channel=secure_chat tenant=acme type=Customer record=cus_1042 field=Email category=email reason="customer asked what address we have"`)
	require.Contains(t, out, `level=INFO msg="mask: reveal" event=reveal at=2026-11-23T12:00:00.000Z viewer=sup-2 role=supervisor channel=secure_chat tenant=acme type=Customer record=cus_1042 field=Email category=email reason="customer asked what address we have"`)
	require.Contains(t, out, "-> sup-2 reads the e-mail to the customer: ada.lovelace@example.com")
	require.Equal(t, 3, strings.Count(out, `level=INFO msg="mask: reveal" event=reveal at=2026-11-23T12:00:00.000Z viewer=fraud-3 role=fraud channel=secure_chat tenant=acme type=Customer record=cus_1042 field=Card`))
	require.Contains(t, out, `level=WARN msg="mask: budget_exceeded" event=budget_exceeded at=2026-11-23T12:00:00.000Z viewer=fraud-3`)
	require.Contains(t, out, `reason="chargeback case CB-884" count=4 window=1h0m0s`)
	require.Contains(t, out, "-> reveal 4 refused: mask: reveal budget exceeded")

	// Audit records never carry the clear values.
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "level=") {
			require.NotContains(t, line, "ada.lovelace@example.com")
			require.NotContains(t, line, "4111 1111 1111 1111")
		}
	}
}

func TestBudgetFlag(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run([]string{"-budget", "1"}, &stdout, &stderr), stderr.String())
	require.Contains(t, stdout.String(), "-> reveal 2 refused: mask: reveal budget exceeded")
	require.NotContains(t, stdout.String(), "-> reveal 3")
}

func TestBadArgs(t *testing.T) {
	for _, args := range [][]string{{"-nope"}, {"-budget", "0"}, {"-budget", "x"}, {"extra"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			require.Equal(t, 2, run(args, &stdout, &stderr))
			require.Empty(t, stdout.String())
			require.Equal(t, 1, strings.Count(stderr.String(), "\n"), stderr.String())
			require.True(t, strings.HasPrefix(stderr.String(), "customercare: "), stderr.String())
		})
	}
}
