package pii

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"unicode"
)

// Report is the data inventory: which types hold which categories of
// personal data, how each field is protected, how long it is kept and why.
// It holds type and field names only, never values.
type Report struct {
	Types      []TypeReport      `json:"types"`
	Categories []CategorySummary `json:"categories"`
	Warnings   []Warning         `json:"warnings"`
}

// TypeReport describes one struct type.
type TypeReport struct {
	Name   string `json:"name"`    // stable name (Schema.Name)
	GoType string `json:"go_type"` // package-qualified Go type
	// Source is where the type is declared ("internal/app/customer.go:12"),
	// when the report was read from source code (pii inventory); empty at
	// run time.
	Source  string        `json:"source,omitempty"`
	Subject string        `json:"subject,omitempty"`
	ID      string        `json:"id,omitempty"`
	Tenant  string        `json:"tenant,omitempty"`
	Fields  []FieldReport `json:"fields"`
}

// FieldReport describes one tagged field.
type FieldReport struct {
	Path       string     `json:"path"`
	Category   string     `json:"category"`
	GoType     string     `json:"go_type"`
	Protection []string   `json:"protection"`
	Retention  *Retention `json:"retention,omitempty"`
	Purpose    string     `json:"purpose,omitempty"`
	Basis      string     `json:"basis,omitempty"`
	Sensitive  bool       `json:"sensitive"`
	Reveal     []string   `json:"reveal,omitempty"`
	Log        string     `json:"log"`
}

// Retention is a field's retention rule as reported.
type Retention struct {
	Max    string `json:"max"`             // ISO 8601
	Min    string `json:"min,omitempty"`   // ISO 8601
	Grace  string `json:"grace,omitempty"` // ISO 8601
	Clock  string `json:"clock"`           // the from= field, or "created"
	Action string `json:"action"`
}

// CategorySummary answers "which types hold this category, kept how long".
type CategorySummary struct {
	Category  string   `json:"category"`
	Sensitive bool     `json:"sensitive"`
	Fields    []string `json:"fields"`    // Type.Path
	Retention []string `json:"retention"` // distinct rules, "P2Y from LastSeen then shred" or "unlimited"
}

// Warning flags an untagged field that looks personal.
type Warning struct {
	Type   string `json:"type"`
	Field  string `json:"field"`
	Reason string `json:"reason"`
	// Source is where the field is declared, when the report was read
	// from source code; empty at run time.
	Source string `json:"source,omitempty"`
}

// Inventory builds the report for the given struct types (values, pointers
// or reflect.Types, as [SchemaOf] takes them, or schemas it returned).
// Types appear in the order given.
func Inventory(types ...any) (*Report, error) {
	schemas := make([]*Schema, len(types))
	for i, v := range types {
		if s, ok := v.(*Schema); ok && s != nil {
			schemas[i] = s
			continue
		}
		s, err := SchemaOf(v)
		if err != nil {
			return nil, err
		}
		schemas[i] = s
	}
	return inventoryOf(schemas), nil
}

