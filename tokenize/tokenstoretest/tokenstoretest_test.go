package tokenstoretest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/tokenize"
)

// flaws switch on one deliberate bug each in the reference store.
type flaws struct {
	deleteIgnoresTenant  bool // DeleteSubject matches the subject id in every tenant
	deleteIgnoresSubject bool // DeleteSubject deletes the whole tenant
	deleteCountsZero     bool // DeleteSubject and DeleteExpired report 0 rows
	getReturnsLastPut    bool // Get returns the last row put whatever the token (another subject's row)
	findIgnoresLookup    bool // Find returns the newest live row whatever its lookup
	findPrefix           bool // Find matches a lookup that starts with the one asked for
	findOldest           bool // Find returns the oldest live row of the lookup
	putOverwrites        bool // Put replaces the row of a taken token
	expiryInclusive      bool // a row is still live at its expiry instant
	noExpiry             bool // Get and Find ignore Expires
	deleteExpiredAll     bool // DeleteExpired also deletes rows without expiry
	keepsCaller          bool // Put keeps the caller's record, Get returns the stored one
	dropsCreated         bool // Created is not kept
	racyPut              bool // Put checks and inserts under two locks
	leaksToken           bool // the not-found error names the token
}

// refStore is a minimal correct TokenStore unless a flaw is set.
type refStore struct {
	f    flaws
	mu   sync.Mutex
	rows []*tokenize.Record
	last *tokenize.Record
}

func (s *refStore) live(r *tokenize.Record, now time.Time) bool {
	switch {
	case s.f.noExpiry, r.Expires.IsZero():
		return true
	case s.f.expiryInclusive:
		return !now.After(r.Expires)
	}
	return now.Before(r.Expires)
}

func (s *refStore) out(r *tokenize.Record) *tokenize.Record {
	if s.f.keepsCaller {
		return r
	}
	return clone(r)
}

func (s *refStore) notFound(token string) error {
	if s.f.leaksToken {
		return fmt.Errorf("ref: token %s: %w", token, tokenize.ErrNotFound)
	}
	return tokenize.ErrNotFound
}

func (s *refStore) Put(_ context.Context, r *tokenize.Record) error {
	if s.f.racyPut {
		s.mu.Lock()
		taken := s.index(r.Token) >= 0
		s.mu.Unlock()
		if taken {
			return tokenize.ErrTokenExists
		}
		time.Sleep(time.Millisecond) // widen the window the flaw opens
		s.mu.Lock()
		defer s.mu.Unlock()
		s.rows = append(s.rows, clone(r))
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	stored := clone(r)
	if s.f.keepsCaller {
		stored = r
	}
	if s.f.dropsCreated {
		stored.Created = time.Time{}
	}
	if i := s.index(r.Token); i >= 0 {
		if !s.f.putOverwrites {
			return tokenize.ErrTokenExists
		}
		s.rows[i] = stored
		return nil
	}
	s.rows = append(s.rows, stored)
	s.last = stored
	return nil
}

func (s *refStore) index(token string) int {
	for i, r := range s.rows {
		if r.Token == token {
			return i
		}
	}
	return -1
}

func (s *refStore) Get(_ context.Context, token string, now time.Time) (*tokenize.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f.getReturnsLastPut && s.last != nil && s.index(token) >= 0 {
		return s.out(s.last), nil
	}
	if i := s.index(token); i >= 0 && s.live(s.rows[i], now) {
		return s.out(s.rows[i]), nil
	}
	return nil, s.notFound(token)
}

func (s *refStore) Find(_ context.Context, lookup []byte, now time.Time) (*tokenize.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var best *tokenize.Record
	for _, r := range s.rows {
		match := bytes.Equal(r.Lookup, lookup) || s.f.findIgnoresLookup || (s.f.findPrefix && bytes.HasPrefix(r.Lookup, lookup))
		if !match || !s.live(r, now) {
			continue
		}
		if best == nil || (!s.f.findOldest && r.Created.After(best.Created)) || (s.f.findOldest && r.Created.Before(best.Created)) {
			best = r
		}
	}
	if best == nil {
		return nil, tokenize.ErrNotFound
	}
	return s.out(best), nil
}

func (s *refStore) deleteWhere(match func(*tokenize.Record) bool) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	kept := s.rows[:0]
	for _, r := range s.rows {
		if match(r) {
			n++
			continue
		}
		kept = append(kept, r)
	}
	s.rows = kept
	if s.f.deleteCountsZero {
		return 0
	}
	return n
}

func (s *refStore) DeleteSubject(_ context.Context, tenant, subject string) (int64, error) {
	return s.deleteWhere(func(r *tokenize.Record) bool {
		switch {
		case s.f.deleteIgnoresTenant:
			return r.Subject == subject
		case s.f.deleteIgnoresSubject:
			return r.Tenant == tenant
		}
		return r.Tenant == tenant && r.Subject == subject
	}), nil
}

func (s *refStore) DeleteExpired(_ context.Context, now time.Time) (int64, error) {
	return s.deleteWhere(func(r *tokenize.Record) bool {
		if r.Expires.IsZero() {
			return s.f.deleteExpiredAll
		}
		return !now.Before(r.Expires)
	}), nil
}

func newRef(f flaws) func(t *testing.T) tokenize.TokenStore {
	return func(*testing.T) tokenize.TokenStore { return &refStore{f: f} }
}

