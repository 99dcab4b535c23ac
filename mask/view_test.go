package mask

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/piitest"
	"github.com/stretchr/testify/require"
)

type testAddress struct {
	Street   string `pii:"address,mask=full"`
	Postcode string `pii:"postcode"`
	City     string `pii:"-"`
}

type testContact struct {
	Label string `pii:"-"`
	Phone string `pii:"phone"`
}

type testCustomer struct {
	ID        string        `pii:"id"`
	Subject   string        `pii:"subject"`
	Name      string        `pii:"name,mask=initials"`
	Email     string        `pii:"email,mask=email,reveal=supervisor,log=mask"`
	Phone     string        `pii:"phone,mask=phone,reveal=supervisor|fraud,log=hmac"`
	Card      string        `pii:"card,mask=card,reveal=fraud,log=mask"`
	IBAN      string        `pii:"iban,mask=iban"`
	IP        string        `pii:"ip"`
	BirthDate time.Time     `pii:"dob,mask=date,log=mask"`
	SSN       string        `pii:"national_id,mask=last4,reveal=fraud"`
	Diagnosis string        `pii:"health,mask=fixed"`
	Nickname  *string       `pii:"username"`
	Address   testAddress   `pii:"dive"`
	Contacts  []testContact `pii:"dive"`
	Plan      string        `pii:"-"`
}

func newCustomer() *testCustomer {
	nick := "ally_cat"
	return &testCustomer{
		ID: "cus_42", Subject: "subj_42", Name: "Alice Liddell", Email: "alice@example.com",
		Phone: "+44 7911 123456", Card: "4111 1111 1111 1111", IBAN: "DE89 3704 0044 0532 0130 00",
		IP: "203.0.113.77", BirthDate: time.Date(1987, 6, 14, 0, 0, 0, 0, time.UTC), SSN: "123-45-6789",
		Diagnosis: "asthma", Nickname: &nick,
		Address:  testAddress{Street: "1 Wonderland Way", Postcode: "OX1 1AA", City: "Oxford"},
		Contacts: []testContact{{Label: "work", Phone: "(415) 555-2671"}, {Label: "home", Phone: "+33 6 12 34 56 78"}},
		Plan:     "gold",
	}
}

// clearValues are the values no agent view may contain.
func clearValues(c *testCustomer) []string {
	return []string{c.Name, c.Email, c.Phone, c.Card, c.IBAN, c.IP, c.SSN, c.Diagnosis, *c.Nickname,
		c.Address.Street, c.Address.Postcode, c.Contacts[0].Phone, c.Contacts[1].Phone, "1987-06-14", "4111111111111111", "123456789"}
}

type recordSink struct {
	mu     sync.Mutex
	events []AuditEvent
	err    error
}

func (r *recordSink) Audit(_ context.Context, ev AuditEvent) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	return r.err
}

func (r *recordSink) kinds() []EventKind {
	r.mu.Lock()
	defer r.mu.Unlock()
	var k []EventKind
	for _, e := range r.events {
		k = append(k, e.Kind)
	}
	return k
}

func TestViewAgentDirectMessage(t *testing.T) {
	vs, err := NewViews(&ViewsOptions{Audit: &recordSink{}})
	require.NoError(t, err)
	orig := newCustomer()
	before := deepCopy(reflectValue(orig)).Interface()
	agent := Viewer{ID: "agent-7", Role: "agent", Channel: ChannelDirectMessage}

	got, err := ViewOf(context.Background(), vs, agent, orig)
	require.NoError(t, err)
	require.Equal(t, before, deepCopy(reflectValue(orig)).Interface(), "the original is never modified")

	require.Equal(t, "cus_42", got.ID)
	require.Equal(t, "gold", got.Plan)
	require.Equal(t, "A. L.", got.Name)
	require.Equal(t, "a***@example.com", got.Email)
	require.Equal(t, "+44 ******3456", got.Phone)
	require.Equal(t, "**** **** **** 1111", got.Card)
	require.Equal(t, "DE** **** **** **** **30 00", got.IBAN)
	require.Equal(t, "203.0.113.0/24", got.IP)
	require.Equal(t, time.Date(1987, 1, 1, 0, 0, 0, 0, time.UTC), got.BirthDate)
	require.Equal(t, "*******6789", got.SSN)
	require.Equal(t, Placeholder, got.Diagnosis)
	require.Equal(t, "a*******", *got.Nickname)
	require.Equal(t, "****************", got.Address.Street)
	require.Equal(t, "O******", got.Address.Postcode)
	require.Equal(t, "Oxford", got.Address.City)
	require.Equal(t, "+1 ******2671", got.Contacts[0].Phone)
	require.Equal(t, "work", got.Contacts[0].Label)

	// The copy shares nothing reachable with the original.
	got.Contacts[0].Label = "changed"
	*got.Nickname = "changed"
	require.Equal(t, "work", orig.Contacts[0].Label)
	require.Equal(t, "ally_cat", *orig.Nickname)
}

