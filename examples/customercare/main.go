// Command customercare shows what a customer-care team sees of one customer,
// depending on who is looking and where the conversation happens:
//
//	go run ./examples/customercare
//
// It prints, for three roles (agent, supervisor, fraud analyst) and four
// channels (a public social reply, a direct message, the brand's secure chat
// and a phone call), the masked view package mask renders from the struct
// tags and a small policy. Then it refuses a public reply that carries a
// card number (mask.Check) and shows the advice the agent gets, performs a
// supervisor's audited reveal (the audit line is a log/slog record), and
// lets a fraud analyst reveal until the reveal budget raises the breach
// alert and further reveals are refused.
//
// No server and no key are needed: masking is for display and works on the
// clear values the application already holds.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fieldguard/pii/mask"
)

// Customer is the record a customer-care tool loads. The tags say how each
// field is masked by default and which roles may reveal it.
type Customer struct {
	ID        string    `pii:"subject"`
	Tenant    string    `pii:"tenant"` // the brand whose support desk this is; audit lines carry it
	Name      string    `pii:"name,mask=initials"`
	Email     string    `pii:"email,mask=email,reveal=supervisor|fraud"`
	Phone     string    `pii:"phone,mask=phone,reveal=supervisor|fraud"`
	Card      string    `pii:"card,mask=card,reveal=fraud"`
	BirthDate time.Time `pii:"dob,mask=date,reveal=supervisor"`
	Plan      string    `pii:"-"`
}

// fixedClock is the example's clock: a fixed "now", so the audit lines are
// reproducible. A service passes nil (the system clock); tests use
// piitest.NewClock.
type fixedClock struct{}

func (fixedClock) Now() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) }

var (
	roles    = []string{"agent", "supervisor", "fraud"}
	channels = []mask.Channel{mask.ChannelPublicSocial, mask.ChannelDirectMessage, mask.ChannelSecureChat, mask.ChannelPhone}
	columns  = []string{"Name", "Email", "Phone", "Card", "BirthDate"}
)

// rules refine the tag defaults:
//   - nothing but initials on a public reply (the default policy already
//     denies the card there, a sensitive category);
//   - fraud analysts see the card's BIN as well (PCI DSS 3.4.1 allows it);
//   - on the phone, a supervisor sees the number they are calling in clear.
var rules = []mask.Rule{
	{Category: "email", Channel: mask.ChannelPublicSocial, Action: mask.ActionDeny},
	{Category: "phone", Channel: mask.ChannelPublicSocial, Action: mask.ActionDeny},
	{Category: "dob", Channel: mask.ChannelPublicSocial, Action: mask.ActionDeny},
	{Category: "card", Role: "fraud", Action: mask.ActionMask, Style: "card:bin6"},
	// A role rule is more specific than a channel rule, and an explicit
	// rule overrides the default denial of sensitive categories on
	// public channels: say again that the card stays off them.
	{Category: "card", Role: "fraud", Channel: mask.ChannelPublicSocial, Action: mask.ActionDeny},
	{Category: "phone", Role: "supervisor", Channel: mask.ChannelPhone, Action: mask.ActionReveal},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("customercare", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	budget := fs.Int("budget", 3, "reveals one viewer may make per hour before the breach alert")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "Usage: go run ./examples/customercare [-budget N]")
			return 0
		}
		fmt.Fprintln(stderr, "customercare:", err)
		return 2
	}
	if fs.NArg() > 0 || *budget < 1 {
		fmt.Fprintln(stderr, "customercare: takes no arguments and -budget must be at least 1")
		return 2
	}
	if err := demo(context.Background(), stdout, *budget); err != nil {
		fmt.Fprintln(stderr, "customercare:", err)
		return 1
	}
	return 0
}

