package pii

import (
	"reflect"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/internal/category"
)

var tagSeeds = []string{
	"email", "email,encrypt", "email,encrypt=det,index", "phone,token=ff1,mask=phone,reveal=supervisor|fraud",
	"dob,retain=6m,then=generalize:year", "email,retain=2y,from=LastSeen,then=shred,min=1y,grace=30d",
	"user.contact.email,purpose=support,basis=consent,sensitive,log=hmac", "-", "dive", "subject", "id",
	"tenant", "card,token=stored,mask=card:bin6", "postcode,retain=P1Y,then=generalize:postcode:3",
	"email,encrypt,index=EmailIdx,norm=email", "name,encrypt,index,norm=lower|nfc,prefix=3",
	"name,encrypt,index=Pair,with=City,norm=trim", "phone,encrypt=det,norm=digits", "email,encrypt,norm=email",
	"name,encrypt,index,prefix=0", "email,encrypt=det,norm=email|lower",
	"", ",", "email,,", "email,retain=", "email,then=generalize:", "x.y.", "email,mask=:",
}

// FuzzParseTag checks that the tag parser never panics, and that every
// accepted tag parses again to the same result when re-rendered.
func FuzzParseTag(f *testing.F) {
	for _, s := range tagSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tag string) {
		cat, role, opts, err := parseTagOnly(tag)
		if err != nil {
			fe, ok := err.(*FieldError)
			if !ok {
				t.Fatalf("error of type %T, want *FieldError", err)
			}
			if _, ok := fe.Err.(*tagError); !ok {
				t.Fatalf("cause of type %T, want *tagError", fe.Err)
			}
			return
		}
		again := render(cat, opts)
		cat2, role2, opts2, err := parseTagOnly(again)
		if err != nil {
			t.Fatalf("re-rendered tag %q (from %q) fails: %v", again, tag, err)
		}
		if cat != cat2 || role != role2 || !equalOpts(opts, opts2) {
			t.Fatalf("round trip %q -> %q changed the result", tag, again)
		}
	})
}

func TestFuzzSeedsPresent(t *testing.T) {
	require.NotEmpty(t, tagSeeds, "the tag fuzz target needs a seed corpus")
	accepted := 0
	for _, s := range tagSeeds {
		if _, _, _, err := parseTagOnly(s); err == nil {
			accepted++
		}
	}
	require.Greater(t, accepted, 10, "most seeds must be valid tags so the fuzzer explores the grammar")
}

func render(cat string, o TagOptions) string {
	s := cat
	add := func(tok string) { s += "," + tok }
	switch o.Encrypt {
	case EncryptRandom:
		add("encrypt")
	case EncryptDet:
		add("encrypt=det")
	}
	if o.Index {
		if o.IndexField != "" {
			add("index=" + o.IndexField)
		} else {
			add("index")
		}
	}
	if o.Norm != 0 {
		add("norm=" + o.Norm.String())
	}
	if o.Prefix > 0 {
		add("prefix=" + strconv.Itoa(o.Prefix))
	}
	if o.With != "" {
		add("with=" + o.With)
	}
	if o.Token != "" {
		add("token=" + o.Token)
	}
	if o.Mask != "" {
		m := "mask=" + o.Mask
		if o.MaskArg != "" {
			m += ":" + o.MaskArg
		}
		add(m)
	}
	if len(o.Reveal) > 0 {
		r := "reveal="
		for i, x := range o.Reveal {
			if i > 0 {
				r += "|"
			}
			r += x
		}
		add(r)
	}
	if !o.Retain.IsZero() {
		add("retain=" + o.Retain.String())
		add("then=" + o.Then.String())
	}
	if !o.Min.IsZero() {
		add("min=" + o.Min.String())
	}
	if !o.Grace.IsZero() {
		add("grace=" + o.Grace.String())
	}
	if o.From != "" {
		add("from=" + o.From)
	}
	if o.Purpose != "" {
		add("purpose=" + o.Purpose)
	}
	if o.Basis != "" {
		add("basis=" + o.Basis)
	}
	if o.Sensitive && !category.Sensitive(cat) {
		add("sensitive")
	}
	if o.Log != "" {
		add("log=" + o.Log)
	}
	return s
}

func equalOpts(a, b TagOptions) bool { return reflect.DeepEqual(a, b) }
