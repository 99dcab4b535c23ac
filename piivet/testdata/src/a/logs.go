package a

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"

	"github.com/fieldguard/pii/mask"
)

// Self formats itself: printing it is its own business.
type Self struct {
	Email string `pii:"email"`
}

func (Self) Format(f fmt.State, _ rune) { fmt.Fprint(f, "[self]") }

func logs(ctx context.Context, c Customer, cp *Customer, all []Customer, byID map[string]*Customer, s Self, l *slog.Logger, lg *log.Logger) {
	fmt.Println(c)                                             // want `pii: Customer holds personal data and is passed to fmt.Println unredacted; wrap it with mask.Redacted`
	fmt.Printf("%v\n", cp)                                     // want `pii: Customer holds personal data and is passed to fmt.Printf unredacted`
	_ = fmt.Sprint(all)                                        // want `pii: Customer holds personal data and is passed to fmt.Sprint`
	fmt.Fprintln(os.Stderr, byID)                              // want `Customer holds personal data`
	fmt.Println(c.Email)                                       // want `pii: Customer.Email \(category email\) passed to fmt.Println; log mask.Redacted\(v\) of its struct, or leave it out`
	fmt.Println(&c.Phone)                                      // want `Customer.Phone \(category phone\)`
	fmt.Println(c.Contacts[0].Phone)                           // want `Contact.Phone \(category phone\)`
	_ = fmt.Errorf("customer %s: %w", c.Email, os.ErrNotExist) // want `Customer.Email \(category email\) passed to fmt.Errorf`
	log.Printf("sent to %s", c.Phone)                          // want `Customer.Phone \(category phone\) passed to log.Printf`
	lg.Println(c)                                              // want `Customer holds personal data and is passed to \(\*log.Logger\).Println`
	slog.Info("updated", "customer", c)                        // want `Customer holds personal data and is passed to slog.Info`
	slog.InfoContext(ctx, "updated", "email", c.Email)         // want `Customer.Email \(category email\) passed to slog.InfoContext`
	l.Warn("updated", slog.Any("c", cp))                       // want `Customer holds personal data and is passed to slog.Any`
	l.With("email", c.Email).Info("x")                         // want `passed to \(\*slog.Logger\).With`
	slog.String("email", c.Email)                              // want `passed to slog.String`

	// Redacted, or not personal data: fine.
	fmt.Println(mask.Redacted(c))
	slog.Info("updated", "customer", mask.Redacted(cp))
	log.Println(mask.Redacted(all))
	fmt.Println(c.ID, c.Tenant, c.Plan, c.LastSeen, c.Contacts[0].Label)
	slog.Info("customer", "id", c.ID)
	fmt.Println(s, s.Email) // want `Self.Email \(category email\)`
	fmt.Println(Plain{Email: "x"}, NotPersonal{})
	var sb fmt.Stringer
	fmt.Println(sb)
}

// Types that are their own elements end the search.
type (
	Loop  []Loop
	PLoop *PLoop
)

func loops(l Loop, p PLoop) {
	fmt.Println(l, p)
}
