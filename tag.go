package pii

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/fieldguard/pii/internal/category"
)

// role says what a tagged field is to the library. Users read it from
// where a field sits: Schema.Fields are data, Schema.Subject, ID and
// Tenant the fields of those roles.
type role int

const (
	// roleData is personal data: the category names what kind.
	roleData role = iota
	// roleSubject marks the data-subject id; per-subject keys hang off it.
	roleSubject
	// roleID marks the record id bound into associated data.
	roleID
	// roleTenant marks the tenant id.
	roleTenant
)

func (r role) String() string {
	switch r {
	case roleSubject:
		return "subject"
	case roleID:
		return "id"
	case roleTenant:
		return "tenant"
	default:
		return "data"
	}
}

// EncryptMode is the `encrypt` option.
type EncryptMode int

const (
	EncryptNone   EncryptMode = iota
	EncryptRandom             // `encrypt`: randomised AEAD
	EncryptDet                // `encrypt=det`: deterministic (AES-SIV), for equality lookups
)

func (m EncryptMode) String() string {
	switch m {
	case EncryptRandom:
		return "random"
	case EncryptDet:
		return "det"
	default:
		return ""
	}
}

// Action is what retention does to a field when its period ends.
type Action struct {
	Kind ActionKind
	Rule string // for generalize: year, month, last4, ipv4/24, postcode:N
}

// ActionKind is the action written after then= in a tag.
type ActionKind string

// The action kinds.
const (
	ActionDelete     ActionKind = "delete"
	ActionNull       ActionKind = "null"
	ActionRedact     ActionKind = "redact"
	ActionAnonymize  ActionKind = "anonymize"
	ActionGeneralize ActionKind = "generalize"
	ActionShred      ActionKind = "shred"
	ActionBlock      ActionKind = "block"
)

func (a Action) String() string {
	if a.Rule != "" {
		return string(a.Kind) + ":" + a.Rule
	}
	return string(a.Kind)
}

// TagOptions are the parsed options of a `pii` tag (what follows the
// category). They are data read from the tag, not configuration: every
// Options type elsewhere in the library configures a constructor.
type TagOptions struct {
	Encrypt    EncryptMode
	Index      bool   // keyed blind index
	IndexField string // companion field the index is written to ("" = none)
	// Norm normalises the value before its blind index or deterministic
	// ciphertext is computed (norm=email, norm=lower|trim).
	Norm Norm
	// Prefix > 0 makes the blind index cover the first Prefix characters
	// of the (normalised) value (prefix=N).
	Prefix int
	// With names a second field of the same struct that the blind index
	// covers together with this one: a compound index (with=Field).
	With      string
	Token     string // ff1, ff3-1, hmac, stored
	Mask      string // masking style name
	MaskArg   string // style argument: mask=email:domain gives Mask "email", MaskArg "domain"
	Reveal    []string
	Retain    Duration // maximum retention
	Min       Duration // legal minimum retention
	Grace     Duration // extra time after Retain before the action applies
	From      string   // name of the time.Time field that starts the clock ("" = record creation)
	Then      Action   // set whenever Retain is
	Purpose   string
	Basis     string
	Sensitive bool
	Log       string // omit, mask, hmac ("" = default: omit)
}

// protection summarises how a field is protected, for the inventory
// (FieldReport.Protection).
func (o TagOptions) protection() []string {
	var p []string
	switch o.Encrypt {
	case EncryptRandom:
		p = append(p, "encrypt")
	case EncryptDet:
		p = append(p, "encrypt=det")
	}
	if o.Index {
		p = append(p, "index")
	}
	if o.Norm != 0 {
		p = append(p, "norm="+o.Norm.String())
	}
	if o.Prefix > 0 {
		p = append(p, "prefix="+strconv.Itoa(o.Prefix))
	}
	if o.With != "" {
		p = append(p, "with="+o.With)
	}
	if o.Token != "" {
		p = append(p, "token="+o.Token)
	}
	if o.Mask != "" {
		m := "mask=" + o.Mask
		if o.MaskArg != "" {
			m += ":" + o.MaskArg
		}
		p = append(p, m)
	}
	return p
}

