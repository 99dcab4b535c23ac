package guard

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/internal/checkdigit"
	"github.com/fieldguard/pii/internal/testdb"
	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/keyprovider/local"
	"github.com/fieldguard/pii/mask"
	"github.com/fieldguard/pii/piitest"
	"github.com/fieldguard/pii/retention"
	"github.com/fieldguard/pii/tokenize"
)

// gcust is the struct the core tests protect: sealed fields with a blind
// index, tokens whose form tells (card, pseudonym) and does not (phone,
// e-mail), and a retention policy.
type gcust struct {
	ID       string    `pii:"subject"`
	Tenant   string    `pii:"tenant"`
	Name     string    `pii:"name,encrypt,mask=initials"`
	Email    string    `pii:"email,encrypt,index=EmailIdx,mask=email,reveal=supervisor"`
	EmailIdx string    `pii:"-"`
	DOB      string    `pii:"dob,encrypt,retain=1y,from=Seen,then=null"`
	Phone    string    `pii:"phone,token=ff1,mask=phone,reveal=supervisor"`
	Card     string    `pii:"card,token=ff1,mask=card"`
	Handle   string    `pii:"username,token=hmac"`
	Alt      string    `pii:"email,token=ff1,mask=email"`
	Seen     time.Time `pii:"-"`
}

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func newCust(tenant, id string) gcust {
	return gcust{ID: id, Tenant: tenant, Name: "Ada Lovelace", Email: id + "@example.com", DOB: "1815-12-10",
		Phone: "+44 20 7946 0958", Card: "4111 1111 1111 1111", Handle: "ada_" + id, Alt: "ada.alt@example.org", Seen: t0}
}

var permitAll tokenize.Permit = func(context.Context, *pii.Field, string) error { return nil }

// testKP returns a local keyset provider in a temp dir. The master key is
// generated for the test and never leaves it.
func testKP(t testing.TB) *local.Provider {
	t.Helper()
	master, err := local.GenerateMasterKey()
	require.NoError(t, err)
	kp, err := local.Create(filepath.Join(t.TempDir(), "keyset.json"), master)
	require.NoError(t, err)
	return kp
}

// gfix is one Guard under test with what the tests reach into.
type gfix struct {
	g     *Guard
	kp    *local.Provider
	clock *piitest.Clock
	db    *sql.DB // nil in memory
	name  string
}

// eachGuard runs fn on a Guard in memory, on SQLite and on PostgreSQL.
func eachGuard(t *testing.T, opts *Options, fn func(t *testing.T, f *gfix)) {
	mk := func(t *testing.T, db *sql.DB, name string) *gfix {
		f := &gfix{kp: testKP(t), clock: piitest.NewClock(t0), db: db, name: name}
		var o Options
		if opts != nil {
			o = *opts
		}
		o.Clock = f.clock
		var err error
		if db == nil {
			f.g, err = NewMemory(f.kp, &o)
		} else {
			f.g, err = New(f.kp, db, &o)
		}
		require.NoError(t, err)
		require.NoError(t, f.g.CreateTables(context.Background()))
		return f
	}
	t.Run("memory", func(t *testing.T) { fn(t, mk(t, nil, "memory")) })
	t.Run("sqlite", func(t *testing.T) { fn(t, mk(t, testdb.SQLite(t), "sqlite")) })
	t.Run("postgres", func(t *testing.T) {
		db, _ := testdb.Postgres(t)
		fn(t, mk(t, db, "postgres"))
	})
}

