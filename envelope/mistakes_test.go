package envelope_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope"
	"github.com/stretchr/testify/require"
)

// Note has no subject field: its values use the tenant's keys.
type Note struct {
	Tenant string `pii:"tenant"`
	ID     string `pii:"id"`
	Text   string `pii:"free_text,encrypt"`
}

// Member has a subject field and no id field.
type Member struct {
	Subject string `pii:"subject"`
	Name    string `pii:"name,encrypt"`
	Code    []byte `pii:"national_id,encrypt=det"`
}

func TestSealEmptySubjectFails(t *testing.T) {
	ctx := context.Background()
	for _, inline := range []bool{false, true} {
		s, err := envelope.New(newKP(), &envelope.Options{Store: envelope.NewMemoryStore(), Inline: inline})
		require.NoError(t, err)
		c := sampleCustomer()
		c.Subject = ""
		want := sampleCustomer()
		want.Subject = ""
		err = s.Seal(ctx, c)
		require.ErrorIs(t, err, envelope.ErrEmptySubject)
		var fe *pii.FieldError
		require.True(t, errors.As(err, &fe))
		require.Equal(t, "Customer", fe.Type)
		require.Equal(t, "Subject", fe.Path)
		require.Contains(t, err.Error(), "Customer.Subject")
		require.Equal(t, want, c, "nothing was sealed")
		// A record with nothing to seal is fine.
		require.NoError(t, s.Seal(ctx, &Customer{Tenant: "acme", ID: "c-9"}))
		// A type without a subject field uses the tenant's keys.
		n := &Note{Tenant: "acme", ID: "n-1", Text: "call back"}
		require.NoError(t, s.Seal(ctx, n))
		require.True(t, envelope.IsSealed(n.Text))
		require.NoError(t, s.Open(ctx, n))
		require.Equal(t, "call back", n.Text)
	}
}

func TestBlindIndexNeedsIndexOption(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestSealerT(t)
	c := sampleCustomer()
	require.NoError(t, s.Seal(ctx, c))
	for _, typ := range []any{(*Customer)(nil), Customer{}, &Customer{}} {
		ix, err := s.BlindIndex(ctx, "acme", typ, "Email", "alice@example.com")
		require.NoError(t, err)
		require.Equal(t, c.EmailIdx, ix)
	}
	for _, tc := range []struct {
		typ   any
		field string
		want  string
	}{
		{(*Customer)(nil), "Name", "envelope: BlindIndex: Customer.Name has no index option"},
		{(*Customer)(nil), "Contacts[].Phone", "envelope: BlindIndex: Customer.Contacts[].Phone has no index option"},
		{(*Customer)(nil), "EmailIdx", `envelope: BlindIndex: Customer has no tagged field "EmailIdx"`},
		{(*Customer)(nil), "email", `envelope: BlindIndex: Customer has no tagged field "email"`},
		{"Customer", "Email", "envelope: BlindIndex: pii: SchemaOf"},
	} {
		ix, err := s.BlindIndex(ctx, "acme", tc.typ, tc.field, "alice@example.com")
		require.ErrorContains(t, err, tc.want)
		require.Empty(t, ix)
		require.NotContains(t, err.Error(), "alice@example.com")
	}
}

func TestLookupDeterministic(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestSealerT(t)
	c := sampleCustomer()
	require.NoError(t, s.Seal(ctx, c))
	v, err := s.LookupDeterministic(ctx, "acme", (*Customer)(nil), "Email", "alice@example.com")
	require.NoError(t, err)
	require.Equal(t, c.Email, v, "what Seal stored")
	other, err := s.LookupDeterministic(ctx, "globex", (*Customer)(nil), "Email", "alice@example.com")
	require.NoError(t, err)
	require.NotEqual(t, v, other)
	for _, tc := range []struct {
		typ         any
		field, want string
	}{
		{(*Customer)(nil), "Name", "envelope: LookupDeterministic: Customer.Name is not encrypt=det"},
		{(*Member)(nil), "Code", "envelope: LookupDeterministic: Member.Code is not a string field"},
		{(*Customer)(nil), "Nope", `envelope: LookupDeterministic: Customer has no tagged field "Nope"`},
	} {
		out, err := s.LookupDeterministic(ctx, "acme", tc.typ, tc.field, "x")
		require.EqualError(t, err, tc.want+func() string {
			if strings.Contains(tc.want, "no tagged field") {
				return ` (use the schema path, e.g. "Contacts[].Email")`
			}
			return ""
		}())
		require.Empty(t, out)
	}
}

