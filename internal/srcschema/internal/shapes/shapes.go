// Package shapes holds struct types that exercise every path of the schema
// builder, for the test that compares schemas built from source with those
// built by reflection. Only the test uses it.
package shapes

import (
	"database/sql"
	"net"
	"net/netip"
	"strconv"
	"time"
	"unsafe"

	"github.com/fieldguard/pii"
)

func init() {
	if err := pii.Register(Renamed{}, "shapes.OldName"); err != nil {
		panic(err)
	}
}

// CustomerID is a subject id that prints itself.
type CustomerID struct{ n int }

func (c *CustomerID) String() string { return strconv.Itoa(c.n) }

type Email string

type Box[T any] struct{ V T }

type Base struct {
	Tenant   string    `pii:"tenant"`
	LastSeen time.Time `pii:"-"`
	Phone    string    `pii:"phone,token=ff1"`
}

type Meta struct {
	Note string `pii:"free_text,encrypt"`
}

type Contact struct {
	ID       string `pii:"id"` // a nested id is ordinary data
	Email    Email  `pii:"email,encrypt=det,index=EmailIdx"`
	EmailIdx []byte
	Mobile   string
}

// Everything has every shape the builder walks.
type Everything struct {
	Base
	*Meta
	ID        CustomerID          `pii:"subject"`
	Record    int64               `pii:"id"`
	Name      *string             `pii:"name,encrypt,retain=2y,from=LastSeen,then=shred,min=1y,grace=30d"`
	Photo     []byte              `pii:"photo,encrypt,sensitive,log=hmac"`
	Contacts  []Contact           `pii:"dive"`
	ByLabel   map[string]*Contact `pii:"dive"`
	Primary   *Contact            `pii:"dive"`
	Pair      [2]Contact          `pii:"dive"`
	Addr      net.IP
	Home      netip.Addr
	HomePhone string
	Seen      *time.Time
	Box       Box[Email]
	BoxT      Box[time.Duration]
	Fn        func(int, ...string) (bool, error)
	Ch        <-chan []byte
	Any       any
	Err       error
	Anon      struct {
		A int `json:"a"`
		b string
	}
	Ptr     unsafe.Pointer
	R       rune
	M       map[Email][3]*int
	private string
}

type Renamed struct {
	ID    uint   `pii:"subject"`
	Email string `pii:"email,retain=P1Y6M"`
}

// Bad types: each fails as SchemaOf reports it.
type (
	BadEncryptInt struct {
		Age int `pii:"dob,encrypt"`
	}
	BadTokenBytes struct {
		Card []byte `pii:"card,token=ff1"`
	}
	BadSubject struct {
		ID float64 `pii:"subject"`
	}
	BadFrom struct {
		Email   string `pii:"email,retain=1y,from=Created"`
		Created string
	}
	BadFromMissing struct {
		Email string `pii:"email,retain=1y,from=Nope"`
	}
	BadIndexField struct {
		Email string `pii:"email,encrypt,index=Idx"`
		Idx   int
	}
	BadDive struct {
		X string `pii:"dive"`
	}
	BadDiveTime struct {
		T []time.Time `pii:"dive"`
	}
	BadRecursive struct {
		Next *BadRecursive `pii:"dive"`
	}
	BadUnexported struct {
		email string `pii:"email"`
	}
	BadTwoSubjects struct {
		A string `pii:"subject"`
		B string `pii:"subject"`
	}
	BadGrammar struct {
		E string `pii:"email,encrypt,token=ff1"`
	}
	BadNested struct {
		C []BadEncryptInt `pii:"dive"`
	}
)

// Values lists one value of each type above, for reflection.
var Values = map[string]any{
	"Everything": Everything{}, "Renamed": Renamed{}, "Base": Base{}, "Meta": Meta{}, "Contact": Contact{},
	"BadEncryptInt": BadEncryptInt{}, "BadTokenBytes": BadTokenBytes{}, "BadSubject": BadSubject{},
	"BadFrom": BadFrom{}, "BadFromMissing": BadFromMissing{}, "BadIndexField": BadIndexField{},
	"BadDive": BadDive{}, "BadDiveTime": BadDiveTime{}, "BadRecursive": BadRecursive{},
	"BadUnexported": BadUnexported{}, "BadTwoSubjects": BadTwoSubjects{}, "BadGrammar": BadGrammar{},
	"BadNested": BadNested{},
}

// Types for Rebuild (not in Values: the schema comparison above has them
// all already).

// Valuer is a column type whose methods database/sql runs.
type Valuer [16]byte

func (v Valuer) Value() (any, error) { return v[:], nil }

// Rebuildable has what Rebuild keeps, converts and leaves out.
type Rebuildable struct {
	Base
	ID       int64          `pii:"id"`
	Owner    Email          `pii:"subject"`
	Email    Email          `pii:"email,encrypt,index=EmailIdx"`
	EmailIdx []byte         `pii:"-"`
	Note     sql.NullString `pii:"-"`
	Home     Meta           `pii:"dive"`
	Created  time.Time
	Seen     *time.Time
	Ref      Valuer // left out: untagged
	Hook     func() // left out
	Box      Box[int]
	hidden   string
}

// RebuildValuer has a tagged field whose methods matter.
type RebuildValuer struct {
	ID  Valuer `pii:"subject"`
	Bio string `pii:"free_text,encrypt"`
}

// RebuildStringer has a subject read through its String method.
type RebuildStringer struct {
	ID  *CustomerID `pii:"subject"`
	Bio string      `pii:"free_text,encrypt"`
}