func TestProtectOpenRoundTrip(t *testing.T) {
	eachGuard(t, nil, func(t *testing.T, f *gfix) {
		ctx := context.Background()
		orig := newCust("acme", "c1")
		c := orig
		require.NoError(t, f.g.Protect(ctx, &c))
		require.True(t, envelope.IsSealed(c.Name))
		require.True(t, envelope.IsSealed(c.Email))
		require.NotEmpty(t, c.EmailIdx)
		require.NotEqual(t, orig.Phone, c.Phone)
		require.True(t, strings.HasSuffix(c.Card, "1111"))
		require.NotEqual(t, orig.Card, c.Card)
		require.True(t, strings.HasPrefix(c.Handle, "k1:"))
		idx, err := f.g.seal.BlindIndexes(ctx, "acme", gcust{}, "Email", orig.Email)
		require.NoError(t, err)
		require.Equal(t, []string{c.EmailIdx}, idx)

		// Idempotent: a protected struct is left as it is.
		again := c
		require.NoError(t, f.g.Protect(ctx, &again))
		require.Equal(t, c, again)

		opened := c
		require.NoError(t, f.g.Open(ctx, &opened, permitAll))
		want := orig
		want.EmailIdx, want.Handle = c.EmailIdx, c.Handle // the index stays; pseudonyms are one-way
		require.Equal(t, want, opened)

		// Open is idempotent too.
		require.NoError(t, f.g.Open(ctx, &opened, permitAll))
		require.Equal(t, want, opened)

		// An opened struct protects to the same tokens and index.
		re := opened
		require.NoError(t, f.g.Protect(ctx, &re))
		require.Equal(t, c.Phone, re.Phone)
		require.Equal(t, c.Card, re.Card)
		require.Equal(t, c.Handle, re.Handle, "a pseudonym is not hashed twice")
		require.Equal(t, c.EmailIdx, re.EmailIdx)
	})
}

// Open reverses what the permit allows, field by field; the others stay
// tokens, annotated so Protect never tokenizes them twice.
func TestOpenPermitPerField(t *testing.T) {
	eachGuard(t, nil, func(t *testing.T, f *gfix) {
		ctx := context.Background()
		orig := newCust("acme", "c1")
		c := orig
		require.NoError(t, f.g.Protect(ctx, &c))
		stored := c

		var asked []string
		phoneOnly := func(_ context.Context, fd *pii.Field, path string) error {
			asked = append(asked, path)
			if fd.Category == "phone" {
				return nil
			}
			return errors.New("not for agents")
		}
		require.NoError(t, f.g.Open(ctx, &c, phoneOnly))
		require.ElementsMatch(t, []string{"Phone", "Card", "Alt"}, asked, "the permit is asked for each token field, not for pseudonyms")
		require.Equal(t, orig.Name, c.Name)
		require.Equal(t, orig.Phone, c.Phone, "allowed: reversed")
		require.Equal(t, "CARD(19):"+stored.Card, c.Card, "refused: the token, annotated")
		require.Equal(t, "EMAIL(19):"+stored.Alt, c.Alt)

		// Protect restores the tokens as they were: nothing tokenized twice.
		p := c
		require.NoError(t, f.g.Protect(ctx, &p))
		require.Equal(t, stored.Phone, p.Phone)
		require.Equal(t, stored.Card, p.Card)
		require.Equal(t, stored.Alt, p.Alt)
		require.Equal(t, stored.Handle, p.Handle)

		// A wider permit later reverses what was left.
		require.NoError(t, f.g.Open(ctx, &c, permitAll))
		require.Equal(t, orig.Card, c.Card)
		require.Equal(t, orig.Alt, c.Alt)
		require.Equal(t, orig.Phone, c.Phone, "a value reversed before is not reversed again")

		// A nil permit reverses nothing and is not an error.
		n := stored
		require.NoError(t, f.g.Open(ctx, &n, nil))
		require.Equal(t, orig.Name, n.Name)
		require.Equal(t, "PHONE(16):"+stored.Phone, n.Phone)
	})
}