func TestViewPublicDeniesSensitive(t *testing.T) {
	vs, err := NewViews(nil)
	require.NoError(t, err)
	c := newCustomer()
	got, err := ViewOf(context.Background(), vs, Viewer{ID: "a", Role: "agent", Channel: ChannelPublicSocial}, c)
	require.NoError(t, err)
	require.Empty(t, got.Card)
	require.Empty(t, got.SSN)
	require.Empty(t, got.Diagnosis)
	require.Equal(t, "a***@example.com", got.Email, "non-sensitive fields stay masked")

	// A field tagged sensitive is denied on public channels whatever its
	// category.
	type note struct {
		ID   string `pii:"id"`
		Name string `pii:"name,sensitive"`
		Nick string `pii:"name"`
	}
	n, err := ViewOf(context.Background(), vs, Viewer{ID: "a", Role: "agent", Channel: ChannelPublicSocial}, &note{ID: "n", Name: "Ada Lovelace", Nick: "Ada Lovelace"})
	require.NoError(t, err)
	require.Empty(t, n.Name)
	require.Equal(t, "A. L.", n.Nick)
	n, err = ViewOf(context.Background(), vs, Viewer{ID: "a", Role: "agent", Channel: ChannelDirectMessage}, &note{ID: "n", Name: "Ada Lovelace"})
	require.NoError(t, err)
	require.Equal(t, "A. L.", n.Name)

	// An unknown channel is public.
	got, err = ViewOf(context.Background(), vs, Viewer{ID: "a", Role: "agent", Channel: "carrier_pigeon"}, c)
	require.NoError(t, err)
	require.Empty(t, got.Card)
}

