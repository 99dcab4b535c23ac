// Package providertest is the conformance suite every keyprovider backend
// must pass.
//
// A backend's tests call [Run] with a [Harness] that builds two providers
// backed by two distinct key-encryption keys:
//
//	func TestConformance(t *testing.T) {
//		providertest.Run(t, providertest.Harness{
//			New: func(t *testing.T) (a, b keyprovider.KeyProvider) {
//				return newProvider(t, "kek-a"), newProvider(t, "kek-b")
//			},
//		})
//	}
//
// New is called once per subtest, so every check starts from fresh
// providers. Run the suite under -race: one subtest drives 32 goroutines
// through Wrap and Unwrap at once.
//
// # What is checked
//
//   - RoundTrip: data keys of 16, 32 and 64 bytes with associated data of 0, 1
//     and 4096 bytes unwrap to the original key; Wrap reports a non-empty
//     KeyID.Key and the wrapped bytes do not contain the data key in clear.
//     Empty associated data may be passed as nil or as an empty slice.
//   - WrongAssociatedData: any other associated data fails with
//     keyprovider.ErrAuthentication.
//   - BitFlips: every single-bit flip of the wrapped bytes fails (any error,
//     never the original key, never a panic).
//   - Truncations: every proper prefix of the wrapped bytes fails.
//   - Garbage: empty, nil and random wrapped bytes fail without a panic.
//   - CrossKEK: a key wrapped under one KEK does not unwrap under the other,
//     and the two report different KeyIDs.
//   - CancelledContext / ExpiredDeadline: a cancelled context makes Wrap and
//     Unwrap return an error matching context.Canceled (an expired deadline,
//     context.DeadlineExceeded). A watchdog fails the test if the call does
//     not return at all; the suite makes no assertion about speed.
//   - Concurrent: 32 goroutines wrap and unwrap at once, on both providers.
//   - NoAliasing: Wrap neither mutates nor retains the caller's dataKey or
//     associated data; Unwrap does not mutate the wrapped bytes and returns a
//     slice the caller owns.
//   - NoKeyBytesInErrors: every error produced in every subtest is searched
//     for each data key used there, raw and in hex (both cases) and base64
//     (standard, URL, with and without padding), and for the hex of every
//     8-byte window of it. Every error is also checked for a package
//     prefix said twice ("vault: ... vault: ..."), which a layer that
//     wraps an error already carrying its prefix produces.
//
// Three more checks apply to the optional interfaces and are skipped, with a
// message saying so, when provider a does not implement them, or implements
// them but its first call returns an error matching errors.ErrUnsupported
// (as a wrapper such as keyprovider.Client does for a backend without the
// ability):
//
//   - Rotation (keyprovider.Rotator): after Rotate, Wrap reports the version
//     Rotate returned (when the backend reports versions), keys wrapped
//     before still unwrap, the other provider is unaffected, wraps racing a
//     second Rotate all succeed, and a cancelled context is honoured.
//   - Versions (keyprovider.Describer): exactly one primary, enabled, and the
//     one Wrap reports; known statuses only; a cancelled context is honoured.
//   - Rewrap (keyprovider.Rewrapper): a rewrapped key unwraps to the same data
//     key with the same associated data only; other associated data fails
//     with keyprovider.ErrAuthentication; a tampered key fails; a cancelled
//     context is honoured.
//
// Calls into the provider are guarded: a panic is reported as a test
// failure naming the operation, not a crash of the test binary.
//
// # Fault injection
//
// Backends with a test fake that can inject faults also call [RunFaults],
// which drives the provider through keyprovider.NewClient and checks
// retries, permission failures, hangs against the caller's deadline and the
// circuit breaker, for Wrap and Unwrap. The fake only needs Inject,
// SetAlways and Calls ([Faults]); backend-specific faults go in
// FaultHarness.Extra:
//
//	func TestFaults(t *testing.T) {
//		providertest.RunFaults(t, providertest.FaultHarness[kmsfake.Fault]{
//			New: func(t *testing.T) (keyprovider.KeyProvider, providertest.Faults[kmsfake.Fault]) {
//				srv := kmsfake.Start(t)
//				return newProvider(t, srv), srv
//			},
//			Transient: map[string]kmsfake.Fault{"Unavailable": kmsfake.Unavailable},
//			Denied:    kmsfake.PermissionDenied,
//			Hang:      kmsfake.Hang,
//		})
//	}
//
// The client returns at the caller's deadline even when a backend ignores
// its context, so the Hang checks show that the pair of client and backend
// honours deadlines, not that the backend alone does; CancelledContext and
// ExpiredDeadline in [Run] check the backend alone.
package providertest
