// Command inventory prints the personal-data inventory of a small
// customer-care application's types as Markdown and writes it as JSON:
// the "know what you hold and where" report a privacy officer asks for.
//
//	go run ./examples/inventory [-json inventory.json]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/fieldguard/pii"
)

// Customer is the account record.
type Customer struct {
	ID        string    `pii:"subject"`
	Tenant    string    `pii:"tenant"`
	Name      string    `pii:"name,encrypt,mask=initials,retain=2y,from=LastSeen,then=shred,purpose=support,basis=contract"`
	Email     string    `pii:"email,encrypt,index,mask=email,retain=2y,from=LastSeen,then=shred,purpose=support,basis=contract"`
	Phone     string    `pii:"phone,token=ff1,mask=phone,reveal=supervisor,purpose=support,basis=contract"`
	BirthDate string    `pii:"dob,encrypt,retain=6m,then=generalize:year,purpose=age_check,basis=legal_obligation"`
	Addresses []Address `pii:"dive"`
	LastSeen  time.Time `pii:"-"`
	Plan      string    `pii:"-"`
	LoginIP   string    // untagged: the inventory warns about it
}

// Address is a postal address of a customer.
type Address struct {
	Street   string `pii:"address,encrypt,log=mask"`
	Postcode string `pii:"postcode,retain=1y,then=generalize:postcode:3"`
}

// Payment is one stored card.
type Payment struct {
	ID       string    `pii:"id"`
	Customer string    `pii:"subject"`
	Card     string    `pii:"card,token=ff1,mask=card,retain=13m,from=Expires,then=delete,purpose=billing,basis=contract"`
	IBAN     string    `pii:"iban,token=stored,mask=iban,purpose=refunds,basis=contract"`
	Expires  time.Time `pii:"-"`
}

// Conversation is a customer-care thread on a social channel.
type Conversation struct {
	ID      string `pii:"id"`
	Subject string `pii:"subject"`
	Handle  string `pii:"username,mask=first-char,retain=90d,then=anonymize,purpose=support,basis=legitimate_interests"`
	Body    string `pii:"free_text,encrypt,sensitive,retain=90d,then=null,purpose=support,basis=legitimate_interests"`
	Channel string `pii:"-"`
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("inventory", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("json", "inventory.json", "where to write the JSON inventory")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	report, err := pii.Inventory(Customer{}, Payment{}, Conversation{})
	if err != nil {
		fmt.Fprintln(stderr, "inventory:", err)
		return 1
	}
	fmt.Fprint(stdout, report.Markdown())
	js, err := json.MarshalIndent(report, "", "  ")
	if err != nil {
		fmt.Fprintln(stderr, "inventory:", err)
		return 1
	}
	if err := os.WriteFile(*out, append(js, '\n'), 0o644); err != nil {
		fmt.Fprintln(stderr, "inventory:", err)
		return 1
	}
	fmt.Fprintf(stdout, "\nJSON written to %s\n", *out)
	return 0
}
