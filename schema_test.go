package pii

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type tContact struct {
	Kind  string `pii:"-"`
	Phone string `pii:"phone,token=ff1"`
	Email string `pii:"email,encrypt"`
}

type tBase struct {
	Tenant string `pii:"tenant"`
	Name   string `pii:"name,mask=initials"`
}

type tMeta struct {
	Note string `pii:"free_text,encrypt"`
}

type tUUID [2]byte

func (u tUUID) String() string { return "uuid" }

type tRecord struct {
	tBase
	*tMeta
	ID       int64                  `pii:"id"`
	Subject  tUUID                  `pii:"subject"`
	Email    string                 `pii:"email,encrypt,index=EmailIdx,retain=30d,from=Seen"`
	EmailIdx []byte                 `pii:"-"`
	Seen     *time.Time             `pii:"-"`
	Contacts []tContact             `pii:"dive"`
	Primary  *tContact              `pii:"dive"`
	ByLabel  map[string]tContact    `pii:"dive"`
	ByKey    map[string]*tContact   `pii:"dive"`
	Fixed    [2]tContact            `pii:"dive"`
	Plan     string                 // untagged, not personal-looking
	Mobile   string                 // untagged, personal-looking
	Extra    map[string]interface{} `pii:"-"`
}

func TestSchemaPathsAndRoles(t *testing.T) {
	s, err := SchemaOf((*tRecord)(nil))
	require.NoError(t, err)
	var paths []string
	for _, f := range s.Fields {
		paths = append(paths, f.Path)
	}
	require.Equal(t, []string{
		"Name", "Email", "Note",
		"Contacts[].Phone", "Contacts[].Email",
		"Primary.Phone", "Primary.Email",
		"ByLabel[].Phone", "ByLabel[].Email",
		"ByKey[].Phone", "ByKey[].Email",
		"Fixed[].Phone", "Fixed[].Email",
	}, paths)
	require.Equal(t, "Tenant", s.Tenant.Path)
	require.Equal(t, "ID", s.ID.Path)
	require.Equal(t, "Subject", s.Subject.Path)
	require.Equal(t, "tRecord", s.Name)
	require.Equal(t, []string{"Plan", "Mobile"}, []string{s.untagged[0].path, s.untagged[1].path})
	email := s.Field("Email")
	require.Equal(t, EncryptRandom, email.Opts.Encrypt)
	require.Equal(t, "EmailIdx", email.Opts.IndexField)
	require.Equal(t, Action{Kind: "null"}, email.Opts.Then, "retain without then defaults to null")
	require.Equal(t, Duration{Days: 30}, email.Opts.Retain)

	// Cached: same pointer, for the value type and the pointer type alike.
	s2, err := SchemaOf(tRecord{})
	require.NoError(t, err)
	require.Same(t, s, s2)
	s3, err := SchemaOf(reflect.TypeFor[tRecord]())
	require.NoError(t, err)
	require.Same(t, s, s3)
}