// inventoryOf builds the report for the given schemas, in the order given:
// those of [SchemaOf], or those a source tool built from go/types.
func inventoryOf(schemas []*Schema) *Report {
	r := &Report{Types: []TypeReport{}, Categories: []CategorySummary{}, Warnings: []Warning{}}
	cats := map[string]*CategorySummary{}
	for _, s := range schemas {
		tr := TypeReport{Name: s.Name, GoType: s.info.String(), Fields: []FieldReport{}}
		for _, slot := range []struct {
			f    *Field
			path *string
		}{{s.Subject, &tr.Subject}, {s.ID, &tr.ID}, {s.Tenant, &tr.Tenant}} {
			if slot.f != nil {
				*slot.path = slot.f.Path
			}
		}
		for _, f := range s.Fields {
			fr := FieldReport{
				Path: f.Path, Category: f.Category, GoType: f.info.String(),
				Protection: f.Opts.protection(), Purpose: f.Opts.Purpose, Basis: f.Opts.Basis,
				Sensitive: f.Opts.Sensitive, Reveal: f.Opts.Reveal, Log: f.Opts.Log,
			}
			if fr.Protection == nil {
				fr.Protection = []string{}
			}
			if fr.Log == "" {
				fr.Log = "omit"
			}
			rule := "unlimited"
			if !f.Opts.Retain.IsZero() {
				clock := f.Opts.From
				if clock == "" {
					clock = "created"
				}
				fr.Retention = &Retention{
					Max: f.Opts.Retain.String(), Min: f.Opts.Min.String(), Grace: f.Opts.Grace.String(),
					Clock: clock, Action: f.Opts.Then.String(),
				}
				rule = fmt.Sprintf("%s from %s then %s", fr.Retention.Max, clock, fr.Retention.Action)
			}
			tr.Fields = append(tr.Fields, fr)
			c := cats[f.Category]
			if c == nil {
				c = &CategorySummary{Category: f.Category}
				cats[f.Category] = c
			}
			c.Sensitive = c.Sensitive || f.Opts.Sensitive
			c.Fields = append(c.Fields, s.Name+"."+f.Path)
			if !slices.Contains(c.Retention, rule) {
				c.Retention = append(c.Retention, rule)
			}
		}
		if len(s.Fields) > 0 || s.Subject != nil {
			for _, u := range s.untagged {
				if reason := looksPersonal(u.path, u.info); reason != "" {
					r.Warnings = append(r.Warnings, Warning{Type: s.Name, Field: u.path, Reason: reason})
				}
			}
		}
		r.Types = append(r.Types, tr)
	}
	keys := make([]string, 0, len(cats))
	for k := range cats {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r.Categories = append(r.Categories, *cats[k])
	}
	return r
}

// personalWords maps words found in field names to the category they
// suggest.
var personalWords = map[string]string{
	"email": "email", "mail": "email", "phone": "phone", "mobile": "phone", "msisdn": "phone",
	"tel": "phone", "telephone": "phone", "ssn": "national_id", "nin": "national_id",
	"passport": "passport", "dob": "dob", "birth": "dob", "birthday": "dob", "birthdate": "dob",
	"iban": "iban", "card": "card", "pan": "card", "cc": "card", "address": "address",
	"street": "address", "postcode": "postcode", "zip": "postcode", "zipcode": "postcode",
	"ip": "ip", "lat": "location", "lng": "location", "lon": "location", "latitude": "location",
	"longitude": "location", "geo": "location", "location": "location", "gender": "gender",
	"firstname": "name", "lastname": "name", "fullname": "name", "surname": "name",
	"salary": "financial", "income": "financial", "diagnosis": "health", "health": "health",
}

func looksPersonal(path string, t typeInfo) string {
	if t.PkgPath() == "net" && t.Name() == "IP" || t.PkgPath() == "net/netip" && t.Name() == "Addr" {
		return "type " + t.String() + " holds an IP address (category ip)"
	}
	name := path[strings.LastIndexByte(path, '.')+1:]
	words := splitWords(name)
	for i, w := range words {
		if c, ok := personalWords[w]; ok {
			return fmt.Sprintf("name suggests personal data (category %s); tag it or mark it pii:\"-\"", c)
		}
		if i+1 < len(words) {
			if c, ok := personalWords[w+words[i+1]]; ok {
				return fmt.Sprintf("name suggests personal data (category %s); tag it or mark it pii:\"-\"", c)
			}
		}
	}
	return ""
}

// splitWords splits a Go identifier into lower-case words:
// "HomeIPAddress" → home, ip, address.
func splitWords(s string) []string {
	var words []string
	r := []rune(s)
	start := 0
	for i := 1; i <= len(r); i++ {
		boundary := i == len(r) || r[i] == '_' ||
			unicode.IsUpper(r[i]) && (unicode.IsLower(r[i-1]) || i+1 < len(r) && unicode.IsLower(r[i+1]) && unicode.IsUpper(r[i-1])) ||
			unicode.IsDigit(r[i]) != unicode.IsDigit(r[i-1])
		if boundary {
			if w := strings.Trim(string(r[start:i]), "_"); w != "" {
				words = append(words, strings.ToLower(w))
			}
			start = i
		}
	}
	return words
}