// TestCancelledContextOnCacheHit: every call checks its context, even when
// all it needs is cached.
func TestCancelledContextOnCacheHit(t *testing.T) {
	ctx := context.Background()
	for _, inline := range []bool{false, true} {
		s, err := envelope.New(newKP(), &envelope.Options{Store: envelope.NewMemoryStore(), Inline: inline})
		require.NoError(t, err)
		c := sampleCustomer()
		require.NoError(t, s.Seal(ctx, c)) // warms every key
		ct, err := s.EncryptString(ctx, "v", aliceB)
		require.NoError(t, err)
		bin, err := s.EncryptBytes(ctx, []byte("v"), aliceB)
		require.NoError(t, err)
		sealed := *c

		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		calls := map[string]func() (any, error){
			"Seal": func() (any, error) { fresh := sampleCustomer(); return nil, s.Seal(cancelled, fresh) },
			"Open": func() (any, error) { x := sealed; return nil, s.Open(cancelled, &x) },
			"BlindIndex": func() (any, error) {
				return s.BlindIndex(cancelled, "acme", (*Customer)(nil), "Email", "alice@example.com")
			},
			"LookupDeterministic": func() (any, error) {
				return s.LookupDeterministic(cancelled, "acme", (*Customer)(nil), "Email", "alice@example.com")
			},
			"EncryptString":             func() (any, error) { return s.EncryptString(cancelled, "v", aliceB) },
			"DecryptString":             func() (any, error) { return s.DecryptString(cancelled, ct, aliceB) },
			"EncryptBytes":              func() (any, error) { return s.EncryptBytes(cancelled, []byte("v"), aliceB) },
			"DecryptBytes":              func() (any, error) { return s.DecryptBytes(cancelled, bin, aliceB) },
			"EncryptDeterministic":      func() (any, error) { return s.EncryptDeterministic(cancelled, "v", aliceB) },
			"EncryptDeterministicBytes": func() (any, error) { return s.EncryptDeterministicBytes(cancelled, []byte("v"), aliceB) },
		}
		for name, call := range calls {
			out, err := call()
			require.ErrorIs(t, err, context.Canceled, "inline %v %s", inline, name)
			require.Empty(t, out, name)
		}
		require.Equal(t, *c, sealed)
	}
}

// TestOpenErrorNamesRecord: Open (and Seal) errors name the type, the
// field path and the record by its id field's value, and carry no field
// value and no subject id.
func TestOpenErrorNamesRecord(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestSealerT(t)
	a, b := sampleCustomer(), sampleCustomer()
	b.ID = "c-2"
	require.NoError(t, s.Seal(ctx, a))
	require.NoError(t, s.Seal(ctx, b))
	b.Contacts[1].Phone = a.Contacts[1].Phone
	err := s.Open(ctx, b)
	require.ErrorIs(t, err, envelope.ErrDecrypt)
	require.EqualError(t, err, `envelope: Customer.Contacts[1].Phone (record ID "c-2"): decryption failed`)
	var fe *pii.FieldError
	require.True(t, errors.As(err, &fe))
	require.Equal(t, "ID", fe.RecordField)
	require.Equal(t, "c-2", fe.Record)

	// Without an id field the record is named by its subject field, and
	// the subject id is not shown.
	m := &Member{Subject: "alice-subject-id", Name: "Alice Liddell"}
	require.NoError(t, s.Seal(ctx, m))
	m2 := &Member{Subject: "bob-subject-id", Name: m.Name}
	err = s.Open(ctx, m2)
	require.ErrorIs(t, err, envelope.ErrDecrypt)
	require.EqualError(t, err, `envelope: Member.Name (record of subject field Subject): decryption failed`)
	require.NotContains(t, err.Error(), "subject-id")

	// A long id is cut short.
	long := sampleCustomer()
	long.ID = strings.Repeat("x", 200)
	long.Name = "pii1.AAAA"
	err = s.Open(ctx, long)
	require.Error(t, err)
	require.Less(t, len(err.Error()), 200)
}

