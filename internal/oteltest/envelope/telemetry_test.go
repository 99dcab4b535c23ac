// Package envelope_test holds envelope's OpenTelemetry tests, which need
// the SDK and so live in this nested module.
package envelope_test

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/internal/oteltest"
	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/keyprovider/local"
	"github.com/fieldguard/pii/piitest"
	"github.com/stretchr/testify/require"
)

type Contact struct {
	Kind  string `pii:"-"`
	Phone string `pii:"phone,encrypt"`
}

type Address struct {
	Street string `pii:"address,encrypt"`
	City   string `pii:"-"`
}

// Customer is envelope's test struct (envelope/struct_test.go): the
// metrics name its type and fields.
type Customer struct {
	Tenant   string             `pii:"tenant"`
	ID       string             `pii:"id"`
	Subject  string             `pii:"subject"`
	Email    string             `pii:"email,encrypt=det,index=EmailIdx"`
	EmailIdx string             `pii:"-"`
	Name     string             `pii:"name,encrypt"`
	Note     *string            `pii:"free_text,encrypt"`
	Photo    []byte             `pii:"biometric,encrypt"`
	Address  Address            `pii:"dive"`
	Contacts []Contact          `pii:"dive"`
	Labels   map[string]Address `pii:"dive"`
	Plan     string             `pii:"-"`
}

func sampleCustomer() *Customer {
	note := "likes cats"
	return &Customer{
		Tenant: "acme", ID: "c-1", Subject: "alice",
		Email: "alice@example.com", Name: "Alice Liddell", Note: &note,
		Photo:    []byte{0xff, 0xd8, 0xff, 0xe0},
		Address:  Address{Street: "1 Rabbit Hole", City: "Oxford"},
		Contacts: []Contact{{Kind: "home", Phone: "+44 20 7946 0000"}, {Kind: "work", Phone: "+44 20 7946 0001"}},
		Labels:   map[string]Address{"old": {Street: "2 Looking Glass", City: "Oxford"}},
		Plan:     "gold",
	}
}

// newKP returns a local keyset provider in a temp dir. The master key is
// generated for the test and never leaves it.
func newKP(t *testing.T) *local.Provider {
	t.Helper()
	master, err := local.GenerateMasterKey()
	require.NoError(t, err)
	kp, err := local.Create(filepath.Join(t.TempDir(), "keyset.json"), master)
	require.NoError(t, err)
	return kp
}

