package mask_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/fieldguard/pii/mask"
)

func Example_styles() {
	fmt.Println(mask.Apply("card", "4111 1111 1111 1111"))
	fmt.Println(mask.Apply("card:bin6", "4111-1111-1111-1111"))
	fmt.Println(mask.Apply("email", "alice.smith@example.com"))
	fmt.Println(mask.Apply("email:mask-domain", "alice.smith@example.com"))
	fmt.Println(mask.Apply("phone", "+44 7911 123456"))
	fmt.Println(mask.Apply("iban", "DE89 3704 0044 0532 0130 00"))
	fmt.Println(mask.Apply("ip", "2001:db8:abcd:12::1"))
	fmt.Println(mask.Apply("date", "1987-06-14"))
	fmt.Println(mask.Apply("initials", "Ada Lovelace"))
	fmt.Println(mask.Apply("card", "not a card"))
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
	// ********
}

func ExampleMasker_Register() {
	// Test key: never hard-code a key in production.
	m, err := mask.NewMasker(&mask.MaskerOptions{HMACKey: []byte("0123456789abcdef"), HMACKeyID: "k1"})
	if err != nil {
		panic(err)
	}
	err = m.Register("zip3", func(v, _ string) string {
		if len(v) < 5 {
			return mask.Placeholder
		}
		return v[:3] + "**"
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

type Customer struct {
	ID        string    `pii:"id"`
	Name      string    `pii:"name,mask=initials"`
	Email     string    `pii:"email,mask=email,reveal=supervisor,log=mask"`
	Phone     string    `pii:"phone,reveal=supervisor"`
	Card      string    `pii:"card,mask=card,reveal=fraud"`
	BirthDate time.Time `pii:"dob,mask=date"`
	Plan      string    `pii:"-"`
}

func ExampleViews_View() {
	views, err := mask.NewViews(nil, nil)
	if err != nil {
		panic(err)
	}
	c := &Customer{ID: "cus_42", Name: "Ada Lovelace", Email: "ada@example.com", Phone: "+44 7911 123456",
		Card: "4111 1111 1111 1111", BirthDate: time.Date(1815, 12, 10, 0, 0, 0, 0, time.UTC), Plan: "gold"}

	dm, _ := mask.ViewOf(context.Background(), views, mask.Viewer{ID: "agent-7", Role: "agent", Channel: mask.DirectMessage}, c)
	fmt.Println(dm.Name, dm.Email, dm.Phone, dm.Card, dm.BirthDate.Year(), dm.Plan)

	// On a public channel the card (a sensitive category) is denied.
	pub, _ := views.ViewJSON(context.Background(), mask.Viewer{ID: "agent-7", Role: "agent", Channel: mask.PublicSocial}, c)
	fmt.Println(string(pub))
	// Output:
	// A. L. a***@example.com +44 ******3456 **** **** **** 1111 1815 gold
	// {"BirthDate":"1815-**-**","Email":"a***@example.com","Name":"A. L.","Phone":"+44 ******3456"}
}

func ExampleViews_Reveal() {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	audit := mask.AuditFunc(func(_ context.Context, ev mask.AuditEvent) error {
		fmt.Printf("audit: %s by %s of %s.%s on %s: %q\n", ev.Kind, ev.Viewer, ev.Record, ev.Field, ev.Time.Format(time.RFC3339), ev.Reason)
		return nil
	})
	views, _ := mask.NewViews(nil, &mask.ViewsOptions{
		Audit:  audit,
		Budget: mask.Budget{Max: 50, Window: time.Hour},
		Now:    func() time.Time { return now },
	})
	c := &Customer{ID: "cus_42", Email: "ada@example.com"}

	_, err := views.Reveal(context.Background(), mask.Viewer{ID: "agent-7", Role: "agent", Channel: mask.SecureChat}, c, "Email", "curious")
	fmt.Println(err)
	email, err := views.Reveal(context.Background(), mask.Viewer{ID: "sup-1", Role: "supervisor", Channel: mask.SecureChat}, c, "Email", "customer asked to confirm")
	fmt.Println(email, err)
	// Output:
	// audit: reveal_denied by agent-7 of cus_42.Email on 2026-11-23T12:00:00Z: "curious"
	// mask: not allowed to reveal this field
	// audit: reveal by sup-1 of cus_42.Email on 2026-11-23T12:00:00Z: "customer asked to confirm"
	// ada@example.com <nil>
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
	out, _ := mask.Text("my card is 4111 1111 1111 1111 and my email alice@example.com", nil, mask.PublicSocial)
	fmt.Println(out)
	// Output:
	// my card is [card removed] and my email a***@example.com
}

func ExampleCheck() {
	err := mask.Check("Sure! Your card 4111 1111 1111 1111 is updated.", mask.PublicSocial)
	fmt.Println(err)
	fmt.Println(mask.Check("Your order ships on 2026-12-01.", mask.PublicSocial))
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
	// Output:
	// {type:Customer ID:cus_42 Email:a***@example.com}
	// {type:Customer ID:cus_42 Email:a***@example.com}
	// mask.Redacted("[REDACTED]")
	// level=INFO msg=updated customer.type=Customer customer.ID=cus_42 customer.Email=a***@example.com
}
