package providertest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReferenceProviderConforms(t *testing.T) {
	Run(t, refHarness(flaws{}))
}

// TestOptionalChecksSkip runs the suite on providers without the optional
// interfaces: the optional checks report a skip, the others pass.
func TestOptionalChecksSkip(t *testing.T) {
	for _, name := range []string{"Rotation", "Versions", "Rewrap"} {
		a, b := plainHarness().New(t)
		err := runCheck(t.Context(), name, a, b)
		var skip *skipError
		require.ErrorAs(t, err, &skip, name)
		require.Contains(t, skip.reason, "does not implement keyprovider.")

		a, b = refHarness(flaws{}).New(t)
		err = runCheck(t.Context(), name, unsupported{a}, unsupported{b})
		require.ErrorAs(t, err, &skip, name)
		require.Contains(t, skip.reason, "reports errors.ErrUnsupported")
	}
	Run(t, plainHarness())
}

// TestChecksCatchBrokenProviders runs each check against a provider with one
// deliberate flaw, and against the correct reference, so a check that
// passes everything cannot hide here.
func TestChecksCatchBrokenProviders(t *testing.T) {
	tests := []struct {
		name  string
		flaws flaws
		check string
		want  string
	}{
		{"ignores associated data", flaws{ignoreAD: true}, "WrongAssociatedData", "associated data is not authenticated"},
		{"unclassified authentication error", flaws{unclassified: true}, "WrongAssociatedData", "want an error matching keyprovider.ErrAuthentication"},
		{"no integrity: bit flips", flaws{noAuth: true}, "BitFlips", "Unwrap succeeded"},
		{"no integrity: truncations", flaws{noAuth: true}, "Truncations", "Unwrap succeeded"},
		{"panics on short input: truncations", flaws{panicShort: true}, "Truncations", "provider panicked"},
		{"panics on short input: garbage", flaws{panicShort: true}, "Garbage", "provider panicked"},
		{"shared KEK", flaws{sameKeyAndIDs: true}, "CrossKEK", "Unwrap returned the original data key"},
		{"shared KEK ids", flaws{sameKeyAndIDs: true}, "CrossKEK", "two KEKs must have distinct ids"},
		{"ignores a cancelled context", flaws{ignoreCtx: true}, "CancelledContext", "want an error matching context canceled"},
		{"ignores an expired deadline", flaws{ignoreCtx: true}, "ExpiredDeadline", "want an error matching context deadline exceeded"},
		{"leaks the key: cancelled context", flaws{leakKey: true}, "CancelledContext", "contains a data key (hex)"},
		{"leaks the key: provoked errors", flaws{leakKey: true}, "NoKeyBytesInErrors", "contains a data key (hex)"},
		{"retains the caller's slice", flaws{cache: true}, "NoAliasing", "Wrap retained the caller's slice"},
		{"returns an internal buffer", flaws{cache: true}, "NoAliasing", "Unwrap returned an internal buffer"},
		{"mutates the caller's key", flaws{mutate: true}, "NoAliasing", "Wrap mutated the caller's dataKey"},
		{"empty key id", flaws{emptyKeyID: true}, "RoundTrip", "empty KeyID.Key"},
		{"rotation forgets old versions", flaws{rotateDrops: true}, "Rotation", "key wrapped before Rotate: Unwrap"},
		{"stale key id after rotation", flaws{staleKeyID: true}, "Rotation", "still reports the old version"},
		{"two primaries", flaws{twoPrimaries: true}, "Versions", "lists 2 primary versions, want 1"},
		{"rewrap drops associated data", flaws{rewrapNoAD: true}, "Rewrap", "Unwrap of a rewrapped key"},
		{"rewrap ignores a cancelled context", flaws{ignoreCtx: true}, "Rewrap", "want an error matching context.Canceled"},
		{"repeats its prefix", flaws{doublePrefix: true}, "WrongAssociatedData", `repeats the prefix "ref: "`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := refHarness(tt.flaws).New(t)
			err := runCheck(t.Context(), tt.check, a, b)
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)

			a, b = refHarness(flaws{}).New(t)
			require.NoError(t, runCheck(t.Context(), tt.check, a, b), "the correct reference must pass %s", tt.check)
		})
	}
}