// TestNoDoubledPrefix: no error repeats "envelope: ".
func TestNoDoubledPrefix(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestSealerT(t)
	inline, err := envelope.New(newKP(), &envelope.Options{Store: envelope.NewMemoryStore(), Inline: true})
	require.NoError(t, err)
	c := sampleCustomer()
	var errs []error
	_, err = s.DecryptString(ctx, "plain", aliceB)
	errs = append(errs, err)
	_, err = s.DecryptString(ctx, "pii1.AAAA", aliceB)
	errs = append(errs, err)
	_, err = s.DecryptBytes(ctx, []byte{9, 1, 2}, aliceB)
	errs = append(errs, err)
	errs = append(errs, s.Open(ctx, c))
	c.Name = "pii1.AAAA"
	require.NoError(t, s.Seal(ctx, c))
	c.Name = "pii9.AAAA"
	errs = append(errs, s.Open(ctx, c))
	errs = append(errs, inline.ForgetSubject(ctx, "acme", "alice"))
	errs = append(errs, s.ForgetSubject(ctx, "acme", ""))
	e := sampleCustomer()
	e.Subject = ""
	errs = append(errs, s.Seal(ctx, e))
	_, err = s.BlindIndex(ctx, "acme", (*Customer)(nil), "Name", "x")
	errs = append(errs, err)
	_, err = s.RewrapDEKs(ctx, envelope.RewrapOptions{Cursor: "!"})
	errs = append(errs, err)
	for _, err := range errs {
		require.Error(t, err)
		require.Equal(t, 1, strings.Count(err.Error(), "envelope: "), err.Error())
		require.True(t, strings.HasPrefix(err.Error(), "envelope: "), err.Error())
	}
}

// TestFieldNoncesDiffer: the same value sealed twice under the same
// binding gives different ciphertexts with different nonces.
func TestFieldNoncesDiffer(t *testing.T) {
	ctx := context.Background()
	for _, inline := range []bool{false, true} {
		s, err := envelope.New(newKP(), &envelope.Options{Store: envelope.NewMemoryStore(), Inline: inline})
		require.NoError(t, err)
		nonce := func(bin []byte) []byte {
			if bin[0] == 1 {
				return bin[4:16]
			}
			w := int(bin[1])<<8 | int(bin[2])
			return bin[3+w : 15+w]
		}
		seen := map[string]bool{}
		for range 3 {
			ct, err := s.EncryptString(ctx, "alice@example.com", aliceB)
			require.NoError(t, err)
			bin, err := base64.RawURLEncoding.DecodeString(ct[5:])
			require.NoError(t, err)
			b2, err := s.EncryptBytes(ctx, []byte("alice@example.com"), aliceB)
			require.NoError(t, err)
			for _, b := range [][]byte{bin, b2} {
				n := string(nonce(b))
				require.False(t, seen[n], "inline %v: a nonce repeated", inline)
				seen[n] = true
				require.NotEqual(t, make([]byte, 12), nonce(b))
			}
			require.NotEqual(t, bin, b2)
		}
		// Seal of two equal records too.
		c1, c2 := sampleCustomer(), sampleCustomer()
		require.NoError(t, s.Seal(ctx, c1))
		require.NoError(t, s.Seal(ctx, c2))
		require.NotEqual(t, c1.Name, c2.Name)
		require.NotEqual(t, c1.Photo, c2.Photo)
	}
}

// TestDEKWrapNoncesDiffer: DEKs wrapped under the same branch key carry
// different nonces, when made and when rewrapped.
func TestDEKWrapNoncesDiffer(t *testing.T) {
	ctx := context.Background()
	store := envelope.NewMemoryStore()
	s, err := envelope.New(newKP(), &envelope.Options{Store: store})
	require.NoError(t, err)
	for _, subject := range []string{"alice", "bob", "carol"} {
		b := aliceB
		b.Subject = subject
		_, err := s.EncryptString(ctx, "v", b)
		require.NoError(t, err)
	}
	check := func(parent uint32) {
		recs, err := store.List(ctx, envelope.KindDEK, envelope.KeyRef{}, 100)
		require.NoError(t, err)
		require.Len(t, recs, 3)
		for i, r := range recs {
			require.Equal(t, parent, r.Parent)
			require.NotEqual(t, make([]byte, 12), r.Wrapped[:12])
			for _, o := range recs[:i] {
				require.False(t, bytes.Equal(r.Wrapped[:12], o.Wrapped[:12]), "two DEK wraps share a nonce")
			}
		}
	}
	check(1)
	_, err = s.RotateBranchKey(ctx, "acme")
	require.NoError(t, err)
	_, err = s.RewrapDEKs(ctx, envelope.RewrapOptions{})
	require.NoError(t, err)
	check(2)
}
