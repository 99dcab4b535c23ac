package pii_test

import (
	"fmt"
	"time"

	"github.com/fieldguard/pii"
)

type Customer struct {
	ID        string    `pii:"subject"`
	Email     string    `pii:"email,encrypt,index,mask=email,retain=2y,from=LastSeen,then=shred,purpose=support,basis=contract"`
	Phone     string    `pii:"phone,token=ff1,mask=phone,reveal=supervisor"`
	BirthDate time.Time `pii:"dob,retain=6m,then=generalize:year"`
	Address   Address   `pii:"dive"`
	LastSeen  time.Time `pii:"-"`
	HomeIP    string
}

type Address struct {
	Street   string `pii:"address,encrypt"`
	Postcode string `pii:"postcode,retain=1y,then=generalize:postcode:3"`
}

func ExampleSchemaOf() {
	s, err := pii.SchemaOf(&Customer{})
	if err != nil {
		panic(err)
	}
	fmt.Println("type:", s.Name, "subject:", s.Subject.Path)
	for _, f := range s.Fields {
		how := "clear"
		switch {
		case f.Opts.Encrypt != pii.EncryptNone:
			how = "encrypted (" + f.Opts.Encrypt.String() + ")"
		case f.Opts.Token != "":
			how = "tokenized (" + f.Opts.Token + ")"
		}
		keep := "unlimited"
		if !f.Opts.Retain.IsZero() {
			keep = f.Opts.Retain.String() + " then " + f.Opts.Then.String()
		}
		fmt.Println(f.Path, f.Category, how, keep)
	}
	// Output:
	// type: Customer subject: ID
	// Email email encrypted (random) P2Y then shred
	// Phone phone tokenized (ff1) unlimited
	// BirthDate dob clear P6M then generalize:year
	// Address.Street address encrypted (random) unlimited
	// Address.Postcode postcode clear P1Y then generalize:postcode:3
}

func ExampleInventory() {
	r, err := pii.Inventory(Customer{})
	if err != nil {
		panic(err)
	}
	for _, c := range r.Categories {
		fmt.Println(c.Category, c.Fields, c.Retention)
	}
	for _, w := range r.Warnings {
		fmt.Println("warning:", w.Type+"."+w.Field, "-", w.Reason)
	}
	// Output:
	// address [Customer.Address.Street] [unlimited]
	// dob [Customer.BirthDate] [P6M from created then generalize:year]
	// email [Customer.Email] [P2Y from LastSeen then shred]
	// phone [Customer.Phone] [unlimited]
	// postcode [Customer.Address.Postcode] [P1Y from created then generalize:postcode:3]
	// warning: Customer.HomeIP - name suggests personal data (category ip); tag it or mark it pii:"-"
}