func TestPolicyRules(t *testing.T) {
	vs, err := NewViews(&ViewsOptions{Audit: &recordSink{}, Rules: []Rule{
		{Category: "card", Role: "fraud", Channel: ChannelSecureChat, Action: ActionReveal},
		{Field: "Email", Action: ActionMask, Style: "email:mask-domain"},
		{Category: "phone", Role: "agent", Action: ActionMask, Style: "last4"},
		{Field: "Contacts[].Phone", Role: "agent", Action: ActionDeny},
		{Category: "health", Channel: ChannelSecureChat, Role: "nurse", Action: ActionReveal},
	}})
	require.NoError(t, err)
	c := newCustomer()
	ctx := context.Background()

	fraud, err := ViewOf(ctx, vs, Viewer{ID: "f1", Role: "fraud", Channel: ChannelSecureChat}, c)
	require.NoError(t, err)
	require.Equal(t, c.Card, fraud.Card)
	require.Equal(t, "a***@*******.com", fraud.Email)

	agent, err := ViewOf(ctx, vs, Viewer{ID: "a1", Role: "agent", Channel: ChannelDirectMessage}, c)
	require.NoError(t, err)
	require.Equal(t, "***********3456", agent.Phone)
	require.Empty(t, agent.Contacts[0].Phone)
	require.Equal(t, "**** **** **** 1111", agent.Card)

	nurse, err := ViewOf(ctx, vs, Viewer{ID: "n1", Role: "nurse", Channel: ChannelSecureChat}, c)
	require.NoError(t, err)
	require.Equal(t, "asthma", nurse.Diagnosis)
	nurse, err = ViewOf(ctx, vs, Viewer{ID: "n1", Role: "nurse", Channel: ChannelPublicSocial}, c)
	require.NoError(t, err)
	require.Empty(t, nurse.Diagnosis)

	// A rule that names no channel does not lift the public-channel floor
	// for sensitive data; a rule naming the public channel does.
	p2, err := newPolicy(&ViewsOptions{Rules: []Rule{
		{Category: "card", Role: "fraud", Action: ActionMask, Style: "card:bin6"},
		{Category: "health", Role: "nurse", Action: ActionReveal},
		{Category: "national_id", Role: "press", Channel: ChannelPublicSocial, Action: ActionMask, Style: "fixed"},
	}})
	require.NoError(t, err)
	for _, tc := range []struct {
		role, cat string
		ch        Channel
		want      Action
	}{
		{"fraud", "card", ChannelPublicSocial, ActionDeny},
		{"fraud", "card", ChannelSecureChat, ActionMask},
		{"nurse", "health", ChannelPublicSocial, ActionDeny},
		{"nurse", "health", "carrier_pigeon", ActionDeny},
		{"nurse", "health", ChannelPhone, ActionReveal},
		{"press", "national_id", ChannelPublicSocial, ActionMask},
	} {
		d := p2.decide("X", tc.cat, pii.TagOptions{}, tc.role, tc.ch)
		require.Equal(t, tc.want, d.Action, "%s %s on %s", tc.role, tc.cat, tc.ch)
		if tc.want == ActionDeny {
			require.False(t, d.Revealable)
		}
	}

	_, err = NewViews(&ViewsOptions{Rules: []Rule{{Action: ActionMask, Style: "nope"}}})
	require.ErrorIs(t, err, errUnknownStyle)
	_, err = NewViews(&ViewsOptions{Rules: []Rule{{Action: ActionReveal, Style: "full"}}})
	require.Error(t, err)
	_, err = NewViews(&ViewsOptions{Rules: []Rule{{Action: Action(9)}}})
	require.Error(t, err)
}

func TestViewMap(t *testing.T) {
	vs, err := NewViews(nil)
	require.NoError(t, err)
	c := newCustomer()
	agent := Viewer{ID: "a", Role: "agent", Channel: ChannelDirectMessage}
	m, err := vs.ViewMap(context.Background(), agent, c)
	require.NoError(t, err)
	require.Equal(t, "a***@example.com", m["Email"])
	require.Equal(t, "1987-**-**", m["BirthDate"])
	require.Equal(t, "+1 ******2671", m["Contacts[0].Phone"])
	require.Equal(t, "+33 ******678", m["Contacts[1].Phone"])
	require.Len(t, m, 14)

	pub, err := vs.ViewMap(context.Background(), Viewer{ID: "a", Role: "agent", Channel: ChannelPublicSocial}, c)
	require.NoError(t, err)
	require.NotContains(t, pub, "Card")
	require.NotContains(t, pub, "Diagnosis")

	js, err := json.Marshal(m)
	require.NoError(t, err)
	var back map[string]any
	require.NoError(t, json.Unmarshal(js, &back))
	require.Equal(t, m, back)
	for _, v := range clearValues(c) {
		require.NotContains(t, string(js), v)
	}

	_, err = vs.ViewMap(context.Background(), agent, *c)
	require.Error(t, err)
	_, err = ViewOf(context.Background(), vs, agent, (*testCustomer)(nil))
	require.Error(t, err)
}

