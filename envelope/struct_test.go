package envelope_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope"
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

func TestSealOpenStruct(t *testing.T) {
	ctx := context.Background()
	for _, inline := range []bool{false, true} {
		s, err := envelope.New(newKP(), &envelope.Options{Store: envelope.NewMemoryStore(), Inline: inline})
		require.NoError(t, err)
		c := sampleCustomer()
		want := sampleCustomer()
		require.NoError(t, s.Seal(ctx, c))

		require.True(t, envelope.IsSealed(c.Email))
		require.Contains(t, c.Email, "pii3.")
		require.True(t, envelope.IsSealed(c.Name))
		require.True(t, envelope.IsSealed(*c.Note))
		require.True(t, envelope.IsSealed(c.Address.Street))
		require.True(t, envelope.IsSealed(c.Contacts[1].Phone))
		require.True(t, envelope.IsSealed(c.Labels["old"].Street))
		if !inline {
			require.Len(t, c.Photo, 4+48, "binary form, 48 bytes of overhead")
		}
		require.Equal(t, "Oxford", c.Address.City)
		require.Equal(t, "gold", c.Plan)
		idx, err := s.BlindIndex(ctx, "acme", (*Customer)(nil), "Email", "alice@example.com")
		require.NoError(t, err)
		require.Equal(t, idx, c.EmailIdx)

		// Sealing again is a no-op.
		sealed := *c
		require.NoError(t, s.Seal(ctx, c))
		require.Equal(t, sealed.Name, c.Name)
		require.Equal(t, sealed.Photo, c.Photo)
		require.Equal(t, sealed.Contacts[0].Phone, c.Contacts[0].Phone)

		require.NoError(t, s.Open(ctx, c))
		want.EmailIdx = idx
		require.Equal(t, want, c)
	}
}

func TestDeterministicEqualAcrossSubjects(t *testing.T) {
	ctx := context.Background()
	s, err := envelope.New(newKP(), &envelope.Options{Store: envelope.NewMemoryStore()})
	require.NoError(t, err)
	a, b := sampleCustomer(), sampleCustomer()
	b.ID, b.Subject = "c-2", "bob"
	require.NoError(t, s.Seal(ctx, a))
	require.NoError(t, s.Seal(ctx, b))
	require.Equal(t, a.Email, b.Email, "det values are equal within the tenant's field")
	require.Equal(t, a.EmailIdx, b.EmailIdx)
	require.NotEqual(t, a.Name, b.Name)
	c := sampleCustomer()
	c.Tenant = "globex"
	require.NoError(t, s.Seal(ctx, c))
	require.NotEqual(t, a.Email, c.Email, "not across tenants")
	require.NotEqual(t, a.EmailIdx, c.EmailIdx)
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	s, err := envelope.New(newKP(), &envelope.Options{Store: envelope.NewMemoryStore()})
	require.NoError(t, err)

	c := sampleCustomer()
	err = s.Open(ctx, c)
	require.ErrorIs(t, err, envelope.ErrNotSealed)
	var fe *pii.FieldError
	require.True(t, errors.As(err, &fe))
	require.Equal(t, "Email", fe.Path)
	require.NotContains(t, err.Error(), "alice@example.com")

	mig, err := envelope.New(newKP(), &envelope.Options{Store: envelope.NewMemoryStore(), AllowPlaintext: true})
	require.NoError(t, err)
	c = sampleCustomer()
	require.NoError(t, mig.Open(ctx, c))
	require.Equal(t, sampleCustomer(), c)

	// A value moved to another record fails, naming the field.
	a, b := sampleCustomer(), sampleCustomer()
	b.ID = "c-2"
	require.NoError(t, s.Seal(ctx, a))
	require.NoError(t, s.Seal(ctx, b))
	b.Contacts[1].Phone = a.Contacts[1].Phone
	err = s.Open(ctx, b)
	require.ErrorIs(t, err, envelope.ErrDecrypt)
	require.True(t, errors.As(err, &fe))
	require.Equal(t, "Contacts[1].Phone", fe.Path)
	require.Contains(t, err.Error(), "Customer.Contacts[1].Phone")
}

func TestSealReencryptsLookalikes(t *testing.T) {
	ctx := context.Background()
	s, err := envelope.New(newKP(), &envelope.Options{Store: envelope.NewMemoryStore()})
	require.NoError(t, err)
	a := sampleCustomer()
	require.NoError(t, s.Seal(ctx, a))
	// A sealed value of another record looks sealed but does not open here:
	// Seal encrypts it rather than trusting its prefix.
	b := sampleCustomer()
	b.ID = "c-2"
	b.Name = a.Name
	require.NoError(t, s.Seal(ctx, b))
	require.NotEqual(t, a.Name, b.Name)
	require.NoError(t, s.Open(ctx, b))
	require.Equal(t, a.Name, b.Name, "the lookalike was kept as data")
}

func TestReadCheck(t *testing.T) {
	ctx := context.Background()
	expired := errors.New("retention: expired")
	var seen []string
	s, err := envelope.New(newKP(), &envelope.Options{
		Store: envelope.NewMemoryStore(),
		ReadCheck: func(_ context.Context, sc *pii.Schema, f *pii.Field, ptr any) error {
			seen = append(seen, f.Path)
			if f.Path == "Name" {
				return expired
			}
			return nil
		},
	})
	require.NoError(t, err)
	c := sampleCustomer()
	require.NoError(t, s.Seal(ctx, c))
	err = s.Open(ctx, c)
	require.ErrorIs(t, err, expired)
	require.Contains(t, err.Error(), "Name")
	require.Equal(t, "", c.Name, "the field is zeroed")
	require.Equal(t, []string{"Email", "Name"}, seen)
}