func demo(ctx context.Context, out io.Writer, budget int) error {
	// Synthetic data: the card is the well-known test number 4111…, the
	// phone a number reserved for drama.
	c := &Customer{
		ID: "cus_1042", Tenant: "acme", Name: "Ada Lovelace", Email: "ada.lovelace@example.com",
		Phone: "+44 20 7946 0958", Card: "4111 1111 1111 1111",
		BirthDate: time.Date(1985, 12, 10, 0, 0, 0, 0, time.UTC), Plan: "gold",
	}
	// Audit events go to a slog text handler. The handler's own time is
	// dropped; the event carries the reveal time from the (fixed) clock.
	logger := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	views, err := mask.NewViews(&mask.ViewsOptions{
		Rules:            rules,
		Audit:            mask.SlogAudit(logger),
		RevealBudget:     budget,
		RevealWindow:     time.Hour,
		RefuseOverBudget: true,
		Clock:            fixedClock{},
	})
	if err != nil {
		return err
	}

	fmt.Fprintf(out, "== 1. What each agent sees of customer %s, by channel (- = hidden)\n\n", c.ID)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "ROLE\tCHANNEL\t%s\n", strings.ToUpper(strings.Join(columns, "\t")))
	for _, role := range roles {
		for _, ch := range channels {
			m, err := views.ViewMap(ctx, mask.Viewer{ID: role + "-1", Role: role, Channel: ch}, c)
			if err != nil {
				return err
			}
			cells := make([]string, len(columns))
			for i, col := range columns {
				cells[i] = "-"
				if v, ok := m[col].(string); ok {
					cells[i] = v
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", role, ch, strings.Join(cells, "\t"))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintf(out, "\n== 2. An agent drafts a public reply\n\n")
	draft := "@ada_l Sorry about that! I have updated card " + c.Card + " on your account."
	fmt.Fprintf(out, "draft:   %s\n", draft)
	var ce *mask.ChannelError
	switch err := mask.Check(draft, mask.ChannelPublicSocial, nil); {
	case errors.As(err, &ce):
		fmt.Fprintf(out, "refused: the reply carries %s, which %s must not carry\n", kinds(ce.Kinds), ce.Channel)
		fmt.Fprintf(out, "advice:  %s\n", ce.Advice)
	case err != nil:
		return err
	default:
		return errors.New("the public reply with a card number was not refused")
	}
	fmt.Fprintln(out, "the same words on each channel:")
	for _, ch := range channels {
		verdict := "allowed"
		if err := mask.Check(draft, ch, nil); errors.As(err, &ce) {
			verdict = "refused (" + kinds(ce.Kinds) + ")"
		} else if err != nil {
			return err
		}
		fmt.Fprintf(out, "  %-15s %s\n", ch, verdict)
	}
	redacted, _ := mask.Text(draft, views, mask.ChannelPublicSocial)
	fmt.Fprintf(out, "or let mask.Text redact it: %s\n", redacted)
	safe := "@ada_l Sorry about that! Let's continue in our secure chat so we can check your payment details."
	fmt.Fprintf(out, "rewrite: %s\ncheck:   %v\n", safe, okOr(mask.Check(safe, mask.ChannelPublicSocial, nil)))

	fmt.Fprintf(out, "\n== 3. Reveals are audited (each line below is the audit record)\n\n")
	agent := mask.Viewer{ID: "agent-7", Role: "agent", Channel: mask.ChannelSecureChat}
	if _, err := views.Reveal(ctx, agent, c, "Email", "customer asked what address we have"); !errors.Is(err, mask.ErrDenied) {
		return fmt.Errorf("agent reveal: want denial, got %v", err)
	}
	fmt.Fprintf(out, "-> agent-7 may not reveal the e-mail: %v\n", mask.ErrDenied)
	sup := mask.Viewer{ID: "sup-2", Role: "supervisor", Channel: mask.ChannelSecureChat}
	email, err := views.Reveal(ctx, sup, c, "Email", "customer asked what address we have")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "-> sup-2 reads the e-mail to the customer: %s\n", email)

	fmt.Fprintf(out, "\n== 4. A fraud analyst keeps revealing: the budget is %d reveals per hour\n\n", budget)
	fraud := mask.Viewer{ID: "fraud-3", Role: "fraud", Channel: mask.ChannelSecureChat}
	for i := 1; i <= budget+1; i++ {
		card, err := views.Reveal(ctx, fraud, c, "Card", fmt.Sprintf("chargeback case CB-%d", 880+i))
		switch {
		case errors.Is(err, mask.ErrBudgetExceeded):
			fmt.Fprintf(out, "-> reveal %d refused: %v; the alert above goes to the security team\n", i, err)
		case err != nil:
			return err
		default:
			fmt.Fprintf(out, "-> reveal %d: card %s\n", i, card)
		}
	}
	return nil
}

func kinds(ks []mask.Kind) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

func okOr(err error) string {
	if err == nil {
		return "ok, nothing to refuse"
	}
	return err.Error()
}