func TestReveal(t *testing.T) {
	sink := &recordSink{}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	vs, err := NewViews(&ViewsOptions{Audit: sink, Clock: piitest.NewClock(now)})
	require.NoError(t, err)
	c := newCustomer()
	ctx := context.Background()
	sup := Viewer{ID: "sup-1", Role: "supervisor", Channel: ChannelSecureChat}

	tests := []struct {
		name    string
		viewer  Viewer
		field   string
		reason  string
		want    string
		wantErr error
		event   EventKind
	}{
		{"supervisor email", sup, "Email", "customer asked to confirm address", c.Email, nil, EventReveal},
		{"no reason", sup, "Email", "  ", "", ErrReasonRequired, ""},
		{"agent denied", Viewer{ID: "a", Role: "agent", Channel: ChannelSecureChat}, "Email", "curious", "", ErrDenied, EventRevealDenied},
		{"supervisor not on card", sup, "Card", "refund", "", ErrDenied, EventRevealDenied},
		{"fraud card", Viewer{ID: "f", Role: "fraud", Channel: ChannelSecureChat}, "Card", "chargeback 991", c.Card, nil, EventReveal},
		{"fraud card on public", Viewer{ID: "f", Role: "fraud", Channel: ChannelPublicSocial}, "Card", "chargeback 991", "", ErrDenied, EventRevealDenied},
		{"no viewer id", Viewer{Role: "supervisor", Channel: ChannelSecureChat}, "Email", "x", "", ErrDenied, EventRevealDenied},
		{"unknown field", sup, "Nope", "x", "", errNoField, ""},
		{"nested field", Viewer{ID: "f", Role: "fraud", Channel: ChannelPhone}, "Phone", "callback", c.Phone, nil, EventReveal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := len(sink.kinds())
			got, err := vs.Reveal(ctx, tt.viewer, c, tt.field, tt.reason)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.Empty(t, got)
			} else {
				require.NoError(t, err)
				require.Equal(t, tt.want, got)
			}
			k := sink.kinds()
			if tt.event == "" {
				require.Len(t, k, n)
				return
			}
			require.Len(t, k, n+1)
			ev := sink.events[len(sink.events)-1]
			require.Equal(t, tt.event, ev.Kind)
			require.Equal(t, tt.viewer.ID, ev.Viewer)
			require.Equal(t, "cus_42", ev.Record)
			require.Equal(t, tt.field, ev.Field)
			require.Equal(t, now, ev.Time)
			require.Equal(t, strings.TrimSpace(tt.reason), ev.Reason)
			for _, v := range clearValues(c) {
				require.NotContains(t, fmt.Sprintf("%+v", ev), v)
			}
		})
	}

	// A failing audit sink reveals nothing.
	sink.err = fmt.Errorf("disk full")
	_, err = vs.Reveal(ctx, sup, c, "Email", "reason")
	require.Error(t, err)
	require.NotContains(t, err.Error(), c.Email)
}

func TestRevealConcretePath(t *testing.T) {
	sink := &recordSink{}
	vs, err := NewViews(&ViewsOptions{Audit: sink, Rules: []Rule{{Field: "Contacts[].Phone", Role: "supervisor", Action: ActionReveal}}})
	require.NoError(t, err)
	c := newCustomer()
	got, err := vs.Reveal(context.Background(), Viewer{ID: "s", Role: "supervisor", Channel: ChannelPhone}, c, "Contacts[1].Phone", "call back")
	require.NoError(t, err)
	require.Equal(t, c.Contacts[1].Phone, got)
	require.Equal(t, "Contacts[1].Phone", sink.events[0].Field)
}