func TestWalkVisitsEverythingSettably(t *testing.T) {
	seen := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	r := &tRecord{
		tBase:    tBase{Tenant: "t1", Name: "Ada"},
		tMeta:    &tMeta{Note: "n"},
		ID:       42,
		Email:    "a@example.com",
		Seen:     &seen,
		Contacts: []tContact{{Phone: "1"}, {Phone: "2"}},
		ByLabel:  map[string]tContact{"home": {Email: "h@example.com"}},
		ByKey:    map[string]*tContact{"x": {Phone: "3"}, "nil": nil},
	}
	s, err := SchemaOf(r)
	require.NoError(t, err)
	var got []string
	err = s.Walk(r, func(f *Field, path string, owner, v reflect.Value) error {
		got = append(got, path)
		if v.Kind() == reflect.String {
			v.SetString(strings.ToUpper(v.String()) + "!")
		}
		if f.IndexFieldIndex != nil {
			owner.FieldByIndex(f.IndexFieldIndex).SetBytes([]byte("idx"))
		}
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, []string{
		"Name", "Email", "Note",
		"Contacts[0].Phone", "Contacts[0].Email", "Contacts[1].Phone", "Contacts[1].Email",
		`ByLabel["home"].Phone`, `ByLabel["home"].Email`,
		`ByKey["x"].Phone`, `ByKey["x"].Email`,
		"Fixed[0].Phone", "Fixed[0].Email", "Fixed[1].Phone", "Fixed[1].Email",
	}, got)
	require.Equal(t, "ADA!", r.Name)
	require.Equal(t, "2!", r.Contacts[1].Phone)
	require.Equal(t, "H@EXAMPLE.COM!", r.ByLabel["home"].Email, "map struct values are written back")
	require.Equal(t, "3!", r.ByKey["x"].Phone)
	require.Equal(t, "N!", r.Note)
	require.Equal(t, []byte("idx"), r.EmailIdx)
	require.Equal(t, "42", s.roleValue(r, s.ID))
	require.Equal(t, "uuid", s.SubjectOf(r))
	require.Equal(t, "t1", s.TenantOf(r))
	require.Equal(t, "42", s.RecordOf(r))
	clock, ok := s.ClockOf(r, s.Field("Email"))
	require.True(t, ok)
	require.Equal(t, seen, clock)

	stop := errors.New("stop")
	require.ErrorIs(t, s.Walk(r, func(*Field, string, reflect.Value, reflect.Value) error { return stop }), stop)
	require.ErrorIs(t, s.Walk(*r, func(*Field, string, reflect.Value, reflect.Value) error { return nil }), errNotPointer)
	require.ErrorIs(t, s.Walk((*tRecord)(nil), func(*Field, string, reflect.Value, reflect.Value) error { return nil }), errNotPointer)
}

func TestSchemaErrors(t *testing.T) {
	type unknownCat struct {
		A string `pii:"emial"`
	}
	type unknownOpt struct {
		A string `pii:"email,encrpyt"`
	}
	type badDuration struct {
		A string `pii:"email,retain=2q"`
	}
	type fromMissing struct {
		A string `pii:"email,retain=1y,from=Nope"`
	}
	type fromNotTime struct {
		A string `pii:"email,retain=1y,from=B"`
		B string
	}
	type encryptInt struct {
		A int `pii:"email,encrypt"`
	}
	type encryptTime struct {
		A time.Time `pii:"dob,encrypt"`
	}
	type tokenBytes struct {
		A []byte `pii:"card,token=ff1"`
	}
	type twoSubjects struct {
		A string `pii:"subject"`
		B string `pii:"subject"`
	}
	type conflict struct {
		A string `pii:"card,encrypt,token=ff1"`
	}
	type diveScalar struct {
		A string `pii:"dive"`
	}
	type unexported struct {
		a string `pii:"email"`
	}
	type emptyCat struct {
		A string `pii:",encrypt"`
	}
	type thenNoRetain struct {
		A string `pii:"email,then=shred"`
	}
	type badAction struct {
		A string `pii:"email,retain=1y,then=burn"`
	}
	type badRule struct {
		A string `pii:"email,retain=1y,then=generalize:decade"`
	}
	type minOverMax struct {
		A string `pii:"email,retain=1y,min=2y"`
	}
	type dupOpt struct {
		A string `pii:"email,encrypt,encrypt"`
	}
	type indexNoEncrypt struct {
		A string `pii:"email,index"`
	}
	type indexMissing struct {
		A string `pii:"email,encrypt,index=Nope"`
	}
	type badBasis struct {
		A string `pii:"email,basis=because"`
	}
	type subjectFloat struct {
		A float64 `pii:"subject"`
	}
	type recursive struct {
		Kids []recursive `pii:"dive"`
	}
	_ = unexported{}.a
	cases := []struct {
		v     any
		field string
		token string
		msg   string
	}{
		{unknownCat{}, "A", "emial", "unknown category"},
		{unknownOpt{}, "A", "encrpyt", "unknown option"},
		{badDuration{}, "A", "retain=2q", "malformed duration"},
		{fromMissing{}, "A", "from=Nope", "no field Nope"},
		{fromNotTime{}, "A", "from=B", "not time.Time"},
		{encryptInt{}, "A", "encrypt", "cannot hold a ciphertext"},
		{encryptTime{}, "A", "encrypt", "cannot hold a ciphertext"},
		{tokenBytes{}, "A", "token=ff1", "cannot hold a token"},
		{twoSubjects{}, "B", "subject", "second subject field"},
		{conflict{}, "A", "token=ff1", "encrypt and token conflict"},
		{diveScalar{}, "A", "dive", "dive needs a struct"},
		{unexported{}, "a", "", "unexported field"},
		{emptyCat{}, "A", ",encrypt", "empty category"},
		{thenNoRetain{}, "A", "then=shred", "then= needs retain="},
		{badAction{}, "A", "then=burn", "unknown action"},
		{badRule{}, "A", "then=generalize:decade", "unknown generalize rule"},
		{minOverMax{}, "A", "min=P2Y", "legal minimum is longer"},
		{dupOpt{}, "A", "encrypt", "given twice"},
		{indexNoEncrypt{}, "A", "index", "index needs encrypt"},
		{indexMissing{}, "A", "index=Nope", "no field Nope"},
		{badBasis{}, "A", "basis=because", "unknown legal basis"},
		{subjectFloat{}, "A", "subject", "must be a string"},
		{recursive{}, "Kids", "", "recursive dive"},
		{42, "", "", "not a struct"},
	}
	for _, c := range cases {
		name := reflect.TypeOf(c.v).Name()
		t.Run(name, func(t *testing.T) {
			require.NotPanics(t, func() {
				_, err := SchemaOf(c.v)
				require.Error(t, err)
				require.Contains(t, err.Error(), c.msg)
				if c.field == "" {
					return
				}
				var fe *FieldError
				require.ErrorAs(t, err, &fe)
				require.Contains(t, fe.Type, name)
				require.Equal(t, c.field, fe.Path)
				require.Empty(t, fe.Record)
				var te *tagError
				require.ErrorAs(t, err, &te)
				require.Equal(t, c.token, te.token)
				require.True(t, strings.HasPrefix(err.Error(), "pii: "))
				// The cached error is returned again.
				_, err2 := SchemaOf(c.v)
				require.Equal(t, err, err2)
			})
		})
	}
}

func TestParseDuration(t *testing.T) {
	good := map[string]Duration{
		"30d": {Days: 30}, "12h": {Clock: 12 * time.Hour}, "6m": {Months: 6}, "2y": {Years: 2},
		"2w": {Days: 14}, "1y6m": {Years: 1, Months: 6}, "P2Y6M": {Years: 2, Months: 6},
		"P30D": {Days: 30}, "PT12H": {Clock: 12 * time.Hour}, "P2W": {Days: 14},
		"P1Y2M3DT4H5M6S": {Years: 1, Months: 2, Days: 3, Clock: 4*time.Hour + 5*time.Minute + 6*time.Second},
	}
	for in, want := range good {
		got, err := ParseDuration(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
		back, err := ParseDuration(got.String())
		require.NoError(t, err)
		require.Equal(t, got, back, "String round-trips for %s", in)
	}
	for _, in := range []string{"", "d", "30", "30x", "-3d", "P", "PT", "P1H", "PT1D", "P1Y2", "0d", "P0D", "1.5y", "99999999999d", " 3d", "3d "} {
		_, err := ParseDuration(in)
		require.Error(t, err, in)
	}
	// Calendar arithmetic: months and years follow AddDate.
	d, _ := ParseDuration("6m")
	require.Equal(t, time.Date(2027, 5, 15, 0, 0, 0, 0, time.UTC), d.AddTo(time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC)))
	y, _ := ParseDuration("1y")
	require.Equal(t, time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), y.AddTo(time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)))
}