func TestReferenceStoreConforms(t *testing.T) {
	Run(t, newRef(flaws{}))
}

// TestChecksCatchBrokenStores runs each check against a store with one
// deliberate flaw, and against the correct reference, so a check that
// passes everything cannot hide here.
func TestChecksCatchBrokenStores(t *testing.T) {
	tests := []struct {
		name  string
		flaws flaws
		check string
		want  string
	}{
		{"DeleteSubject ignores the tenant", flaws{deleteIgnoresTenant: true}, "DeleteSubject", "kept row 1 (another tenant's or subject's): Get"},
		{"DeleteSubject ignores the tenant: two tenants", flaws{deleteIgnoresTenant: true}, "TwoTenantsSharingSubjectID", "want 1 row, got 2"},
		{"DeleteSubject ignores the subject", flaws{deleteIgnoresSubject: true}, "DeleteSubject", "kept row 2 (another tenant's or subject's): Get"},
		{"DeleteSubject ignores the subject: two subjects", flaws{deleteIgnoresSubject: true}, "TwoSubjectsSharingValue", "want 1 row, got 2"},
		{"DeleteSubject miscounts", flaws{deleteCountsZero: true}, "DeleteSubject", "with 2 rows returned 0"},
		{"DeleteExpired miscounts", flaws{deleteCountsZero: true}, "DeleteExpired", "with 3 expired rows returned 0"},
		{"Get returns another subject's row", flaws{getReturnsLastPut: true}, "RowSubstitution", "Token (another token's row)"},
		{"Get returns another subject's row: put and get", flaws{getReturnsLastPut: true}, "PutGet", "Token (another token's row)"},
		{"Find ignores the lookup", flaws{findIgnoresLookup: true}, "FindNewest", "an unknown lookup: Find returned a row"},
		{"Find ignores the lookup: neighbours", flaws{findIgnoresLookup: true}, "RowSubstitution", "Find returned a row that differs"},
		{"Find matches a prefix", flaws{findPrefix: true}, "FindNewest", "a prefix of a stored lookup: Find returned a row"},
		{"Find returns the oldest row", flaws{findOldest: true}, "FindNewest", "the newest live row of a lookup: Find returned a row that differs"},
		{"Put overwrites a taken token", flaws{putOverwrites: true}, "TokenExists", "want an error matching tokenize.ErrTokenExists"},
		{"Put overwrites a taken token: race", flaws{putOverwrites: true}, "Concurrent", "both succeeded"},
		{"expiry instant still live", flaws{expiryInclusive: true}, "Expiry", "a record at its expiry: Get returned a row"},
		{"expiry instant still live: tokenizer", flaws{expiryInclusive: true}, "TokenizerRoundTrip", "a token at its expiry"},
		{"no expiry", flaws{noExpiry: true}, "Expiry", "an expired record: Get returned a row"},
		{"DeleteExpired deletes rows without expiry", flaws{deleteExpiredAll: true}, "DeleteExpired", "live row 2 after DeleteExpired: Get"},
		{"keeps the caller's record", flaws{keepsCaller: true}, "NoAliasing", "a record changed by the caller after Put"},
		{"drops Created", flaws{dropsCreated: true}, "PutGet", "Created ("},
		{"racy Put", flaws{racyPut: true}, "Concurrent", "both succeeded"},
		{"names the token in an error", flaws{leaksToken: true}, "NoTokensInErrors", "an error contains a token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := runCheck(t.Context(), tt.check, &refStore{f: tt.flaws})
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
			require.NoError(t, runCheck(t.Context(), tt.check, &refStore{}), "the correct reference must pass %s", tt.check)
		})
	}
}

func TestEveryCheckIsExercised(t *testing.T) {
	require.Len(t, checks, 13)
	seen := map[string]bool{}
	for _, c := range checks {
		require.False(t, seen[c.name], "duplicate check %s", c.name)
		seen[c.name] = true
	}
	require.Error(t, runCheck(t.Context(), "NoSuchCheck", &refStore{}))
}

// panicStore panics in every method: the suite reports it and goes on.
type panicStore struct{ tokenize.TokenStore }

func (panicStore) Put(context.Context, *tokenize.Record) error { panic("boom") }

func TestPanicsAreReported(t *testing.T) {
	err := runCheck(t.Context(), "PutGet", panicStore{})
	require.ErrorIs(t, err, errPanic)
}

// TestRunFailsOnBrokenStore runs the whole suite, in a child process,
// against a store that ignores the tenant in DeleteSubject, and checks
// that Run fails the subtests that should catch it and passes the others.
func TestRunFailsOnBrokenStore(t *testing.T) {
	if os.Getenv("TOKENSTORETEST_BROKEN_CHILD") == "1" {
		Run(t, newRef(flaws{deleteIgnoresTenant: true}))
		return
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestRunFailsOnBrokenStore$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "TOKENSTORETEST_BROKEN_CHILD=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "the suite must fail a store that ignores the tenant; output:\n%s", out)
	require.Contains(t, string(out), "--- FAIL: TestRunFailsOnBrokenStore/DeleteSubject")
	require.Contains(t, string(out), "--- FAIL: TestRunFailsOnBrokenStore/TwoTenantsSharingSubjectID")
	require.Contains(t, string(out), "--- PASS: TestRunFailsOnBrokenStore/PutGet")
	require.Contains(t, string(out), "--- PASS: TestRunFailsOnBrokenStore/TwoSubjectsSharingValue")
}
