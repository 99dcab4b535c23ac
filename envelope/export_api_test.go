package envelope

import "context"

// What this file exports for the tests was public API once; the tests
// keep using it under its old name.

// EncryptDeterministic (tests only) is what Seal stores for an encrypt=det
// string field bound to b, under the version writes use.
func (s *Sealer) EncryptDeterministic(ctx context.Context, plaintext string, b Binding) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	bin, err := s.sealDet(ctx, []byte(plaintext), &b)
	if err != nil {
		return "", err
	}
	return textOf(bin), nil
}

// KindSearchState (tests only) is the kind of the search key rotation's
// step records.
const KindSearchState = kindSearchState

// Stats (tests only) are the Sealer's counters since New.
type Stats struct {
	Wraps, Unwraps uint64 // key provider calls
	CacheMisses    uint64 // key lookups that left the hot path
	StaleServed    uint64 // decrypts served by expired keys during a key provider outage
	Evictions      uint64
}

// Stats (tests only) returns the Sealer's counters, which its telemetry
// reports.
func (s *Sealer) Stats() Stats {
	return Stats{
		Wraps: s.st.wraps.Load(), Unwraps: s.st.unwraps.Load(),
		CacheMisses: s.st.misses.Load(),
		StaleServed: s.st.stale.Load(), Evictions: s.st.evictions.Load(),
	}
}