func TestRegister(t *testing.T) {
	type renamedV2 struct {
		E string `pii:"email,encrypt"`
	}
	type other struct {
		E string `pii:"email"`
	}
	require.NoError(t, Register(renamedV2{}, "Renamed"))
	s, err := SchemaOf(&renamedV2{})
	require.NoError(t, err)
	require.Equal(t, "Renamed", s.Name)
	require.ErrorContains(t, Register(other{}, "Renamed"), "already names")
	require.ErrorContains(t, Register(renamedV2{}, "Other"), "already built")
	require.Error(t, Register(3, "x"))
}

func TestSchemaOfConcurrent(t *testing.T) {
	type concurrentT struct {
		A string `pii:"email,encrypt"`
	}
	var wg sync.WaitGroup
	res := make([]*Schema, 32)
	for i := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := SchemaOf(&concurrentT{})
			if err == nil {
				res[i] = s
			}
		}()
	}
	wg.Wait()
	for _, s := range res {
		require.Same(t, res[0], s)
	}
}

func TestInventoryRenderings(t *testing.T) {
	r, err := Inventory(&tRecord{})
	require.NoError(t, err)
	js, err := json.MarshalIndent(r, "", "  ")
	require.NoError(t, err)
	require.Contains(t, string(js), `"path": "Contacts[].Phone"`)
	require.Contains(t, string(js), `"clock": "Seen"`)
	md := r.Markdown()
	require.Contains(t, md, "| `Email` | email | encrypt, index | P30D from Seen, then null |")
	require.Contains(t, md, "`tRecord.Mobile`: name suggests personal data (category phone)")
	require.NotContains(t, md, "tRecord.Plan")
	_, err = Inventory(3)
	require.Error(t, err)
}