func TestEveryCheckIsExercised(t *testing.T) {
	require.Len(t, checks, 14)
	seen := map[string]bool{}
	for _, c := range checks {
		require.False(t, seen[c.name], "duplicate check %s", c.name)
		seen[c.name] = true
	}
	require.Error(t, runCheck(t.Context(), "NoSuchCheck", nil, nil))
}

func TestLeakFormsFindEncodings(t *testing.T) {
	key := bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 4)
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"hex", fmt.Errorf("x %x", key), "(hex)"},
		{"upper hex", fmt.Errorf("x %X", key), "(upper-case hex)"},
		{"partial hex", fmt.Errorf("x %x", key[3:11]), "(hex of bytes"},
		{"base64", fmt.Errorf("x %s", "3q2+796tvu/erb7v3q2+7w=="), "base64"},
		{"raw", fmt.Errorf("x %s", key), "(raw)"},
		{"%v", fmt.Errorf("x %v", key), "(%v of the byte slice)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t.Context(), nil, nil)
			e.keys = append(e.keys, key)
			e.record(tt.err)
			err := e.leaks()
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
			require.NotContains(t, err.Error(), "dead")
		})
	}
	e := newEnv(t.Context(), nil, nil)
	e.keys = append(e.keys, key)
	e.record(errors.New("keyprovider: authentication failed"))
	require.NoError(t, e.leaks())
}

func TestRepeatedPrefix(t *testing.T) {
	tests := []struct {
		msg, want string
	}{
		{"keyprovider: authentication failed (unwrap): vault: Error making API request.\n\nURL: PUT http://127.0.0.1:1/v1/transit/decrypt/a\nCode: 400. Errors:\n\n* cipher: message authentication failed", ""},
		{"keyprovider: key service unavailable (wrap): circuit breaker open (last attempt: key service unavailable (wrap): gcpkms: rpc error: code = Unavailable desc = x)", ""},
		{`keyprovider: key service unavailable (wrap): vault: Put "http://127.0.0.1:1/v1/transit/encrypt/a": dial tcp 127.0.0.1:1: connect: connection refused`, ""},
		{"vault: vault: x", "vault"},
		{"keyprovider: invalid argument (wrap): keyprovider: backend panicked", "keyprovider"},
		{"keyprovider: x (last attempt: keyprovider: y)", "keyprovider"},
		{"tokenize: Customer.Phone: tokenize: token not found", "tokenize"},
		{"local2: a: local2: b", "local2"},
		{"context deadline exceeded", ""},
		{"", ""},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, repeatedPrefix(tc.msg), tc.msg)
	}
}

// TestRunFailsOnBrokenProvider runs the whole suite, in a child process,
// against a provider that ignores associated data, and checks that Run
// fails exactly the subtest that should catch it.
func TestRunFailsOnBrokenProvider(t *testing.T) {
	if os.Getenv("PROVIDERTEST_BROKEN_CHILD") == "1" {
		Run(t, refHarness(flaws{ignoreAD: true}))
		return
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestRunFailsOnBrokenProvider$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "PROVIDERTEST_BROKEN_CHILD=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "the suite must fail a provider that ignores associated data; output:\n%s", out)
	require.Contains(t, string(out), "--- FAIL: TestRunFailsOnBrokenProvider/WrongAssociatedData")
	require.Contains(t, string(out), "--- PASS: TestRunFailsOnBrokenProvider/RoundTrip")
	require.Contains(t, string(out), "--- PASS: TestRunFailsOnBrokenProvider/BitFlips")
}