// Markdown renders the report for a privacy officer: a summary by category,
// a table per type, and the warnings.
func (r *Report) Markdown() string {
	var b strings.Builder
	b.WriteString("# Personal data inventory\n\n")
	if len(r.Types) > 0 {
		b.WriteString("```mermaid\n" + r.Mermaid() + "```\n\n")
	}
	b.WriteString("## By category\n\n")
	b.WriteString("| category | sensitive | held in | retention |\n|---|---|---|---|\n")
	for _, c := range r.Categories {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", c.Category, yesNo(c.Sensitive),
			strings.Join(c.Fields, ", "), strings.Join(c.Retention, "; "))
	}
	for _, t := range r.Types {
		fmt.Fprintf(&b, "\n## %s\n\n", t.Name)
		var roles []string
		for _, kv := range [][2]string{{"subject", t.Subject}, {"id", t.ID}, {"tenant", t.Tenant}} {
			if kv[1] != "" {
				roles = append(roles, kv[0]+": `"+kv[1]+"`")
			}
		}
		fmt.Fprintf(&b, "Go type `%s`", t.GoType)
		if t.Source != "" {
			fmt.Fprintf(&b, " (`%s`)", t.Source)
		}
		if len(roles) > 0 {
			b.WriteString("; " + strings.Join(roles, ", "))
		}
		b.WriteString(".\n\n| field | category | protection | retention | purpose | basis | sensitive | log |\n|---|---|---|---|---|---|---|---|\n")
		for _, f := range t.Fields {
			ret := "unlimited"
			if f.Retention != nil {
				ret = f.Retention.Max + " from " + f.Retention.Clock + ", then " + f.Retention.Action
				if f.Retention.Min != "" {
					ret += ", min " + f.Retention.Min
				}
				if f.Retention.Grace != "" {
					ret += ", grace " + f.Retention.Grace
				}
			}
			prot := strings.Join(f.Protection, ", ")
			if prot == "" {
				prot = "none"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %s | %s |\n", f.Path, f.Category, prot, ret,
				dash(f.Purpose), dash(f.Basis), yesNo(f.Sensitive), f.Log)
		}
	}
	if len(r.Warnings) > 0 {
		b.WriteString("\n## Warnings\n\n")
		for _, w := range r.Warnings {
			src := ""
			if w.Source != "" {
				src = " (`" + w.Source + "`)"
			}
			fmt.Fprintf(&b, "- `%s.%s`%s: %s\n", w.Type, w.Field, src, w.Reason)
		}
	}
	return b.String()
}

// Mermaid renders the report as a Mermaid flowchart: each type points to
// the categories it holds, one arrow per field, labelled with the field,
// its protection and its retention; sensitive categories are drawn red.
func (r *Report) Mermaid() string {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	catID := map[string]string{}
	for _, c := range r.Categories {
		id := fmt.Sprintf("c%d", len(catID))
		catID[c.Category] = id
		fmt.Fprintf(&b, "  %s([\"%s\"])\n", id, mermaidText(c.Category))
		if c.Sensitive {
			fmt.Fprintf(&b, "  class %s sensitive\n", id)
		}
	}
	for i, t := range r.Types {
		label := mermaidText(t.Name)
		if t.Source != "" {
			// Read from source, types of several packages may share a name.
			label += "<br/>" + mermaidText(path.Dir(t.Source))
		}
		fmt.Fprintf(&b, "  t%d[\"%s\"]\n", i, label)
		for _, f := range t.Fields {
			id, ok := catID[f.Category]
			if !ok {
				continue
			}
			prot := strings.Join(f.Protection, ", ")
			if prot == "" {
				prot = "clear"
			}
			keep := "unlimited"
			if f.Retention != nil {
				keep = f.Retention.Max + " then " + f.Retention.Action
			}
			fmt.Fprintf(&b, "  t%d -->|\"%s: %s; %s\"| %s\n", i, mermaidText(f.Path), mermaidText(prot), mermaidText(keep), id)
		}
	}
	b.WriteString("  classDef sensitive fill:#fde2e1,stroke:#c0392b\n")
	return b.String()
}

// mermaidText escapes s for a quoted Mermaid label.
func mermaidText(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "|", "#124;", "<", "#lt;", ">", "#gt;").Replace(s)
}

func yesNo(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