func TestSplitWords(t *testing.T) {
	require.Equal(t, []string{"home", "ip", "address"}, splitWords("HomeIPAddress"))
	require.Equal(t, []string{"user", "email"}, splitWords("user_email"))
	require.Equal(t, []string{"dob"}, splitWords("DOB"))
	require.Equal(t, []string{"zip", "2"}, splitWords("Zip2"))
	require.Equal(t, "", looksPersonal("Shipping", infoOf(reflect.TypeFor[string]())), "ip inside a word is not an IP")
	require.NotEqual(t, "", looksPersonal("ClientIP", infoOf(reflect.TypeFor[string]())))
}

func BenchmarkSchemaOfCached(b *testing.B) {
	v := &tRecord{}
	if _, err := SchemaOf(v); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SchemaOf(v); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSchemaOfCachedAllocatesNothing(t *testing.T) {
	v := &tRecord{}
	_, err := SchemaOf(v)
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(1000, func() { _, _ = SchemaOf(v) })
	require.Zero(t, allocs)
}

// TestTagErrorIsPii: a tag error is pii's, whatever its message starts
// with (FieldError takes the package of other causes from their prefix).
func TestTagErrorIsPii(t *testing.T) {
	require.Equal(t, "pii: T.F: index: needs encrypt", badTag("T", "F", "", "index: needs encrypt").Error())
	require.Equal(t, `pii: T.F: tag token "index": needs encrypt`, badTag("T", "F", "index", "needs encrypt").Error())
}

// TestSensitiveByCategory: a field of a sensitive category is sensitive
// whatever its tag says; the inventory, guard's export and breach report
// read Opts.Sensitive alone.
func TestSensitiveByCategory(t *testing.T) {
	type rec struct {
		Card  string `pii:"card"`
		Notes string `pii:"free_text,sensitive"`
		Email string `pii:"email"`
	}
	s, err := SchemaOf(rec{})
	require.NoError(t, err)
	require.True(t, s.Field("Card").Opts.Sensitive)
	require.True(t, s.Field("Notes").Opts.Sensitive)
	require.False(t, s.Field("Email").Opts.Sensitive)
}