// Protect refuses, rather than guesses, when nothing tells whether token
// fields hold tokens.
func TestProtectRefusesAmbiguous(t *testing.T) {
	ctx := context.Background()
	f := memGuard(t)
	orig := newCust("acme", "c1")
	c := orig
	require.NoError(t, f.g.Protect(ctx, &c))

	// A clear value set on a struct read without Open: some sealed, some
	// clear, and the phone could be either.
	mixed := c
	mixed.Name = "Ada King"
	err := f.g.Protect(ctx, &mixed)
	require.ErrorIs(t, err, ErrAmbiguous)
	require.Equal(t, "Ada King", mixed.Name, "a refused struct is unchanged")
	require.Equal(t, c.Phone, mixed.Phone)

	// Nothing encrypted holds a value: no evidence.
	bare := c
	bare.Name, bare.Email, bare.DOB, bare.EmailIdx = "", "", "", ""
	require.ErrorIs(t, f.g.Protect(ctx, &bare), ErrAmbiguous)
	require.ErrorIs(t, f.g.Open(ctx, &bare, permitAll), ErrAmbiguous)
	require.ErrorIs(t, f.g.View(ctx, mask.Viewer{ID: "a", Role: "agent", Channel: mask.ChannelSecureChat}, &bare), ErrAmbiguous)

	// Without evidence, fields whose form tells still decide for
	// themselves: a card number and a pseudonym.
	tells := gcust{ID: "c2", Tenant: "acme", Card: "4111 1111 1111 1111", Handle: "ada"}
	require.NoError(t, f.g.Protect(ctx, &tells))
	cardTok, handle := tells.Card, tells.Handle
	require.NoError(t, f.g.Protect(ctx, &tells))
	require.Equal(t, cardTok, tells.Card, "a card token fails Luhn: kept")
	require.Equal(t, handle, tells.Handle)

	// A value that merely looks sealed does not make the tokens pass.
	fake := orig
	fake.Name = c.Email // sealed, but for another field
	fake.Email, fake.DOB = c.Name, c.DOB
	fake.Phone = "+44 20 7946 0000"
	require.ErrorIs(t, f.g.Protect(ctx, &fake), ErrAmbiguous)
}

// A failure half-way leaves the struct as it was, so a retry cannot
// tokenize twice.
func TestProtectFailureLeavesStructUnchanged(t *testing.T) {
	ctx := context.Background()
	f := memGuard(t)
	c := newCust("acme", "")
	c.Phone = "+44 20 7946 0958"
	before := c
	require.ErrorIs(t, f.g.Protect(ctx, &c), envelope.ErrEmptySubject)
	require.Equal(t, before, c)

	bad := newCust("acme", "c1")
	bad.Card = "4111 1111 1111 1112" // not a card number: Apply fails
	before = bad
	require.Error(t, f.g.Protect(ctx, &bad))
	require.Equal(t, before, bad)
}

func TestProtectSlices(t *testing.T) {
	ctx := context.Background()
	f := memGuard(t)
	cs := []gcust{newCust("acme", "a"), newCust("acme", "b")}
	require.NoError(t, f.g.Protect(ctx, cs))
	for _, c := range cs {
		require.True(t, envelope.IsSealed(c.Name))
	}
	ps := []*gcust{{ID: "x", Tenant: "t", Name: "X"}, {ID: "y", Tenant: "t", Name: "Y"}}
	require.NoError(t, f.g.Protect(ctx, &ps))
	require.NoError(t, f.g.Open(ctx, ps, nil))
	require.Equal(t, "Y", ps[1].Name)
	require.NoError(t, f.g.Open(ctx, &cs, permitAll))
	require.Equal(t, "4111 1111 1111 1111", cs[1].Card)
	require.Error(t, f.g.Protect(ctx, []*gcust{nil}))

	// One struct that fails leaves the whole slice as it was; protected
	// and new structs mix.
	prot := newCust("acme", "p")
	require.NoError(t, f.g.Protect(ctx, &prot))
	mixed := []gcust{prot, newCust("acme", "d"), newCust("acme", "e")}
	mixed[2].Card = "4111 1111 1111 1112" // not a card number
	before := append([]gcust(nil), mixed...)
	require.Error(t, f.g.Protect(ctx, mixed))
	require.Equal(t, before, mixed)
	mixed[2].Card = "4111 1111 1111 1111"
	require.NoError(t, f.g.Protect(ctx, mixed))
	require.Equal(t, prot, mixed[0], "the protected one is left as it was")
	require.True(t, envelope.IsSealed(mixed[2].Name))

	// A batch Open with a forgotten subject among them opens the others
	// and keeps that one's values.
	require.NoError(t, f.g.seal.ForgetSubject(ctx, "acme", "d"))
	require.NoError(t, f.g.Open(ctx, mixed, permitAll))
	require.Equal(t, "Ada Lovelace", mixed[2].Name)
	require.Equal(t, "4111 1111 1111 1111", mixed[2].Card)
	require.True(t, isKept(mixed[1].Name))
}

