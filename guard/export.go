package guard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/internal/sealedtext"
	"github.com/fieldguard/pii/mask"
	"github.com/fieldguard/pii/retention"
	"github.com/fieldguard/pii/tokenize"
)

// ExportFormat names the JSON layout Export writes.
const ExportFormat = "fieldguard.pii/export/v1"

// Export is the JSON document Guard.Export returns.
type Export struct {
	Format      string       `json:"format"` // ExportFormat
	Tenant      string       `json:"tenant"`
	Subject     string       `json:"subject"`
	GeneratedAt time.Time    `json:"generated_at"`
	Items       []ExportItem `json:"items"`
}

// ExportItem is one value held about the data subject.
type ExportItem struct {
	Category string `json:"category"`
	Value    any    `json:"value,omitempty"`
	// Status says what is held of the value: "held" (the value, exported),
	// "pseudonym" (a keyed pseudonym, token=hmac, not the value it was
	// made from; the pseudonym is exported), "key_shredded" (a sealed
	// value whose key was shredded: nobody can read it), "unavailable" (a
	// stored token whose record is gone, expired or deleted: nobody can
	// reverse it).
	Status     string         `json:"status"`
	Purpose    string         `json:"purpose,omitempty"`
	LegalBasis string         `json:"legal_basis,omitempty"`
	Retention  *pii.Retention `json:"retention,omitempty"` // nil: no retention period
	Protection []string       `json:"protection"`          // "encrypt", "index", "token=ff1", …
	Sensitive  bool           `json:"sensitive"`
	Source     ExportSource   `json:"source"`
}

// ExportSource says where a value is held.
type ExportSource struct {
	Type   string `json:"type"`            // schema name
	Table  string `json:"table,omitempty"` // the store's table, when it has one
	Record string `json:"record"`          // record id
	Field  string `json:"field"`           // concrete field path
}

// The statuses of an exported value (ExportItem.Status).
const (
	statusHeld        = "held"
	statusPseudonym   = "pseudonym"
	statusKeyShredded = "key_shredded"
	statusUnavailable = "unavailable"
)

// exportReason is the reason recorded in the audit events of an export.
const exportReason = "subject access request"

// Export answers a subject access request: every tagged value held about
// the data subject (tenant, subject) in every registered type, opened
// (sealed values decrypted, tokens reversed), as portable JSON (the Export
// type) with each value's category, purpose, legal basis, retention,
// protection and source (type, table, record, field). Values kept back by
// retention (blocked, past their period but not yet erased) are held and
// so are exported; erased (empty) fields are not. A value sealed under
// shredded keys is listed without a value, as key_shredded.
//
// Only the tenant's records are read (retention.Query with Tenant and
// Subject, read-only), and every record a store returns is checked to be
// that tenant's and subject's; a store that returns another is an error
// and nothing is exported. Every exported value is audited like a reveal:
// one mask.EventExport event per value through the audit sink, naming the
// viewer (whose ID is required), the record and the field, never the
// value; if the sink fails, Export returns the error and no document.
func (g *Guard) Export(ctx context.Context, viewer mask.Viewer, tenant, subject string) ([]byte, error) {
	doc, err := g.export(ctx, viewer, tenant, subject)
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(doc, "", "  ")
}

func (g *Guard) export(ctx context.Context, viewer mask.Viewer, tenant, subject string) (*Export, error) {
	if viewer.ID == "" {
		return nil, errors.New("guard: Export: the viewer needs an ID (the export is audited)")
	}
	if subject == "" {
		return nil, errors.New("guard: Export: empty subject")
	}
	c, err := g.core(ctx)
	if err != nil {
		return nil, err
	}
	doc := &Export{Format: ExportFormat, Tenant: tenant, Subject: subject, GeneratedAt: g.clock.Now().UTC(), Items: []ExportItem{}}
	for _, st := range g.registered() {
		sc := st.Schema()
		if sc.Subject == nil {
			continue
		}
		info, err := fieldInfoOf(sc)
		if err != nil {
			return nil, err
		}
		table := ""
		if tn, ok := st.(interface{ TableName() string }); ok {
			table = tn.TableName()
		}
		q := retention.Query{Tenant: tenant, Subject: subject, Limit: 500, ReadOnly: true}
		for {
			cl, err := st.Claim(ctx, q)
			if err != nil {
				return nil, fmt.Errorf("guard: Export: %s: %w", sc.Name, err)
			}
			recs := cl.Records()
			_ = cl.Rollback()
			for _, rec := range recs {
				if rec.Tenant != tenant || sc.TenantOf(rec.Value) != tenant || sc.SubjectOf(rec.Value) != subject {
					return nil, fmt.Errorf("guard: Export: the %s store returned a record of another tenant or subject; nothing exported", sc.Name)
				}
				items, err := g.exportRecord(ctx, c, sc, info, table, rec)
				if err != nil {
					return nil, err
				}
				doc.Items = append(doc.Items, items...)
			}
			if len(recs) < q.Limit {
				break
			}
			q.After = recs[len(recs)-1].Pos
		}
	}
	for _, it := range doc.Items {
		ev := mask.AuditEvent{Time: doc.GeneratedAt, Kind: mask.EventExport, Viewer: viewer.ID, Role: viewer.Role,
			Channel: viewer.Channel, Tenant: tenant, Type: it.Source.Type, Record: it.Source.Record,
			Field: it.Source.Field, Category: it.Category, Reason: exportReason}
		if err := g.audit.Audit(ctx, ev); err != nil {
			return nil, fmt.Errorf("guard: Export: audit: %w", err)
		}
	}
	return doc, nil
}

