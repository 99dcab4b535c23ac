package mask_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/fieldguard/pii/mask"
	"github.com/fieldguard/pii/piitest"
)

type Customer struct {
	ID        string    `pii:"id"`
	Name      string    `pii:"name,mask=initials"`
	Email     string    `pii:"email,mask=email,reveal=supervisor,log=mask"`
	Phone     string    `pii:"phone,reveal=supervisor"`
	Card      string    `pii:"card,mask=card,reveal=fraud"`
	BirthDate time.Time `pii:"dob,mask=date"`
	Plan      string    `pii:"-"`
}

// The struct-level path: a masked copy of a tagged struct, as one viewer
// on one channel may see it. The tags give the styles; the original is
// untouched.
func Example() {
	views, err := mask.NewViews(nil) // tag defaults; reveals audited to slog.Default()
	if err != nil {
		panic(err)
	}
	c := &Customer{ID: "cus_42", Name: "Ada Lovelace", Email: "ada@example.com", Phone: "+44 7911 123456",
		Card: "4111 1111 1111 1111", BirthDate: time.Date(1815, 12, 10, 0, 0, 0, 0, time.UTC), Plan: "gold"}

	agent := mask.Viewer{ID: "agent-7", Role: "agent", Channel: mask.ChannelDirectMessage}
	v, err := mask.ViewOf(context.Background(), views, agent, c)
	if err != nil {
		panic(err)
	}
	fmt.Println(v.Name, v.Email, v.Phone, v.Card, v.BirthDate.Year(), v.Plan)
	fmt.Println(c.Email)
	// Output:
	// A. L. a***@example.com +44 ******3456 **** **** **** 1111 1815 gold
	// ada@example.com
}

func ExampleViews_ViewMap() {
	views, err := mask.NewViews(nil)
	if err != nil {
		panic(err)
	}
	c := &Customer{ID: "cus_42", Name: "Ada Lovelace", Email: "ada@example.com", Phone: "+44 7911 123456",
		Card: "4111 1111 1111 1111", BirthDate: time.Date(1815, 12, 10, 0, 0, 0, 0, time.UTC)}

	// On a public channel the card (a sensitive category) is denied.
	m, err := views.ViewMap(context.Background(), mask.Viewer{ID: "agent-7", Role: "agent", Channel: mask.ChannelPublicSocial}, c)
	if err != nil {
		panic(err)
	}
	js, _ := json.Marshal(m)
	fmt.Println(string(js))
	// Output:
	// {"BirthDate":"1815-**-**","Email":"a***@example.com","Name":"A. L.","Phone":"+44 ******3456"}
}

// printAudit is an audit sink that prints the events; a real one writes
// them where the audit trail is kept, and its error stops the reveal.
type printAudit struct{}

func (printAudit) Audit(_ context.Context, ev mask.AuditEvent) error {
	fmt.Printf("audit: %s by %s of %s.%s on %s: %q\n", ev.Kind, ev.Viewer, ev.Record, ev.Field, ev.Time.Format(time.RFC3339), ev.Reason)
	return nil
}

func ExampleViews_Reveal() {
	views, _ := mask.NewViews(&mask.ViewsOptions{
		Audit:        printAudit{},
		RevealBudget: 50,
		RevealWindow: time.Hour,
		Clock:        piitest.NewClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)),
	})
	c := &Customer{ID: "cus_42", Email: "ada@example.com"}

	_, err := views.Reveal(context.Background(), mask.Viewer{ID: "agent-7", Role: "agent", Channel: mask.ChannelSecureChat}, c, "Email", "curious")
	fmt.Println(err)
	email, err := views.Reveal(context.Background(), mask.Viewer{ID: "sup-1", Role: "supervisor", Channel: mask.ChannelSecureChat}, c, "Email", "customer asked to confirm")
	fmt.Println(email, err)
	// Output:
	// audit: reveal_denied by agent-7 of cus_42.Email on 2026-11-23T12:00:00Z: "curious"
	// mask: not allowed to reveal this field
	// audit: reveal by sup-1 of cus_42.Email on 2026-11-23T12:00:00Z: "customer asked to confirm"
	// ada@example.com <nil>
}

