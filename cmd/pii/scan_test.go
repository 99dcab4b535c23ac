package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestScan(t *testing.T) {
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok.txt")
	bad := filepath.Join(dir, "bad.txt")
	dm := filepath.Join(dir, "dm.txt")
	require.NoError(t, os.WriteFile(ok, []byte("Thanks for waiting! Your order ships tomorrow.\n"), 0o600))
	require.NoError(t, os.WriteFile(bad, []byte("Hi!\nYour card 4111 1111 1111 1111 is on file.\n"), 0o600))
	require.NoError(t, os.WriteFile(dm, []byte("We wrote to ada@example.com.\n"), 0o600))

	// A clean reply passes on a public channel.
	r := runPII(t, cmdOpts{}, "scan", ok)
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "1 messages scanned, 0 findings, 0 refused on public_social")

	// A card number: position and kind, never the number; exit 3.
	r = runPII(t, cmdOpts{}, "scan", "--channel", "direct_message", ok, bad, dm)
	require.Equal(t, exitFindings, r.code, r.stderr)
	require.Contains(t, r.stdout, bad+":2:11: card (19 bytes")
	require.Contains(t, r.stdout, bad+": direct_message must not carry card; move the conversation to the secure chat or the phone")
	require.Contains(t, r.stdout, dm+":1:13: email (15 bytes, confidence 0.99) allowed on direct_message")
	require.NotContains(t, r.stdout+r.stderr, "4111")
	require.NotContains(t, r.stdout+r.stderr, "ada@")

	// The secure chat carries everything.
	r = runPII(t, cmdOpts{}, "scan", "--channel", "secure_chat", bad)
	require.Equal(t, 0, r.code)

	// Standard input, JSON, the channel from the environment.
	r = runPII(t, cmdOpts{stdin: "mail me: ada@example.com", env: []string{"PII_CHANNEL=email"}}, "scan", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var out struct {
		Channel string       `json:"channel"`
		Results []scanResult `json:"results"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out))
	require.Equal(t, "email", out.Channel)
	require.Equal(t, []scanFinding{{Kind: "email", Line: 1, Column: 10, Offset: 9, Length: 15, Confidence: 0.99}}, out.Results[0].Findings)
	require.Equal(t, "-", out.Results[0].Name)

	r = runPII(t, cmdOpts{stdin: "ada@example.com"}, "scan", "--json", "--channel", "public_social", "-")
	require.Equal(t, exitFindings, r.code)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out))
	require.True(t, out.Results[0].Findings[0].Refused)
	require.Empty(t, r.stderr)

	// A tenant's own rules: a recognizer of its own, an allow list.
	rules := filepath.Join(dir, "rules.yaml")
	require.NoError(t, os.WriteFile(rules, []byte("recognizers:\n  - kind: employee_id\n    pattern: 'EMP-[0-9]{6}'\nallow:\n  - 'ada@example\\.com'\n"), 0o600))
	r = runPII(t, cmdOpts{stdin: "ask EMP-123456 or ada@example.com"}, "scan", "--json", "--rules", rules)
	require.Equal(t, exitFindings, r.code, r.stderr)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out))
	require.Len(t, out.Results[0].Findings, 1)
	require.Equal(t, "employee_id", string(out.Results[0].Findings[0].Kind))
	require.NoError(t, os.WriteFile(rules, []byte("recognizers:\n  - kind: x\n    pattern: '('\n"), 0o600))
	oneLineError(t, runPII(t, cmdOpts{stdin: "x"}, "scan", "--rules", rules), exitUsage, "--rules "+rules+": mask: recognizer 0")
	require.NoError(t, os.WriteFile(rules, []byte("nope: 1\n"), 0o600))
	oneLineError(t, runPII(t, cmdOpts{stdin: "x"}, "scan", "--rules", rules), exitUsage, "mask: scan config")

	// Bad input.
	oneLineError(t, runPII(t, cmdOpts{}, "scan", filepath.Join(dir, "missing.txt")), exitUsage, "no such file")
	oneLineError(t, runPII(t, cmdOpts{}, "scan", "--channel", "carrier_pigeon", ok), exitUsage, `--channel "carrier_pigeon": want one of`)
	oneLineError(t, runPII(t, cmdOpts{env: []string{"PII_CHANNEL=nowhere"}}, "scan", ok), exitUsage, `--channel "nowhere"`)
}