func TestRevealBudget(t *testing.T) {
	for _, refuse := range []bool{false, true} {
		t.Run(fmt.Sprint("refuse=", refuse), func(t *testing.T) {
			sink := &recordSink{}
			clk := piitest.NewClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
			vs, err := NewViews(&ViewsOptions{Audit: sink, RevealBudget: 3, RevealWindow: time.Minute,
				RefuseOverBudget: refuse, Clock: clk})
			require.NoError(t, err)
			c := newCustomer()
			sup := Viewer{ID: "sup-1", Role: "supervisor", Channel: ChannelSecureChat}
			other := Viewer{ID: "sup-2", Role: "supervisor", Channel: ChannelSecureChat}
			ctx := context.Background()
			for range 3 {
				_, err := vs.Reveal(ctx, sup, c, "Email", "r")
				require.NoError(t, err)
				clk.Add(time.Second)
			}
			require.Equal(t, []EventKind{EventReveal, EventReveal, EventReveal}, sink.kinds())

			got, err := vs.Reveal(ctx, sup, c, "Email", "r")
			if refuse {
				require.ErrorIs(t, err, ErrBudgetExceeded)
				require.Empty(t, got)
				require.Equal(t, EventBudgetExceeded, sink.kinds()[3])
				require.Len(t, sink.kinds(), 4)
			} else {
				require.NoError(t, err)
				require.Equal(t, c.Email, got)
				require.Equal(t, []EventKind{EventBudgetExceeded, EventReveal}, sink.kinds()[3:])
			}
			alert := sink.events[3]
			require.Equal(t, 4, alert.Count)
			require.Equal(t, time.Minute, alert.Window)

			// Budgets are per viewer.
			_, err = vs.Reveal(ctx, other, c, "Email", "r")
			require.NoError(t, err)

			// The window slides.
			clk.Add(2 * time.Minute)
			n := len(sink.kinds())
			_, err = vs.Reveal(ctx, sup, c, "Email", "r")
			require.NoError(t, err)
			require.Equal(t, []EventKind{EventReveal}, sink.kinds()[n:])
		})
	}
	_, err := NewViews(&ViewsOptions{RevealBudget: -1})
	require.Error(t, err)
	_, err = NewViews(&ViewsOptions{RevealWindow: -time.Second})
	require.Error(t, err)
}

func TestSlogAudit(t *testing.T) {
	var buf bytes.Buffer
	sink := SlogAudit(slog.New(slog.NewJSONHandler(&buf, nil)))
	vs, err := NewViews(&ViewsOptions{Audit: sink, RevealBudget: 1, RevealWindow: time.Hour})
	require.NoError(t, err)
	c := newCustomer()
	sup := Viewer{ID: "sup-1", Role: "supervisor", Channel: ChannelSecureChat}
	for range 2 {
		_, err = vs.Reveal(context.Background(), sup, c, "Email", "confirm address")
		require.NoError(t, err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 3)
	var first, alert map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &first))
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &alert))
	require.Equal(t, "INFO", first["level"])
	require.Equal(t, "reveal", first["event"])
	require.Equal(t, "sup-1", first["viewer"])
	require.Equal(t, "Email", first["field"])
	require.Equal(t, "cus_42", first["record"])
	require.Equal(t, "confirm address", first["reason"])
	require.Equal(t, "WARN", alert["level"])
	require.Equal(t, "budget_exceeded", alert["event"])
	require.EqualValues(t, 2, alert["count"])
	require.NotContains(t, buf.String(), c.Email)
}

func TestViewsConcurrent(t *testing.T) {
	vs, err := NewViews(&ViewsOptions{Audit: &recordSink{}, RevealBudget: 1000})
	require.NoError(t, err)
	c := newCustomer()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			v := Viewer{ID: fmt.Sprint("v", i%2), Role: []string{"agent", "supervisor"}[i%2], Channel: ChannelDirectMessage}
			for range 50 {
				got, err := ViewOf(context.Background(), vs, v, c)
				require.NoError(t, err)
				require.Equal(t, "a***@example.com", got.Email)
				if v.Role == "supervisor" {
					_, err = vs.Reveal(context.Background(), v, c, "Email", "r")
					require.NoError(t, err)
				}
			}
		})
	}
	wg.Wait()
	require.Equal(t, "alice@example.com", c.Email)
}

func TestText(t *testing.T) {
	msg := "card 4111 1111 1111 1111, mail alice@example.com, call +44 7911 123456, ssn 123-45-6789"
	out, fs := Text(msg, nil, ChannelPublicSocial)
	require.Len(t, fs, 4)
	require.Equal(t, "card [card removed], mail a***@example.com, call +44 ******3456, ssn [ssn removed]", out)

	out, _ = Text(msg, nil, ChannelSecureChat)
	require.Equal(t, "card **** **** **** 1111, mail a***@example.com, call +44 ******3456, ssn *******6789", out)

	vs, err := NewViews(&ViewsOptions{Rules: []Rule{{Category: "email", Channel: ChannelEmail, Action: ActionReveal}}})
	require.NoError(t, err)
	out, _ = Text("write to alice@example.com", vs, ChannelEmail)
	require.Equal(t, "write to alice@example.com", out)

	out, fs = Text("nothing here", nil, ChannelPublicSocial)
	require.Equal(t, "nothing here", out)
	require.Empty(t, fs)
}