// View opens what the viewer may see and masks it; denied fields are
// emptied without being opened; nothing sealed is ever shown.
func TestViewNeverShowsSealedText(t *testing.T) {
	eachGuard(t, nil, func(t *testing.T, f *gfix) {
		ctx := context.Background()
		orig := newCust("acme", "c1")
		c := orig
		require.NoError(t, f.g.Protect(ctx, &c))
		stored := c

		agent := mask.Viewer{ID: "agent-7", Role: "agent", Channel: mask.ChannelDirectMessage}
		v := c
		require.NoError(t, f.g.View(ctx, agent, &v))
		require.Equal(t, "A. L.", v.Name)
		require.Equal(t, "****@example.com", v.Email, "a two-character local part is masked whole")
		require.Equal(t, "+44 ******0958", v.Phone, "masked from the real number, not the token")
		require.Equal(t, "**** **** **** 1111", v.Card)
		noSealed(t, v)

		// On a public channel the card (sensitive) is denied: emptied.
		pub := c
		require.NoError(t, f.g.View(ctx, mask.Viewer{ID: "agent-7", Role: "agent", Channel: mask.ChannelPublicSocial}, &pub))
		require.Empty(t, pub.Card)
		noSealed(t, pub)

		// A struct returned by Open views the same; with tokens left
		// annotated by a refusing permit too.
		o := stored
		require.NoError(t, f.g.Open(ctx, &o, nil))
		require.NoError(t, f.g.View(ctx, agent, &o))
		require.Equal(t, v, o)

		// Past its retention (from Seen), DOB is never shown, even to
		// the auditor-less supervisor.
		f.clock.Set(t0.AddDate(2, 0, 0))
		late := stored
		require.NoError(t, f.g.View(ctx, mask.Viewer{ID: "s", Role: "supervisor", Channel: mask.ChannelSecureChat}, &late))
		require.Empty(t, late.DOB)
		noSealed(t, late)
		require.Equal(t, stored, c, "the protected original is untouched")

		// Open keeps the expired value sealed (marked), and Protect puts
		// it back as it was.
		op := stored
		require.NoError(t, f.g.Open(ctx, &op, permitAll))
		require.Equal(t, "SEALED("+itoa(len(stored.DOB))+"):"+stored.DOB, op.DOB)
		require.NoError(t, f.g.Protect(ctx, &op))
		require.Equal(t, stored.DOB, op.DOB)
		require.Equal(t, stored.Phone, op.Phone)
	})
}

// Reveal returns one field's clear value to a role allowed to see it,
// audited; the struct stays protected.
func TestRevealAudited(t *testing.T) {
	eachGuard(t, nil, func(t *testing.T, f *gfix) {
		ctx := context.Background()
		c := newCust("acme", "c1")
		require.NoError(t, f.g.Protect(ctx, &c))
		stored := c
		sup := mask.Viewer{ID: "sup-1", Role: "supervisor", Channel: mask.ChannelSecureChat}
		got, err := f.g.Reveal(ctx, sup, &c, "Phone", "caller verification")
		require.NoError(t, err)
		require.Equal(t, "+44 20 7946 0958", got)
		require.Equal(t, stored, c)
		_, err = f.g.Reveal(ctx, mask.Viewer{ID: "a-1", Role: "agent", Channel: mask.ChannelSecureChat}, &c, "Email", "curious")
		require.ErrorIs(t, err, mask.ErrDenied)
		evs, err := f.g.auditEvents(ctx)
		require.NoError(t, err)
		require.Len(t, evs, 2)
		require.Equal(t, mask.EventReveal, evs[0].Kind)
		require.Equal(t, "acme", evs[0].Tenant)
		require.Equal(t, "Phone", evs[0].Field)
		require.Equal(t, "caller verification", evs[0].Reason)
		require.Equal(t, mask.EventRevealDenied, evs[1].Kind)
	})
}