// TestSealerTelemetry: encryptions and decryptions are counted by
// operation, type, field and format (failures by error class), key cache
// lookups by result, DEKs made by scope, key-management jobs have spans,
// the Sealer's KMS calls are reported by its Client; and no value,
// subject id, record id or key appears in any of it.
func TestSealerTelemetry(t *testing.T) {
	rec := oteltest.New(t)
	ctx := t.Context()
	s, err := envelope.New(newKP(t), &envelope.Options{
		Store: envelope.NewMemoryStore(), MeterProvider: rec.MeterProvider, TracerProvider: rec.TracerProvider,
	})
	require.NoError(t, err)

	c := sampleCustomer()
	require.NoError(t, s.Seal(ctx, c))
	sealed := *c
	require.NoError(t, s.Open(ctx, c))
	b := envelope.Binding{Tenant: "acme", Type: "Ticket", Field: "Body", Record: "t-42", Subject: "alice"}
	ct, err := s.EncryptString(ctx, "my card is 4111 1111 1111 1111", b)
	require.NoError(t, err)
	_, err = s.DecryptString(ctx, ct, b)
	require.NoError(t, err)
	wrong := b
	wrong.Record = "t-43"
	_, err = s.DecryptString(ctx, ct, wrong)
	require.ErrorIs(t, err, envelope.ErrDecrypt)
	require.NoError(t, s.ForgetSubject(ctx, "acme", "alice"))
	_, err = s.DecryptString(ctx, ct, b)
	require.ErrorIs(t, err, envelope.ErrShredded)
	_, err = s.EncryptString(ctx, "a returning customer", b) // a new key generation
	require.NoError(t, err)
	_, err = s.RotateBranchKey(ctx, "acme")
	require.NoError(t, err)
	_, err = s.RewrapDEKs(ctx, envelope.RewrapOptions{})
	require.NoError(t, err)
	_, err = s.RewrapBranchKeys(ctx, envelope.RewrapOptions{})
	require.NoError(t, err)

	in, err := envelope.New(newKP(t), &envelope.Options{Inline: true, MeterProvider: rec.MeterProvider, TracerProvider: rec.TracerProvider})
	require.NoError(t, err)
	ict, err := in.EncryptString(ctx, "inline value", b)
	require.NoError(t, err)
	_, err = in.DecryptString(ctx, ict, b)
	require.NoError(t, err)

	ops := "pii.envelope.operations"
	tests := []struct {
		metric string
		attrs  map[string]string
		want   float64
	}{
		{ops, map[string]string{"pii.operation": "encrypt", "pii.type": "Customer", "pii.field": "Name", "pii.format": "random"}, 1},
		{ops, map[string]string{"pii.operation": "encrypt", "pii.type": "Customer", "pii.field": "Contacts[].Phone", "pii.format": "random"}, 2},
		{ops, map[string]string{"pii.operation": "encrypt", "pii.type": "Customer", "pii.field": "Email", "pii.format": "deterministic"}, 1},
		{ops, map[string]string{"pii.operation": "decrypt", "pii.type": "Customer", "pii.field": "Email", "pii.format": "deterministic"}, 1},
		{ops, map[string]string{"pii.operation": "decrypt", "pii.type": "Customer", "pii.field": "Photo", "pii.format": "random"}, 1},
		{ops, map[string]string{"pii.operation": "decrypt", "pii.type": "Ticket", "pii.field": "Body", "error.type": "decrypt_failed"}, 1},
		{ops, map[string]string{"pii.operation": "decrypt", "pii.type": "Ticket", "pii.field": "Body", "error.type": "shredded"}, 1},
		{ops, map[string]string{"pii.operation": "encrypt", "pii.type": "Ticket", "pii.format": "inline"}, 1},
		{ops, map[string]string{"pii.operation": "decrypt", "pii.type": "Ticket", "pii.format": "inline"}, 1},
		{"pii.envelope.deks.created", map[string]string{"pii.key.scope": "subject"}, 2},
		{"pii.envelope.deks.created", map[string]string{"pii.key.scope": "inline"}, 1},
		{"pii.envelope.key_cache.lookups", map[string]string{"pii.cache.result": "miss"}, 0},
		{"pii.kms.calls", map[string]string{"pii.kms.backend": "local", "pii.kms.operation": "wrap"}, 0},
	}
	for _, tt := range tests {
		got := rec.Sum(t, tt.metric, tt.attrs)
		if tt.want == 0 {
			require.Positive(t, got, "%s %v", tt.metric, tt.attrs)
			continue
		}
		require.Equal(t, tt.want, got, "%s %v", tt.metric, tt.attrs)
	}
	hits := rec.Sum(t, "pii.envelope.key_cache.lookups", map[string]string{"pii.cache.result": "hit"})
	require.Positive(t, hits, "the fields of one record share a DEK: all but the first lookup hit")

	for _, name := range []string{"rotate_branch_key", "rewrap_deks", "rewrap_branch_keys", "forget_subject"} {
		spans := rec.Spans("pii.envelope." + name)
		require.Len(t, spans, 1, name)
	}
	rw := oteltest.SpanAttrs(rec.Spans("pii.envelope.rewrap_deks")[0])
	require.Equal(t, "1", rw["pii.rewrap.scanned"], "the new generation's DEK: %v", rw)
	require.Equal(t, "1", rw["pii.rewrap.rewrapped"], "%v", rw)
	require.NotEmpty(t, rec.Spans("pii.kms.wrap"))

	rec.RequireClean(t, "alice", "Alice Liddell", "likes cats", "Rabbit Hole", "7946", "4111", "t-42", "c-1", "acme",
		"inline value", "returning", sealed.Name, sealed.Email, ct[5:20])
}