func TestForgetSubject(t *testing.T) {
	ctx := context.Background()
	kp := newKP()
	store := envelope.NewMemoryStore()
	s, err := envelope.New(kp, &envelope.Options{Store: store})
	require.NoError(t, err)
	other, err := envelope.New(kp, &envelope.Options{Store: store})
	require.NoError(t, err)
	alice, bob := sampleCustomer(), sampleCustomer()
	bob.ID, bob.Subject = "c-2", "bob"
	require.NoError(t, s.Seal(ctx, alice))
	require.NoError(t, s.Seal(ctx, bob))
	// Another process warms its cache with alice's key.
	warm := *alice
	warm.Contacts = append([]Contact(nil), alice.Contacts...)
	warm.Labels = map[string]Address{"old": alice.Labels["old"]}
	note := *alice.Note
	warm.Note = &note
	require.NoError(t, other.Open(ctx, &warm))

	var f interface {
		ForgetSubject(ctx context.Context, tenant, subject string) error
	} = s
	require.NoError(t, f.ForgetSubject(ctx, "acme", "alice"))

	_, err = s.DecryptString(ctx, alice.Name, envelope.Binding{Tenant: "acme", Type: "Customer", Field: "Name", Record: "c-1", Subject: "alice"})
	require.ErrorIs(t, err, envelope.ErrShredded)
	require.NotErrorIs(t, err, envelope.ErrDecrypt)
	cp := *alice
	err = s.Open(ctx, &cp)
	require.ErrorIs(t, err, envelope.ErrShredded, "det Email opens (tenant key); Name is shredded")
	require.NoError(t, s.Open(ctx, bob), "other subjects are untouched")

	// New values of a forgotten subject seal under a new key generation.
	again := sampleCustomer()
	require.NoError(t, s.Seal(ctx, again))
	require.NoError(t, s.Open(ctx, again))
	cp = *alice
	require.ErrorIs(t, s.Open(ctx, &cp), envelope.ErrShredded, "old values stay shredded")

	// The other process still decrypts from its cache until MaxAge ...
	_, err = other.DecryptString(ctx, alice.Name, envelope.Binding{Tenant: "acme", Type: "Customer", Field: "Name", Record: "c-1", Subject: "alice"})
	require.NoError(t, err)
}

// TestForgetBoundByMaxAge: another process's cached key of a forgotten
// subject is refused after the shorter of Cache.ShredCheck and MaxAge.
func TestForgetBoundByMaxAge(t *testing.T) {
	for _, tt := range []struct {
		name  string
		cache envelope.CacheLimits
	}{
		{"ShredCheck", envelope.CacheLimits{ShredCheck: time.Minute}},
		{"MaxAge", envelope.CacheLimits{MaxAge: time.Minute, ShredCheck: time.Hour}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			kp := newKP()
			store := envelope.NewMemoryStore()
			s, err := envelope.New(kp, &envelope.Options{Store: store})
			require.NoError(t, err)
			clk := piitest.NewClock(time.Now())
			other, err := envelope.New(kp, &envelope.Options{Clock: clk, Store: store, Cache: tt.cache})
			require.NoError(t, err)
			b := envelope.Binding{Tenant: "acme", Type: "T", Field: "F", Record: "r", Subject: "alice"}
			ct, err := s.EncryptString(ctx, "v", b)
			require.NoError(t, err)
			_, err = other.DecryptString(ctx, ct, b)
			require.NoError(t, err)
			require.NoError(t, s.ForgetSubject(ctx, "acme", "alice"))
			clk.Add(59 * time.Second)
			_, err = other.DecryptString(ctx, ct, b)
			require.NoError(t, err, "within the bound the other cache still decrypts")
			clk.Add(2 * time.Second)
			_, err = other.DecryptString(ctx, ct, b)
			require.ErrorIs(t, err, envelope.ErrShredded, "after the bound it finds the tombstone")
		})
	}
}

func ExampleSealer_Seal() {
	type Customer struct {
		ID    string `pii:"subject"`
		Email string `pii:"email,encrypt"`
		Plan  string `pii:"-"`
	}
	ctx := context.Background()
	// testkp is an in-memory test KEK; use a real keyprovider in production.
	s, err := envelope.New(newKP(), &envelope.Options{Store: envelope.NewMemoryStore()})
	if err != nil {
		panic(err)
	}
	c := &Customer{ID: "c-1", Email: "alice@example.com", Plan: "gold"}
	if err := s.Seal(ctx, c); err != nil {
		panic(err)
	}
	fmt.Println(envelope.IsSealed(c.Email), len(c.Email) > len("alice@example.com"), c.Plan)
	if err := s.Open(ctx, c); err != nil {
		panic(err)
	}
	fmt.Println(c.Email)
	// Output:
	// true true gold
	// alice@example.com
}

func TestSealBytesLookalikeIsEncrypted(t *testing.T) {
	ctx := context.Background()
	s, err := envelope.New(newKP(), &envelope.Options{Store: envelope.NewMemoryStore()})
	require.NoError(t, err)
	// A plaintext blob that parses as a v1 ciphertext must still be sealed.
	blob := append([]byte{1, 0, 0, 1}, make([]byte, 60)...)
	c := sampleCustomer()
	c.Photo = append([]byte(nil), blob...)
	require.NoError(t, s.Seal(ctx, c))
	require.Len(t, c.Photo, len(blob)+48)
	require.NoError(t, s.Open(ctx, c))
	require.Equal(t, blob, c.Photo)
}
