package guard_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/guard"
	"github.com/fieldguard/pii/keyprovider/local"
	"github.com/fieldguard/pii/mask"
	"github.com/fieldguard/pii/retention"
)

type Customer struct {
	ID       string `pii:"subject"`
	Tenant   string `pii:"tenant"`
	Name     string `pii:"name,encrypt,mask=initials"`
	Email    string `pii:"email,encrypt,index=EmailIdx,mask=email,reveal=supervisor"`
	EmailIdx string `pii:"-"`
	Phone    string `pii:"phone,token=ff1,mask=phone,reveal=supervisor"`
	Card     string `pii:"card,token=ff1,mask=card"`
}

// The struct-level path: protect before storing, open after reading, view
// for an agent, forget on request. NewMemory keeps everything in memory;
// guard.New(kp, db, nil) is the same on your database.
func Example() {
	ctx := context.Background()
	// A development keyset made for the example; in production the key
	// provider is your KMS (keyprovider/kmsuri) or a keyset whose master key
	// comes from local.MasterKeyFromEnv, never from code.
	dir, _ := os.MkdirTemp("", "guard")
	defer os.RemoveAll(dir)
	master, err := local.GenerateMasterKey()
	if err != nil {
		log.Fatal(err)
	}
	kp, err := local.Create(filepath.Join(dir, "keyset.json"), master)
	if err != nil {
		log.Fatal(err)
	}
	g, err := guard.NewMemory(kp, nil)
	if err != nil {
		log.Fatal(err)
	}
	// The application's store of customers, registered so that Forget
	// (and sweeps, exports) reach its rows.
	customers, err := retention.NewMemoryStore(&Customer{}, nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := g.Register(customers); err != nil {
		log.Fatal(err)
	}

	c := Customer{ID: "cust-42", Tenant: "acme", Name: "Ada Lovelace", Email: "ada@example.com",
		Phone: "+44 20 7946 0958", Card: "4111 1111 1111 1111"}
	if err := g.Protect(ctx, &c); err != nil {
		log.Fatal(err)
	}
	stored := c
	fmt.Println("sealed:", strings.HasPrefix(c.Name, "pii1."), strings.HasPrefix(c.Email, "pii1."), c.EmailIdx != "")
	fmt.Println("card token keeps its last four:", strings.HasSuffix(c.Card, "1111"), c.Card != "4111 1111 1111 1111")
	if err := g.Protect(ctx, &c); err != nil { // idempotent
		log.Fatal(err)
	}
	fmt.Println("protected twice, unchanged:", c == stored)
	if err := customers.Put(&c, time.Now()); err != nil {
		log.Fatal(err)
	}

	// An agent's tool may reverse the phone but not the card.
	phoneOnly := func(_ context.Context, f *pii.Field, _ string) error {
		if f.Category == "phone" {
			return nil
		}
		return errors.New("agents do not see card numbers")
	}
	opened := stored
	if err := g.Open(ctx, &opened, phoneOnly); err != nil {
		log.Fatal(err)
	}
	fmt.Println(opened.Name, opened.Email, opened.Phone)
	fmt.Println("card left a token, annotated:", strings.HasPrefix(opened.Card, "CARD(19):"))

	view := stored
	agent := mask.Viewer{ID: "agent-7", Role: "agent", Channel: mask.ChannelDirectMessage}
	if err := g.View(ctx, agent, &view); err != nil {
		log.Fatal(err)
	}
	fmt.Println(view.Name, view.Email, view.Phone, view.Card)

	report, err := g.Forget(ctx, "acme", "cust-42")
	if err != nil {
		log.Fatal(err)
	}
	left := customers.Get("acme", "cust-42").(*Customer)
	fmt.Println("forgotten:", report.KeyShredded, left.Name == "", left.EmailIdx == "", left.Phone == "")
	// Output:
	// sealed: true true true
	// card token keeps its last four: true true
	// protected twice, unchanged: true
	// Ada Lovelace ada@example.com +44 20 7946 0958
	// card left a token, annotated: true
	// A. L. a***@example.com +44 ******0958 **** **** **** 1111
	// forgotten: true true true true
}