// TestTelemetryLetsTheSealerGo: the observable instruments' callback does
// not keep a Sealer alive, and is unregistered once it is collected.
func TestTelemetryLetsTheSealerGo(t *testing.T) {
	rec := oteltest.New(t)
	func() {
		s, err := envelope.New(newKP(t), &envelope.Options{Store: envelope.NewMemoryStore(), MeterProvider: rec.MeterProvider})
		require.NoError(t, err)
		_, err = s.EncryptString(t.Context(), "v", envelope.Binding{Type: "T", Field: "F"})
		require.NoError(t, err)
	}()
	require.Equal(t, 1.0, rec.Sum(t, "pii.envelope.operations", map[string]string{"pii.type": "T"}))
	gone := false
	for range 200 {
		runtime.GC()
		gone = true
		for _, p := range rec.Collect(t) {
			if p.Metric == "pii.envelope.operations" {
				gone = false
			}
		}
		if gone {
			break
		}
		runtime.Gosched()
	}
	require.True(t, gone, "the Sealer's callback still reports after it was collected")
}

// downKP is a key provider that fails every call with ErrUnavailable
// while down.
type downKP struct {
	keyprovider.KeyProvider
	down atomic.Bool
}

var errDown = errors.New("test: key provider down")

func (d *downKP) Wrap(ctx context.Context, dataKey, ad []byte) ([]byte, keyprovider.KeyID, error) {
	if d.down.Load() {
		return nil, keyprovider.KeyID{}, keyprovider.Classify("wrap", keyprovider.ErrUnavailable, errDown)
	}
	return d.KeyProvider.Wrap(ctx, dataKey, ad)
}

func (d *downKP) Unwrap(ctx context.Context, wrapped, ad []byte) ([]byte, error) {
	if d.down.Load() {
		return nil, keyprovider.Classify("unwrap", keyprovider.ErrUnavailable, errDown)
	}
	return d.KeyProvider.Unwrap(ctx, wrapped, ad)
}

// TestKeyCacheTelemetry: keys dropped to keep the cache under MaxEntries
// are counted (pii.envelope.key_cache.evictions), and so are decryptions
// served by an expired key during a key provider outage
// (pii.envelope.key_cache.stale_served); neither before it happens.
func TestKeyCacheTelemetry(t *testing.T) {
	rec := oteltest.New(t)
	ctx := t.Context()
	kp := &downKP{KeyProvider: newKP(t)}
	client := keyprovider.NewClient(kp, &keyprovider.ClientOptions{MaxAttempts: 1, BreakerThreshold: -1})
	clk := piitest.NewClock(time.Now())
	s, err := envelope.New(client, &envelope.Options{
		Store: envelope.NewMemoryStore(), Clock: clk, OutageGrace: 5 * time.Minute,
		Cache:         envelope.CacheLimits{MaxEntries: 2, MaxAge: time.Minute},
		MeterProvider: rec.MeterProvider, TracerProvider: rec.TracerProvider,
	})
	require.NoError(t, err)
	tenant := envelope.Binding{Tenant: "acme", Type: "Order", Field: "Address", Record: "o-1"} // the tenant's keys
	ct, err := s.EncryptString(ctx, "1 Rabbit Hole", tenant)
	require.NoError(t, err)
	_, err = s.DecryptString(ctx, ct, tenant)
	require.NoError(t, err)
	require.Zero(t, rec.Sum(t, "pii.envelope.key_cache.evictions", nil))
	require.Zero(t, rec.Sum(t, "pii.envelope.key_cache.stale_served", nil))

	kp.down.Store(true)
	clk.Add(3 * time.Minute) // past MaxAge, within MaxAge+OutageGrace
	pt, err := s.DecryptString(ctx, ct, tenant)
	require.NoError(t, err, "served by the expired key during the outage")
	require.Equal(t, "1 Rabbit Hole", pt)
	require.Positive(t, rec.Sum(t, "pii.envelope.key_cache.stale_served", nil))
	kp.down.Store(false)

	for i := range 10 {
		b := envelope.Binding{Tenant: "acme", Type: "Order", Field: "Address", Record: "o-1", Subject: strconv.Itoa(i)}
		_, err := s.EncryptString(ctx, "v", b)
		require.NoError(t, err)
	}
	require.Positive(t, rec.Sum(t, "pii.envelope.key_cache.evictions", nil))
}