func noSealed(t *testing.T, c gcust) {
	t.Helper()
	for _, s := range []string{c.Name, c.Email, c.DOB, c.Phone, c.Card, c.Handle, c.Alt} {
		require.False(t, envelope.IsSealed(s), "sealed text shown")
		require.NotContains(t, s, "pii1.")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func memGuard(t *testing.T) *gfix {
	t.Helper()
	f := &gfix{kp: testKP(t), clock: piitest.NewClock(t0), name: "memory"}
	var err error
	f.g, err = NewMemory(f.kp, &Options{Clock: f.clock})
	require.NoError(t, err)
	return f
}

// The Guard's secrets live in its key store, wrapped by the KMS: made once
// and shared by every Guard on the same database.
func TestSecretsInKeyStoreShared(t *testing.T) {
	ctx := context.Background()
	db := testdb.SQLite(t)
	kp := testKP(t)
	g1, err := New(kp, db, nil)
	require.NoError(t, err)
	require.NoError(t, g1.CreateTables(ctx))
	g2, err := New(kp, db, nil)
	require.NoError(t, err)
	a := newCust("acme", "c1")
	b := a
	require.NoError(t, g1.Protect(ctx, &a))
	require.NoError(t, g2.Protect(ctx, &b))
	require.Equal(t, a.Phone, b.Phone, "one tokenizer root for both")
	require.NoError(t, g2.Open(ctx, &a, permitAll))
	var n int
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM pii_keys WHERE kind = 'secret'`).Scan(&n))
	require.Equal(t, 3, n)
	c1, err := g1.core(ctx)
	require.NoError(t, err)
	c2, err := g2.core(ctx)
	require.NoError(t, err)
	require.Equal(t, c1.mgr.Hash(retention.Subject("acme", "c1")), c2.mgr.Hash(retention.Subject("acme", "c1")), "one ledger key")
}

var _ keyprovider.KeyProvider = (*local.Provider)(nil)
var _ = retention.ErrExpired
var _ = tokenize.ErrPermission

// failingKP fails wraps while fail is set, like a KMS outage.
type failingKP struct {
	keyprovider.KeyProvider
	fail bool
}

func (f *failingKP) Wrap(ctx context.Context, key, ad []byte) ([]byte, keyprovider.KeyID, error) {
	if f.fail {
		return nil, keyprovider.KeyID{}, keyprovider.ErrUnavailable
	}
	return f.KeyProvider.Wrap(ctx, key, ad)
}

// A Seal that fails after the tokens were applied (here: the KMS is down
// when a new tenant needs its first key) leaves the struct as it was, so a
// retry does not tokenize the tokens.
func TestProtectSealFailureRestores(t *testing.T) {
	ctx := context.Background()
	kp := &failingKP{KeyProvider: testKP(t)}
	g, err := NewMemory(kp, nil)
	require.NoError(t, err)
	warm := newCust("acme", "c1")
	require.NoError(t, g.Protect(ctx, &warm))
	kp.fail = true
	c := newCust("globex", "c1")
	before := c
	require.ErrorIs(t, g.Protect(ctx, &c), keyprovider.ErrUnavailable)
	require.Equal(t, before, c)
	kp.fail = false
	require.NoError(t, g.Protect(ctx, &c))
	require.NoError(t, g.Open(ctx, &c, permitAll))
	before.EmailIdx = c.EmailIdx
	before.Handle = c.Handle
	require.Equal(t, before, c, "the retry protected the values once")
}

// A record with a subject field left empty is refused before anything is
// tokenized: no stored token is left behind for nobody.
func TestProtectEmptySubjectStoresNoToken(t *testing.T) {
	ctx := context.Background()
	f := memGuard(t)
	k := gticket{ID: "t1", Tenant: "acme", Body: "x", Ref: "REF1ABCD"}
	require.ErrorIs(t, f.g.Protect(ctx, &k), envelope.ErrEmptySubject)
	n, err := f.g.tokens.DeleteSubject(ctx, "acme", "")
	require.NoError(t, err)
	require.Zero(t, n)
}

// A field the policy denies is never opened: here the card holds
// something that is no token of its field (reversing it would fail), and
// the public-channel view, which denies cards, succeeds without touching it.
func TestViewDoesNotOpenDeniedFields(t *testing.T) {
	ctx := context.Background()
	f := memGuard(t)
	c := newCust("acme", "c1")
	require.NoError(t, f.g.Protect(ctx, &c))
	b := []byte(c.Card)
	for d := byte(1); d < 10; d++ {
		b[len(b)-1] = '0' + (c.Card[len(c.Card)-1]-'0'+d)%10
		if !checkdigit.LuhnText(string(b)) {
			break
		}
	}
	c.Card = string(b)
	pub := mask.Viewer{ID: "a", Role: "agent", Channel: mask.ChannelPublicSocial}
	v := c
	require.NoError(t, f.g.View(ctx, pub, &v))
	require.Empty(t, v.Card)
	dm := mask.Viewer{ID: "a", Role: "agent", Channel: mask.ChannelDirectMessage}
	v = c
	require.ErrorIs(t, f.g.View(ctx, dm, &v), tokenize.ErrNotToken, "shown, it is reversed, and fails")
}

type gcontact struct {
	Kind  string `pii:"-"`
	Phone string `pii:"phone,token=ff1,mask=phone"`
	Note  string `pii:"free_text,encrypt,mask=fixed"`
}

type gperson struct {
	ID       string     `pii:"subject"`
	Name     string     `pii:"name,encrypt,mask=initials"`
	Contacts []gcontact `pii:"dive"`
}

// View writes the masked copy into the struct; the slices it had still
// hold the protected values, never the opened ones.
func TestViewLeavesNoClearValueInSharedSlices(t *testing.T) {
	ctx := context.Background()
	f := memGuard(t)
	p := gperson{ID: "p1", Name: "Ada", Contacts: []gcontact{{Kind: "home", Phone: "+44 20 7946 0958", Note: "evenings"}}}
	require.NoError(t, f.g.Protect(ctx, &p))
	alias := p.Contacts
	stored := alias[0]
	require.NoError(t, f.g.View(ctx, mask.Viewer{ID: "a", Role: "agent", Channel: mask.ChannelDirectMessage}, &p))
	require.Equal(t, "+44 ******0958", p.Contacts[0].Phone)
	require.Equal(t, stored, alias[0], "the caller's slice is untouched")
}

// Options.Views carries the rules of the Guard's views; their Audit and
// Clock are the Guard's own, so setting them there is refused.
func TestOptionsViews(t *testing.T) {
	ctx := context.Background()
	kp := testKP(t)
	g, err := NewMemory(kp, &Options{Views: &mask.ViewsOptions{Rules: []mask.Rule{
		{Category: "email", Role: "agent", Action: mask.ActionDeny},
	}}})
	require.NoError(t, err)
	c := newCust("acme", "c1")
	require.NoError(t, g.Protect(ctx, &c))
	agent := mask.Viewer{ID: "a", Role: "agent", Channel: mask.ChannelSecureChat}
	require.NoError(t, g.View(ctx, agent, &c))
	require.Empty(t, c.Email, "the rule denies e-mail to agents")
	require.NotEmpty(t, c.Name)

	for _, o := range []*mask.ViewsOptions{
		{Audit: mask.SlogAudit(nil)},
		{Clock: piitest.NewClock(t0)},
	} {
		_, err := NewMemory(kp, &Options{Views: o})
		require.ErrorContains(t, err, "Options.Views")
	}
}
