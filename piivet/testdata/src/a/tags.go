package a

import (
	"net"
	"time"
)

type Customer struct {
	ID        string    `pii:"subject"`
	Tenant    string    `pii:"tenant"`
	Email     string    `pii:"email,encrypt,index,mask=email"`
	Phone     string    `pii:"phone,token=ff1,mask=phone"`
	BirthDate time.Time `pii:"dob,mask=date"`
	Contacts  []Contact `pii:"dive"`
	LastSeen  time.Time `pii:"-"`
	Plan      string
	HomeEmail string   // want `pii: Customer.HomeEmail is not tagged but name suggests personal data \(category email\)`
	ClientIP  net.IP   // want `pii: Customer.ClientIP is not tagged but type net.IP holds an IP address`
	Tags      []string `pii:"-"`
}

type Contact struct {
	Label string `pii:"-"`
	Phone string `pii:"phone,mask=last4"`
}

type BadCategory struct {
	E string `pii:"emial"` // want `pii: a.BadCategory.E: tag token "emial": unknown category`
}

type BadOption struct {
	E string `pii:"email,encrpyt"` // want `pii: a.BadOption.E: tag token "encrpyt": unknown option`
}

type EncryptInt struct {
	ID  string `pii:"subject"`
	Age int    `pii:"dob,encrypt"` // want `pii: a.EncryptInt.Age: tag token "encrypt": a int field cannot hold a ciphertext; use string or \[\]byte`
}

type TokenTime struct {
	When time.Time `pii:"dob,token=ff1"` // want `a time.Time field cannot hold a token; use string`
}

type MaskInt struct {
	ID    string    `pii:"subject"`
	Score int       `pii:"financial,mask=last4"` // want `pii: MaskInt.Score: mask=last4 needs a string or \[\]byte field \(a view shows a int as its zero value\)`
	Seen  time.Time `pii:"dob,mask=email"`       // want `mask=email needs a string or \[\]byte field`
	Born  time.Time `pii:"dob,mask=date"`
	Raw   []byte    `pii:"photo,mask=fixed"`
}

type BadFrom struct {
	Email   string `pii:"email,retain=1y,from=Created"` // want `tag token "from=Created": field Created is string, not time.Time`
	Created string `pii:"-"`
}

type TwoSubjects struct {
	A string `pii:"subject"`
	B string `pii:"subject"` // want `second subject field \(the first is A\)`
}

type DiveBad struct {
	Note string `pii:"dive"` // want `dive needs a struct`
}

// NotPersonal has only "-" tags: no warnings for its fields.
type NotPersonal struct {
	Email string `pii:"-"`
	Phone string
}

// Untagged types are not checked.
type Plain struct {
	Email string
}