// maxPrefix bounds prefix=N: past it a prefix index is an exact index of
// most values, with the leakage of a prefix index.
const maxPrefix = 64

// Categories lists the built-in data categories. A tag may also use a
// dotted taxonomy key such as "user.contact.email".
var categories = map[string]bool{
	"name": true, "email": true, "phone": true, "address": true, "postcode": true,
	"dob": true, "national_id": true, "passport": true, "card": true, "iban": true,
	"account": true, "ip": true, "device_id": true, "cookie_id": true, "location": true,
	"username": true, "photo": true, "voice": true, "free_text": true, "gender": true,
	"financial": true, "health": true, "biometric": true, "genetic": true,
	"ethnicity": true, "religion": true, "political": true, "sexual_orientation": true,
	"criminal": true, "union": true,
}

// knownCategory reports whether c is a built-in category or a dotted key.
func knownCategory(c string) bool { return categories[c] || isDottedKey(c) }

func isDottedKey(c string) bool {
	if !strings.Contains(c, ".") {
		return false
	}
	for _, part := range strings.Split(c, ".") {
		if !isIdent(part) {
			return false
		}
	}
	return true
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || (c == '-' && i > 0)) {
			return false
		}
	}
	return true
}

var (
	tokenKinds  = []string{"ff1", "ff3-1", "hmac", "stored"}
	actionKinds = []ActionKind{ActionDelete, ActionNull, ActionRedact, ActionAnonymize, ActionGeneralize, ActionShred, ActionBlock}
	generalize  = []string{"year", "month", "last4", "ipv4/24"}
	logModes    = []string{"omit", "mask", "hmac"}
	legalBases  = []string{"consent", "contract", "legal_obligation", "vital_interests", "public_task", "legitimate_interests"}
)

// tagError is the cause of the *FieldError SchemaOf returns for a
// malformed `pii` tag or a tag that does not fit its field: the offending
// token and what is wrong. It never holds field values.
type tagError struct{ token, msg string }

func (e *tagError) Error() string {
	if e.token == "" {
		return e.msg
	}
	return fmt.Sprintf("tag token %q: %s", e.token, e.msg)
}

// badTag returns the error of a malformed tag on field (a path) of type
// typ.
func badTag(typ, field, token, msg string) *FieldError {
	return &FieldError{Type: typ, Path: field, Err: &tagError{token: token, msg: msg}}
}

// parsedTag is a tag after the grammar check and before type checks.
type parsedTag struct {
	skip     bool // "-"
	dive     bool
	role     role
	category string
	opts     TagOptions
}

// parseTagOnly parses a `pii` tag value on its own, without the checks
// that need the field's type (for the source tools, through
// typeinfo.DataCategory, and the fuzz test).
func parseTagOnly(tag string) (category string, role role, opts TagOptions, err error) {
	p, err := parseTag("?", "?", tag)
	if err != nil {
		return "", 0, TagOptions{}, err
	}
	return p.category, p.role, p.opts, nil
}

