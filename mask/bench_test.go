package mask

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// benchCustomer has ten tagged personal-data fields.
type benchCustomer struct {
	ID        string    `pii:"id"`
	Name      string    `pii:"name,mask=initials"`
	Email     string    `pii:"email,mask=email"`
	Phone     string    `pii:"phone,mask=phone"`
	Card      string    `pii:"card,mask=card"`
	IBAN      string    `pii:"iban,mask=iban"`
	IP        string    `pii:"ip,mask=ip"`
	BirthDate time.Time `pii:"dob,mask=date"`
	SSN       string    `pii:"national_id,mask=last4"`
	Postcode  string    `pii:"postcode,mask=first-char"`
	Username  string    `pii:"username,mask=first-char"`
	Plan      string    `pii:"-"`
}

func newBenchCustomer() *benchCustomer {
	return &benchCustomer{
		ID: "cus_1", Name: "Alice Liddell", Email: "alice@example.com", Phone: "+44 7911 123456",
		Card: "4111 1111 1111 1111", IBAN: "DE89 3704 0044 0532 0130 00", IP: "203.0.113.77",
		BirthDate: time.Date(1987, 6, 14, 0, 0, 0, 0, time.UTC), SSN: "123-45-6789",
		Postcode: "OX1 1AA", Username: "ally_cat", Plan: "gold",
	}
}

// handMask is the same masking written by hand for benchCustomer.
func handMask(c *benchCustomer) *benchCustomer {
	out := *c
	out.Name = maskInitials(c.Name)
	out.Email = maskEmail(c.Email, false)
	out.Phone = maskPhone(c.Phone, "US")
	out.Card = maskCard(c.Card, 0)
	out.IBAN = maskIBAN(c.IBAN)
	out.IP = maskIP(c.IP)
	out.BirthDate = yearOnly(c.BirthDate)
	out.SSN = maskLast4(c.SSN)
	out.Postcode = maskFirstChar(c.Postcode)
	out.Username = maskFirstChar(c.Username)
	return &out
}

func TestHandMaskMatchesView(t *testing.T) {
	vs, err := NewViews(nil)
	require.NoError(t, err)
	c := newBenchCustomer()
	got, err := ViewOf(context.Background(), vs, Viewer{ID: "a", Role: "agent", Channel: ChannelDirectMessage}, c)
	require.NoError(t, err)
	require.Equal(t, handMask(c), got, "the benchmarks compare the same work")
}

var sink *benchCustomer

func BenchmarkViewCustomer(b *testing.B) {
	vs, err := NewViews(nil)
	require.NoError(b, err)
	c := newBenchCustomer()
	agent := Viewer{ID: "a", Role: "agent", Channel: ChannelDirectMessage}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		out, err := ViewOf(ctx, vs, agent, c)
		if err != nil {
			b.Fatal(err)
		}
		sink = out
	}
}

func BenchmarkHandMaskCustomer(b *testing.B) {
	c := newBenchCustomer()
	b.ReportAllocs()
	for b.Loop() {
		sink = handMask(c)
	}
}

// benchCheap has the same shape without the phone field, whose
// phonenumbers parse dominates both benchmarks above; the pair below shows
// the overhead of the view machinery itself.
type benchCheap struct {
	ID        string    `pii:"id"`
	Name      string    `pii:"name,mask=initials"`
	Email     string    `pii:"email,mask=email"`
	Card      string    `pii:"card,mask=card"`
	IBAN      string    `pii:"iban,mask=iban"`
	IP        string    `pii:"ip,mask=ip"`
	BirthDate time.Time `pii:"dob,mask=date"`
	SSN       string    `pii:"national_id,mask=last4"`
	Postcode  string    `pii:"postcode,mask=first-char"`
	Username  string    `pii:"username,mask=first-char"`
	Account   string    `pii:"account,mask=last4"`
}

var sinkCheap *benchCheap

func newBenchCheap() *benchCheap {
	c := newBenchCustomer()
	return &benchCheap{ID: c.ID, Name: c.Name, Email: c.Email, Card: c.Card, IBAN: c.IBAN, IP: c.IP,
		BirthDate: c.BirthDate, SSN: c.SSN, Postcode: c.Postcode, Username: c.Username, Account: "00123456"}
}

func handMaskCheap(c *benchCheap) *benchCheap {
	out := *c
	out.Name = maskInitials(c.Name)
	out.Email = maskEmail(c.Email, false)
	out.Card = maskCard(c.Card, 0)
	out.IBAN = maskIBAN(c.IBAN)
	out.IP = maskIP(c.IP)
	out.BirthDate = yearOnly(c.BirthDate)
	out.SSN = maskLast4(c.SSN)
	out.Postcode = maskFirstChar(c.Postcode)
	out.Username = maskFirstChar(c.Username)
	out.Account = maskLast4(c.Account)
	return &out
}

func TestHandMaskCheapMatchesView(t *testing.T) {
	vs, err := NewViews(nil)
	require.NoError(t, err)
	c := newBenchCheap()
	got, err := ViewOf(context.Background(), vs, Viewer{ID: "a", Role: "agent", Channel: ChannelDirectMessage}, c)
	require.NoError(t, err)
	require.Equal(t, handMaskCheap(c), got)
}

func BenchmarkViewCheapStyles(b *testing.B) {
	vs, err := NewViews(nil)
	require.NoError(b, err)
	c := newBenchCheap()
	agent := Viewer{ID: "a", Role: "agent", Channel: ChannelDirectMessage}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		out, err := ViewOf(ctx, vs, agent, c)
		if err != nil {
			b.Fatal(err)
		}
		sinkCheap = out
	}
}

func BenchmarkHandMaskCheapStyles(b *testing.B) {
	c := newBenchCheap()
	b.ReportAllocs()
	for b.Loop() {
		sinkCheap = handMaskCheap(c)
	}
}