// exportRecord lists the values of one record.
func (g *Guard) exportRecord(ctx context.Context, c *core, sc *pii.Schema, info map[string]*pii.FieldReport, table string, rec retention.Record) ([]ExportItem, error) {
	ptr := rec.Value
	st, err := g.look(c, sc, ptr, nil)
	if err != nil {
		return nil, err
	}
	if err := g.resolve(ctx, c, sc, ptr, st, false); err != nil {
		return nil, err
	}
	b := bindingOf(sc, ptr)
	var out []ExportItem
	ti := 0
	err = sc.Walk(ptr, func(f *pii.Field, path string, _, v reflect.Value) error {
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return nil
			}
			v = v.Elem()
		}
		if v.IsZero() {
			return nil
		}
		fr := info[f.Path]
		it := ExportItem{Category: f.Category, Status: statusHeld, Purpose: f.Opts.Purpose, LegalBasis: f.Opts.Basis,
			Protection: []string{}, Sensitive: f.Opts.Sensitive,
			Source: ExportSource{Type: sc.Name, Table: table, Record: rec.Key, Field: path}}
		if fr != nil {
			it.Retention, it.Protection, it.Sensitive = fr.Retention, fr.Protection, fr.Sensitive
		}
		b.Field = f.Path
		switch {
		case f.Opts.Encrypt != pii.EncryptNone:
			var pt any
			var err error
			if v.Kind() == reflect.String {
				val := v.String()
				if inner, ok := keptValue(val); ok {
					val = inner
				}
				if !sealedtext.IsSealed(val) {
					it.Value = val
					break
				}
				pt, err = g.seal.DecryptString(ctx, val, b)
			} else {
				pt, err = g.seal.DecryptBytes(ctx, v.Bytes(), b)
			}
			switch {
			case err == nil:
				it.Value = pt
			case errors.Is(err, envelope.ErrShredded):
				it.Status = statusKeyShredded
			default:
				return sc.FieldError(ptr, path, err)
			}
		case f.Opts.Token != "" && v.Kind() == reflect.String:
			t := st.tok[ti]
			ti++
			m := tokenize.Method(f.Opts.Token)
			switch {
			case m == tokenize.MethodHMAC:
				it.Value, it.Status = v.String(), statusPseudonym
			case t.v != vToken:
				it.Value = v.String()
			default:
				val, err := c.tok.Detokenize(ctx, m, fieldScope(sc, ptr, f), c.tok.FormatFor(f.Category), t.bare)
				switch {
				case err == nil:
					it.Value = val
				case errors.Is(err, tokenize.ErrNotFound):
					it.Status = statusUnavailable
				default:
					return sc.FieldError(ptr, path, err)
				}
			}
		default:
			it.Value = v.Interface()
		}
		out = append(out, it)
		return nil
	})
	return out, err
}

var fieldInfos sync.Map // *pii.Schema -> map[string]*pii.FieldReport

// fieldInfoOf returns the inventory's report of each field of sc, by
// schema path.
func fieldInfoOf(sc *pii.Schema) (map[string]*pii.FieldReport, error) {
	if m, ok := fieldInfos.Load(sc); ok {
		return m.(map[string]*pii.FieldReport), nil
	}
	rep, err := pii.Inventory(reflect.New(sc.Type).Interface())
	if err != nil {
		return nil, err
	}
	m := map[string]*pii.FieldReport{}
	for i := range rep.Types {
		if rep.Types[i].Name != sc.Name {
			continue
		}
		for j := range rep.Types[i].Fields {
			fr := &rep.Types[i].Fields[j]
			m[fr.Path] = fr
		}
	}
	fieldInfos.Store(sc, m)
	return m, nil
}