func parseTag(typ, field, tag string) (parsedTag, error) {
	fail := func(token, format string, args ...any) (parsedTag, error) {
		return parsedTag{}, badTag(typ, field, token, fmt.Sprintf(format, args...))
	}
	var p parsedTag
	tokens := strings.Split(tag, ",")
	head := strings.TrimSpace(tokens[0])
	switch head {
	case "":
		return fail(tag, "empty category (want e.g. pii:\"email,encrypt\", or pii:\"-\")")
	case "-":
		if len(tokens) > 1 {
			return fail(tokens[1], "pii:\"-\" takes no options")
		}
		p.skip, p.category = true, "-"
		return p, nil
	case "dive":
		if len(tokens) > 1 {
			return fail(tokens[1], "pii:\"dive\" takes no options")
		}
		p.dive, p.category = true, "dive"
		return p, nil
	case "subject":
		p.role, p.category = roleSubject, "subject"
	case "id":
		p.role, p.category = roleID, "id"
	case "tenant":
		p.role, p.category = roleTenant, "tenant"
	default:
		if !knownCategory(head) {
			return fail(head, "unknown category (use a built-in one such as email, phone, name, address, dob, card, or a dotted key such as user.contact.email)")
		}
		p.role, p.category = roleData, head
	}
	o := &p.opts
	seen := map[string]bool{}
	for _, raw := range tokens[1:] {
		tok := strings.TrimSpace(raw)
		key, val, hasVal := strings.Cut(tok, "=")
		if key == "" {
			return fail(raw, "empty option")
		}
		if seen[key] {
			return fail(tok, "option %s given twice", key)
		}
		seen[key] = true
		if p.role != roleData && key != "purpose" && key != "basis" && key != "log" {
			return fail(tok, "a %s field takes only purpose, basis and log options", p.category)
		}
		needVal := func() error {
			if !hasVal || val == "" {
				return badTag(typ, field, tok, fmt.Sprintf("option %s needs a value (%s=...)", key, key))
			}
			return nil
		}
		noVal := func() error {
			if hasVal {
				return badTag(typ, field, tok, fmt.Sprintf("option %s takes no value", key))
			}
			return nil
		}
		var err error
		switch key {
		case "encrypt":
			switch {
			case !hasVal:
				o.Encrypt = EncryptRandom
			case val == "det":
				o.Encrypt = EncryptDet
			default:
				return fail(tok, "encrypt takes no value or det")
			}
		case "index":
			o.Index = true
			if hasVal {
				if val == "" || !isGoIdent(val) {
					return fail(tok, "index= names a companion field")
				}
				o.IndexField = val
			}
		case "norm":
			if err = needVal(); err == nil {
				n, nerr := parseNorm(val)
				if nerr != nil {
					return fail(tok, "%s", nerr)
				}
				o.Norm = n
			}
		case "prefix":
			if err = needVal(); err == nil {
				n, perr := strconv.Atoi(val)
				if perr != nil || n < 1 || n > maxPrefix || strconv.Itoa(n) != val {
					return fail(tok, "prefix=N needs N from 1 to %d (characters)", maxPrefix)
				}
				o.Prefix = n
			}
		case "with":
			if err = needVal(); err == nil && !isGoIdent(val) {
				return fail(tok, "with= names a second field of the same struct")
			}
			o.With = val
		case "token":
			if err = needVal(); err == nil && val == "vault" {
				return fail(tok, "token=vault is now token=stored (tokens kept in a token store)")
			}
			if err = needVal(); err == nil && !slices.Contains(tokenKinds, val) {
				return fail(tok, "unknown token kind (want ff1, ff3-1, hmac or stored)")
			}
			o.Token = val
		case "mask":
			if err = needVal(); err == nil {
				style, arg, _ := strings.Cut(val, ":")
				if !isIdent(style) {
					return fail(tok, "malformed mask style")
				}
				o.Mask, o.MaskArg = style, arg
			}
		case "reveal":
			if err = needVal(); err == nil {
				for _, r := range strings.Split(val, "|") {
					if !isIdent(r) {
						return fail(tok, "malformed role %q", r)
					}
					o.Reveal = append(o.Reveal, r)
				}
			}
		case "retain", "min", "grace":
			if err = needVal(); err == nil {
				d, derr := ParseDuration(val)
				if derr != nil {
					return fail(tok, "malformed duration (want e.g. 30d, 12h, 6m, 2y or P2Y6M)")
				}
				switch key {
				case "retain":
					o.Retain = d
				case "min":
					o.Min = d
				default:
					o.Grace = d
				}
			}
		case "from":
			if err = needVal(); err == nil && !isGoIdent(val) {
				return fail(tok, "from= names a time.Time field of the same struct")
			}
			o.From = val
		case "then":
			if err = needVal(); err == nil {
				a, aerr := parseAction(val)
				if aerr != nil {
					return fail(tok, "%s", aerr)
				}
				o.Then = a
			}
		case "purpose":
			if err = needVal(); err == nil && !isIdent(val) {
				return fail(tok, "malformed purpose (lower-case words joined by _ or -)")
			}
			o.Purpose = val
		case "basis":
			if err = needVal(); err == nil && !slices.Contains(legalBases, val) {
				return fail(tok, "unknown legal basis (want one of %s)", strings.Join(legalBases, ", "))
			}
			o.Basis = val
		case "sensitive":
			err = noVal()
			o.Sensitive = true
		case "log":
			if err = needVal(); err == nil && !slices.Contains(logModes, val) {
				return fail(tok, "unknown log mode (want omit, mask or hmac)")
			}
			o.Log = val
		default:
			return fail(tok, "unknown option")
		}
		if err != nil {
			return parsedTag{}, err
		}
	}
	if category.Sensitive(p.category) {
		o.Sensitive = true
	}
	if err := checkOptions(typ, field, o); err != nil {
		return parsedTag{}, err
	}
	return p, nil
}

