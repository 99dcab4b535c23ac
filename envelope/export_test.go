package envelope

import "time"

// SetNonceHook makes s fill nonces with fn (frozen test vectors only).
func SetNonceHook(s *Sealer, fn func([]byte)) { s.nonceHook = fn }

// SetClock replaces s's clock.
func SetClock(s *Sealer, now func() time.Time) { s.now, s.testNow = now, now }

// InstallDEK puts a raw DEK in s's cache as (tenant, subject, id).
func InstallDEK(s *Sealer, tenant, subject string, id uint32, raw []byte) {
	e, err := s.newDEKEntry(dekRef{tenant, subject, id}, append([]byte(nil), raw...), s.clock(), s.now())
	if err != nil {
		panic(err)
	}
	s.installDEK(e, true)
}

// InstallSearchRoot puts a raw search root key in s's cache for tenant.
func InstallSearchRoot(s *Sealer, tenant string, raw []byte) {
	s.mu.Lock()
	s.roots[tenant] = &rootEntry{tenant: tenant, key: newSecret(append([]byte(nil), raw...)), loaded: s.clock()}
	s.mu.Unlock()
}

// NewGCM and NewSIV expose the lowest-level primitives to the vector tests.
var (
	NewGCM = newGCM
	NewSIV = newSIV
)