func TestCheck(t *testing.T) {
	msg := "card 4111 1111 1111 1111 or call +44 7911 123456"
	tests := []struct {
		ch     Channel
		kinds  []Kind
		advice string
	}{
		{ChannelPublicSocial, []Kind{KindCard, KindPhone}, "secure chat or the phone"},
		{ChannelDirectMessage, []Kind{KindCard}, "secure chat or the phone"},
		{ChannelEmail, []Kind{KindCard}, "secure chat or the phone"},
		{ChannelSecureChat, nil, ""},
		{ChannelPhone, nil, ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.ch), func(t *testing.T) {
			err := Check(msg, tt.ch, nil)
			if tt.kinds == nil {
				require.NoError(t, err)
				return
			}
			var ce *ChannelError
			require.ErrorAs(t, err, &ce)
			require.Equal(t, tt.kinds, ce.Kinds)
			require.Contains(t, err.Error(), tt.advice)
			require.True(t, strings.HasPrefix(err.Error(), "mask: "))
			require.NotContains(t, err.Error(), "4111")
		})
	}
	err := Check("mail me at alice@example.com", ChannelPublicSocial, nil)
	require.ErrorContains(t, err, "direct message")
	for _, ch := range []Channel{ChannelDirectMessage, ChannelEmail} {
		err = Check("my SSN is 123-45-6789", ch, nil)
		var ce *ChannelError
		require.ErrorAs(t, err, &ce, "no social security numbers in %s", ch)
		require.Equal(t, []Kind{KindSSN}, ce.Kinds)
		require.ErrorContains(t, err, "secure chat or the phone")
		require.NotContains(t, err.Error(), "6789")
	}
	require.NoError(t, Check("my SSN is 123-45-6789", ChannelSecureChat, nil))
	require.NoError(t, Check("order #12345 ships on 2024-05-12", ChannelPublicSocial, nil))
}

func reflectValue(p *testCustomer) reflect.Value { return reflect.ValueOf(p) }

type testNode struct {
	Email string    `pii:"email"`
	Next  *testNode // untagged, cyclic
	Tags  []string  // untagged
	Meta  map[string]any
}

func TestViewUntaggedPersonalData(t *testing.T) {
	vs, err := NewViews(nil)
	require.NoError(t, err)
	n := &testNode{Email: "bob@example.com", Tags: []string{"vip"}, Meta: map[string]any{"k": []int{1}, "c": newCustomer(), "d": testAddress{}}}
	n.Next = n
	got, err := ViewOf(context.Background(), vs, Viewer{ID: "a", Role: "agent", Channel: ChannelDirectMessage}, n)
	require.NoError(t, err)
	require.Equal(t, "b***@example.com", got.Email)
	require.Nil(t, got.Next, "an untagged field holding tagged data is left out")
	require.Equal(t, []int{1}, got.Meta["k"])
	require.Nil(t, got.Meta["c"])
	require.Nil(t, got.Meta["d"])
	got.Tags[0] = "changed"
	require.Equal(t, "vip", n.Tags[0])
	require.Equal(t, "bob@example.com", n.Email)
}

func TestPolicyScanOptions(t *testing.T) {
	p, err := NewViews(&ViewsOptions{Scan: &ScanOptions{Regions: []string{"GB"}}})
	require.NoError(t, err)
	msg := "my number is 07911 123456"
	require.NoError(t, Check(msg, ChannelPublicSocial, nil), "not a valid US number")
	var ce *ChannelError
	require.ErrorAs(t, Check(msg, ChannelPublicSocial, &ScanOptions{Regions: []string{"GB"}}), &ce)
	require.Equal(t, []Kind{KindPhone}, ce.Kinds)
	out, fs := Text(msg, p, ChannelDirectMessage)
	require.Len(t, fs, 1)
	require.Equal(t, "my number is +44 ******3456", out)
}