func checkOptions(typ, field string, o *TagOptions) error {
	e := func(token, msg string) error { return badTag(typ, field, token, msg) }
	switch {
	case o.Encrypt != EncryptNone && o.Token != "":
		return e("token="+o.Token, "encrypt and token conflict: a field is either encrypted or tokenized")
	case o.Index && o.Encrypt == EncryptNone:
		return e("index", "index needs encrypt (a blind index sits beside a ciphertext)")
	case o.Norm != 0 && !o.Index && o.Encrypt != EncryptDet:
		return e("norm="+o.Norm.String(), "norm= needs index or encrypt=det (it normalises what lookups compare)")
	case o.Prefix > 0 && !o.Index:
		return e("prefix="+strconv.Itoa(o.Prefix), "prefix= needs index (it shapes the blind index)")
	case o.With != "" && !o.Index:
		return e("with="+o.With, "with= needs index (it shapes the blind index)")
	case o.With != "" && o.Prefix > 0:
		return e("with="+o.With, "an index is a prefix index or a compound index, not both")
	case o.Retain.IsZero() && !o.Then.isZero():
		return e("then="+o.Then.String(), "then= needs retain=")
	case o.Retain.IsZero() && o.From != "":
		return e("from="+o.From, "from= needs retain=")
	case o.Retain.IsZero() && !o.Grace.IsZero():
		return e("grace="+o.Grace.String(), "grace= needs retain=")
	}
	if !o.Retain.IsZero() && !o.Min.IsZero() && o.Min.approx() > o.Retain.approx() {
		return e("min="+o.Min.String(), "legal minimum is longer than retain=")
	}
	if !o.Retain.IsZero() && o.Then.isZero() {
		o.Then = Action{Kind: ActionNull}
	}
	return nil
}

func (a Action) isZero() bool { return a == Action{} }

func parseAction(s string) (Action, error) {
	k, rule, hasRule := strings.Cut(s, ":")
	kind := ActionKind(k)
	if !slices.Contains(actionKinds, kind) {
		return Action{}, fmt.Errorf("unknown action (want delete, null, redact, anonymize, generalize:<rule>, shred or block)")
	}
	if kind != ActionGeneralize {
		if hasRule {
			return Action{}, fmt.Errorf("action %s takes no rule", kind)
		}
		return Action{Kind: kind}, nil
	}
	if !hasRule {
		return Action{}, fmt.Errorf("generalize needs a rule (year, month, last4, ipv4/24 or postcode:N)")
	}
	if n, ok := strings.CutPrefix(rule, "postcode:"); ok {
		if v, err := strconv.Atoi(n); err != nil || v < 1 || v > 10 {
			return Action{}, fmt.Errorf("generalize:postcode:N needs N from 1 to 10")
		}
		return Action{Kind: kind, Rule: rule}, nil
	}
	if !slices.Contains(generalize, rule) {
		return Action{}, fmt.Errorf("unknown generalize rule (want year, month, last4, ipv4/24 or postcode:N)")
	}
	return Action{Kind: kind, Rule: rule}, nil
}

func isGoIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		ok := r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9'
		if !ok {
			return false
		}
	}
	return true
}