// One value, one style: the built-in styles and their arguments.
func ExampleMasker_Mask() {
	m, err := mask.NewMasker(nil)
	if err != nil {
		panic(err)
	}
	for _, x := range []struct {
		style mask.Style
		value string
	}{
		{"card", "4111 1111 1111 1111"},
		{"card:bin6", "4111-1111-1111-1111"},
		{"email", "alice.smith@example.com"},
		{"email:mask-domain", "alice.smith@example.com"},
		{"phone", "+44 7911 123456"},
		{"iban", "DE89 3704 0044 0532 0130 00"},
		{"ip", "2001:db8:abcd:12::1"},
		{"date", "1987-06-14"},
		{"initials", "Ada Lovelace"},
		{"first-char", "alice"},
		{"card", "not a card"},
	} {
		out, err := m.Mask(x.style, x.value)
		if err != nil {
			panic(err)
		}
		fmt.Println(out)
	}
	_, err = m.Mask("card:bin9", "4111 1111 1111 1111")
	fmt.Println(err)
	// Output:
	// **** **** **** 1111
	// 4111-11**-****-1111
	// a***@example.com
	// a***@*******.com
	// +44 ******3456
	// DE** **** **** **** **30 00
	// 2001:db8:abcd::/48
	// 1987-**-**
	// A. L.
	// a****
	// ********
	// mask: unknown style argument
}

// A Masker with an HMAC key and a custom style, zip3, which tags, rules
// and Mask then name like a built-in one.
func ExampleNewMasker() {
	zip3 := func(v, _ string) string {
		if len(v) < 5 {
			return mask.Placeholder
		}
		return v[:3] + "**"
	}
	m, err := mask.NewMasker(&mask.MaskerOptions{
		// Test key: never hard-code a key in production.
		HMACKey: []byte("0123456789abcdef"), HMACKeyID: "k1",
		Styles: map[string]func(value, arg string) string{"zip3": zip3},
	})
	if err != nil {
		panic(err)
	}
	zip, _ := m.Mask("zip3", "94107")
	pseudo, _ := m.Mask("hmac", "alice@example.com")
	fmt.Println(zip)
	fmt.Println(pseudo[:8], len(pseudo))
	// Output:
	// 941**
	// hmac:k1: 40
}

func ExampleScan() {
	msg := "Hi, card 4111 1111 1111 1111, call me on +44 20 7946 0958 about order #5551234567."
	for _, f := range mask.Scan(msg, nil) {
		fmt.Println(f.Kind, msg[f.Start:f.End])
	}
	// Output:
	// card 4111 1111 1111 1111
	// phone +44 20 7946 0958
}

func ExampleText() {
	out, _ := mask.Text("my card is 4111 1111 1111 1111 and my email alice@example.com", nil, mask.ChannelPublicSocial)
	fmt.Println(out)
	// Output:
	// my card is [card removed] and my email a***@example.com
}

func ExampleCheck() {
	err := mask.Check("Sure! Your card 4111 1111 1111 1111 is updated.", mask.ChannelPublicSocial, nil)
	fmt.Println(err)
	fmt.Println(mask.Check("Your order ships on 2026-12-01.", mask.ChannelPublicSocial, nil))
	// Output:
	// mask: public_social must not carry card; move the conversation to the secure chat or the phone
	// <nil>
}

func ExampleRedacted() {
	c := &Customer{ID: "cus_42", Name: "Ada Lovelace", Email: "ada@example.com", Card: "4111 1111 1111 1111"}
	r := mask.Redacted(c)
	fmt.Printf("%v\n%x\n%#v\n", r, r, mask.Redacted("4111 1111 1111 1111"))
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	logger.Info("updated", "customer", r)
	js, _ := json.Marshal(r)
	fmt.Println(string(js))
	// Output:
	// {type:Customer ID:cus_42 Email:a***@example.com}
	// {type:Customer ID:cus_42 Email:a***@example.com}
	// mask.Redacted("[REDACTED]")
	// level=INFO msg=updated customer.type=Customer customer.ID=cus_42 customer.Email=a***@example.com
	// {"type":"Customer","ID":"cus_42","Email":"a***@example.com"}
}