// What the public-channel floor covers besides pii's sensitive categories:
// dotted keys whose last part is sensitive, and ViewsOptions.Sensitive.
func TestPublicFloorCategories(t *testing.T) {
	type rec struct {
		ID    string `pii:"id"`
		Card  string `pii:"billing.card,mask=card"`
		Loyal string `pii:"loyalty.number,mask=last4"`
		Nick  string `pii:"username"`
	}
	r := &rec{ID: "r-1", Card: "4111 1111 1111 1111", Loyal: "LOY-99887766", Nick: "ally_cat"}
	pub := Viewer{ID: "a", Role: "agent", Channel: ChannelPublicSocial}
	dm := Viewer{ID: "a", Role: "agent", Channel: ChannelDirectMessage}
	p := &ViewsOptions{Sensitive: []string{"number"}}
	p2 := &ViewsOptions{Sensitive: []string{"username"}}
	for i, tc := range []struct {
		opts              *ViewsOptions
		viewer            Viewer
		card, loyal, nick string
	}{
		{nil, pub, "", "********7766", "a*******"},
		{nil, dm, "**** **** **** 1111", "********7766", "a*******"},
		{p, pub, "", "", "a*******"},
		{p, dm, "**** **** **** 1111", "********7766", "a*******"},
		{p2, pub, "", "********7766", ""},
		{p2, dm, "**** **** **** 1111", "********7766", "a*******"},
	} {
		o := ViewsOptions{Audit: &recordSink{}}
		if tc.opts != nil {
			o.Sensitive = tc.opts.Sensitive
		}
		vs, err := NewViews(&o)
		require.NoError(t, err)
		got, err := ViewOf(context.Background(), vs, tc.viewer, r)
		require.NoError(t, err)
		require.Equal(t, []string{tc.card, tc.loyal, tc.nick}, []string{got.Card, got.Loyal, got.Nick}, "case %d", i)
	}
}

// A rule that masks a field differently does not widen who may reveal it:
// the tag's reveal= list still decides.
func TestMaskRuleKeepsRevealList(t *testing.T) {
	sink := &recordSink{}
	vs, err := NewViews(&ViewsOptions{Audit: sink, Rules: []Rule{{Category: "email", Role: "agent", Action: ActionMask, Style: "email:mask-domain"}}})
	require.NoError(t, err)
	c := newCustomer()
	agent := Viewer{ID: "a", Role: "agent", Channel: ChannelSecureChat}
	got, err := ViewOf(context.Background(), vs, agent, c)
	require.NoError(t, err)
	require.Equal(t, "a***@*******.com", got.Email)
	_, err = vs.Reveal(context.Background(), agent, c, "Email", "curious")
	require.ErrorIs(t, err, ErrDenied)
	require.Equal(t, []EventKind{EventRevealDenied}, sink.kinds())
	email, err := vs.Reveal(context.Background(), Viewer{ID: "s", Role: "supervisor", Channel: ChannelSecureChat}, c, "Email", "confirm")
	require.NoError(t, err)
	require.Equal(t, c.Email, email)
}

// Without ViewsOptions.Audit, reveals are audited to slog.Default(): there
// is no way to turn auditing off. (Not parallel: it swaps the default
// logger.)
func TestRevealAuditsToSlogDefault(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })

	for _, opts := range []*ViewsOptions{nil, {RevealBudget: 5}} {
		buf.Reset()
		vs, err := NewViews(opts)
		require.NoError(t, err)
		c := newCustomer()
		_, err = vs.Reveal(context.Background(), Viewer{ID: "s", Role: "supervisor", Channel: ChannelSecureChat}, c, "Email", "confirm")
		require.NoError(t, err)
		var line map[string]any
		require.NoError(t, json.Unmarshal(buf.Bytes(), &line))
		require.Equal(t, "reveal", line["event"])
		require.Equal(t, "s", line["viewer"])
		require.NotContains(t, buf.String(), c.Email)
	}
}
