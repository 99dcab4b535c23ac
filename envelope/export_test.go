package envelope

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	"github.com/fieldguard/pii/envelope/internal/format"
)

// SetNonceHook makes s fill nonces with fn (frozen test vectors only).
func SetNonceHook(s *Sealer, fn func([]byte)) { s.nonceHook = fn }

// InstallDEK puts a raw DEK in s's cache as (tenant, subject, id).
func InstallDEK(s *Sealer, tenant, subject string, id uint32, raw []byte) {
	e, err := s.newDEKEntry(dekRef{tenant, subject, id}, append([]byte(nil), raw...), s.clock(), s.now())
	if err != nil {
		panic(err)
	}
	s.installDEK(&s.keyCache, e, true, s.forgetEpoch(scopeRef{tenant, subject}))
}

// InstallSearchRoot puts a raw search root key in s's cache for tenant.
func InstallSearchRoot(s *Sealer, tenant string, raw []byte) {
	s.mu.Lock()
	s.roots[rootRef{tenant, 1}] = &rootEntry{tenant: tenant, version: 1, key: newSecret(append([]byte(nil), raw...)), loaded: s.clock()}
	s.mu.Unlock()
}

// NewGCM and NewSIV expose the lowest-level primitives to the vector tests.
var (
	NewGCM = newGCM
	NewSIV = newSIV
)

// CheckSecretRedaction prints the internal secret type every way.
func CheckSecretRedaction(t interface {
	Helper()
	Fatalf(string, ...any)
}) {
	t.Helper()
	k := newSecret([]byte("KEYBYTES-KEYBYTES"))
	e := &dekEntry{key: k}
	r := &rootEntry{key: k}
	for _, v := range []any{k, &k, e, r, *r, k.get, []any{k}, struct{ k secret }{k}, struct{ e *dekEntry }{e}} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%8.3v", "%t", "%p", "%e", "%o", "%b", "%c", "%U"} {
			out := fmt.Sprintf(verb, v)
			if strings.Contains(out, "KEYBYTES") || strings.Contains(out, "4b455942595445") || strings.Contains(out, "75 69 89") || strings.Contains(out, "[75") {
				t.Fatalf("secret leaked under %s: %s", verb, out)
			}
		}
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("m", "k", k, "e", e)
	j, _ := json.Marshal(struct{ K secret }{k})
	if strings.Contains(buf.String()+string(j), "KEYBYTES") {
		t.Fatalf("secret leaked to slog or json")
	}
}

// FieldAD exposes the associated data of a value for the spec tests.
func FieldAD(v byte, id uint32, b Binding) []byte {
	return appendFieldAD(nil, format.Version(v), id, &b)
}

// SetTestHook makes s call fn at named points of its key lookups
// ("enc:install", "enc:reserve", "inline:reserve", "dec:install",
// "forget:purge").
func SetTestHook(s *Sealer, fn func(point string)) { s.testHook = fn }

// BlindIndex (tests only) returns the keyed blind index of value for field of the type
// typ (a struct value, a pointer to one, nil pointers included, or its
// reflect.Type, as pii.SchemaOf takes) under tenant: HMAC-SHA256 under a
// key derived from the tenant's search root, truncated to
// Options.IndexBytes, base64url without padding, exactly what Seal writes
// now to the field's index companion (under the search key version writes
// use; BlindIndexes gives every version lookups must match). Equal values
// give equal indexes within a tenant's field and nowhere else. field is
// the schema path ("Contacts[].Email"). A field without the `index` option
// is an error, not an index nobody will ever match.
func (s *Sealer) BlindIndex(ctx context.Context, tenant string, typ any, field, value string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	sc, f, err := lookupField("BlindIndex", typ, field)
	if err != nil {
		return "", err
	}
	in, err := lookupInput("BlindIndex", sc, f, []string{value})
	if err != nil {
		return "", err
	}
	sum, err := s.blindIndex(ctx, tenant, sc.Name, f.Path, indexDesc(f.Opts), in)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

// LookupDeterministic (tests only) returns the text form Seal stores now for value in
// the encrypt=det string field of the type typ (as BlindIndexes takes it) under
// tenant, for equality queries (WHERE email = ?): equal values seal
// equally within a tenant's field. A field that is not encrypt=det, or is
// a []byte field (Seal stores the binary form there: use
// EncryptDeterministicBytes with its Binding), is an error.
func (s *Sealer) LookupDeterministic(ctx context.Context, tenant string, typ any, field, value string) (string, error) {
	sc, f, err := detField("LookupDeterministic", typ, field)
	if err != nil {
		return "", err
	}
	// EncryptDeterministic checks ctx.
	return s.EncryptDeterministic(ctx, f.Opts.Norm.Apply(value), Binding{Tenant: tenant, Type: sc.Name, Field: f.Path})
}

// CachedScope reports whether s's shared cache holds a DEK of (tenant,
// subject).
func CachedScope(s *Sealer, tenant, subject string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for ref := range s.deks.m {
		if ref.tenant == tenant && ref.subject == subject {
			return true
		}
	}
	return false
}

// CacheSizes returns the number of DEKs in s's shared cache and of entries
// in its eviction queue (live and dropped).
func CacheSizes(s *Sealer) (cached, queued int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.deks.len(), len(s.evictQ.q) - s.evictQ.head
}
