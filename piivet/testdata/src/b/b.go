// Package b uses a tagged type of package a: logging it is reported here,
// its tags are checked in a.
package b

import (
	"fmt"

	"a"
)

type Order struct {
	ID       string     `pii:"id"`
	Customer a.Customer `pii:"dive"`
	Ship     string     `pii:"address,encrypt"`
}

func f(o Order, c *a.Customer) {
	fmt.Println(o)                // want `Order holds personal data`
	fmt.Println(c)                // want `a.Customer holds personal data`
	fmt.Println(o.Customer.Email) // want `a.Customer.Email \(category email\)`
}
