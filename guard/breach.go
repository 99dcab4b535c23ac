package guard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/keyprovider"
)

// Compromised names a compromised key: exactly one of its fields is set.
type Compromised struct {
	// KMSKey is a KMS key version (a Version of "" means every version of
	// the key): it unwraps the branch keys, search root keys and Guard
	// secrets it wraps.
	KMSKey *keyprovider.KeyID
	// Key is a key of the key store, named as the key store names it:
	//   - a tenant's branch key version: {Kind: envelope.KindBranch,
	//     Tenant: t, ID: version};
	//   - one data key: {Kind: envelope.KindDEK, Tenant: t, Scope: "s:" and
	//     the subject id (a data subject's key) or "t" (the tenant's key of
	//     data without a subject), ID: id}.
	Key *envelope.KeyRef
}

// BreachFormat names the JSON layout BreachReport writes.
const BreachFormat = "fieldguard.pii/breach/v1"

// Breach is the JSON document BreachReport returns.
type Breach struct {
	Format      string    `json:"format"` // BreachFormat
	Compromised string    `json:"compromised"`
	GeneratedAt time.Time `json:"generated_at"`
	// Tenants exposed, by name.
	Tenants []BreachTenant `json:"tenants"`
	// AllTenants: the tokenizer's root key is exposed, so token fields
	// are exposed in every tenant, including tenants the key store has no
	// key for (types with tokens only).
	AllTenants bool `json:"all_tenants"`
	// Secrets lists the Guard secrets exposed: "tokenizer root key" (every
	// token= field: FPE tokens and stored tokens reverse, pseudonyms
	// can be recomputed for guessed values), "ledger key" (ledger and hold
	// hashes can be matched to guessed ids; no value is exposed),
	// "pseudonym key" (anonymized values can be matched to guessed values).
	Secrets []string `json:"secrets"`
	// Categories is the union of the exposed fields' categories.
	Categories []string `json:"categories"`
	// Fields is the union of the exposed fields.
	Fields []BreachField `json:"fields"`
}

// BreachTenant is what a compromise exposes in one tenant.
type BreachTenant struct {
	Tenant string `json:"tenant"`
	// SubjectCount and Subjects: the data subjects whose keys are exposed,
	// as the key store names them (the subject id).
	SubjectCount int      `json:"subject_count"`
	Subjects     []string `json:"subjects"`
	// AllSubjects: fields are exposed for every subject of the tenant
	// (through its search root key or the tokenizer root key), whoever
	// they are; the key store cannot list them.
	AllSubjects bool `json:"all_subjects"`
	// TenantData: data without a subject (tenant-scoped keys) is exposed.
	TenantData bool `json:"tenant_data"`
	// BranchKeys are the branch key versions exposed; DEKs counts the data
	// keys exposed.
	BranchKeys []uint32 `json:"branch_keys,omitempty"`
	DEKs       int      `json:"deks"`
	SearchRoot bool     `json:"search_root"`
	// Fields are the registered fields exposed in this tenant.
	Fields []BreachField `json:"fields"`
}

// BreachField is one field of a registered type a compromise exposes.
type BreachField struct {
	Type      string `json:"type"`
	Field     string `json:"field"`
	Category  string `json:"category"`
	Sensitive bool   `json:"sensitive"`
	// Via is the key that exposes it: "data key" (encrypt), "search key"
	// (encrypt=det values and blind indexes), "tokenizer key" (token=).
	Via string `json:"via"`
	// Scope is whose values: "subjects" (those listed), "tenant data"
	// (records without a subject), "every subject".
	Scope string `json:"scope,omitempty"`
}

const (
	viaDEK       = "data key"
	viaSearch    = "search key"
	viaTokenizer = "tokenizer key"
)

// BreachReport says what a compromised key exposes, from the key store
// and the registered types: which tenants; which data subjects (by the id
// the key store holds) and how many; which fields and categories. A KMS key
// version exposes the branch keys it wraps (and through them their data
// keys), the search root keys it wraps (encrypt=det values and blind
// indexes of every subject of the tenant) and the Guard secrets it wraps
// (the tokenizer root key exposes every token field in every tenant). A
// branch key version exposes the data keys it wraps now; one data key
// exposes its subject's (or its tenant's subject-less) encrypted values.
//
// The report reads the key store as it is: a data key rewrapped since
// under a newer branch key counts under the newer one, although an older
// copy of the key table (a backup) still holds it under the compromised
// one; fields of types not registered with the Guard are not known to it.
// The JSON (the Breach type) is for a notification process; it holds
// subject ids, so treat it as personal data.
func (g *Guard) BreachReport(ctx context.Context, c Compromised) ([]byte, error) {
	b, err := g.breach(ctx, c)
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(b, "", "  ")
}

// listAll pages through every record of kind.
func listAll(ctx context.Context, ks envelope.KeyStore, kind envelope.Kind, fn func(envelope.Record) error) error {
	after := envelope.KeyRef{Kind: kind}
	for {
		recs, err := ks.List(ctx, kind, after, 500)
		if err != nil {
			return fmt.Errorf("guard: key store: %w", err)
		}
		for _, r := range recs {
			if r.Kind != kind {
				return errors.New("guard: key store: List returned a record of another kind")
			}
			if err := fn(r); err != nil {
				return err
			}
			after = r.KeyRef
		}
		if len(recs) < 500 {
			return nil
		}
	}
}

type tenantExposure struct {
	subjects   map[string]bool
	branches   map[uint32]bool
	deks       int
	tenantData bool
	search     bool
}

func (g *Guard) breach(ctx context.Context, c Compromised) (*Breach, error) {
	n := 0
	for _, set := range []bool{c.KMSKey != nil, c.Key != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, errors.New("guard: BreachReport: set exactly one of KMSKey and Key")
	}
	if c.Key != nil {
		switch k := c.Key; {
		case k.Kind != envelope.KindBranch && k.Kind != envelope.KindDEK:
			return nil, fmt.Errorf("guard: BreachReport: Key.Kind %q: want envelope.KindBranch or envelope.KindDEK", k.Kind)
		case k.Kind == envelope.KindBranch && k.Scope != "":
			return nil, errors.New("guard: BreachReport: a branch key has no Scope")
		case k.Kind == envelope.KindDEK && k.Scope != "t" && !strings.HasPrefix(k.Scope, "s:"):
			return nil, errors.New(`guard: BreachReport: a data key's Scope is "s:" and the subject id, or "t"`)
		}
	}
	out := &Breach{Format: BreachFormat, GeneratedAt: g.clock.Now().UTC(), Tenants: []BreachTenant{}, Secrets: []string{}, Categories: []string{}, Fields: []BreachField{}}
	exp := map[string]*tenantExposure{}
	tenant := func(t string) *tenantExposure {
		e := exp[t]
		if e == nil {
			e = &tenantExposure{subjects: map[string]bool{}, branches: map[uint32]bool{}}
			exp[t] = e
		}
		return e
	}
	addDEK := func(r envelope.Record) {
		e := tenant(r.Tenant)
		e.deks++
		if s, ok := strings.CutPrefix(r.Scope, "s:"); ok {
			e.subjects[s] = true
		} else {
			e.tenantData = true
		}
	}
	branchDEKs := func(t string, versions map[uint32]bool) error {
		return listAll(ctx, g.keys, envelope.KindDEK, func(r envelope.Record) error {
			if r.Tenant == t && versions[r.Parent] {
				addDEK(r)
			}
			return nil
		})
	}
	switch {
	case c.Key != nil && c.Key.Kind == envelope.KindDEK:
		ref := *c.Key
		out.Compromised = fmt.Sprintf("data key %d of tenant %q, scope %q", ref.ID, ref.Tenant, ref.Scope)
		r, err := g.keys.Get(ctx, ref)
		switch {
		case errors.Is(err, envelope.ErrNotFound):
			// Shredded or never made: nothing it opens is live, but its
			// scope's values sealed under it are still exposed.
			addDEK(envelope.Record{KeyRef: ref})
		case err != nil:
			return nil, fmt.Errorf("guard: key store: %w", err)
		case r.KeyRef != ref:
			return nil, errors.New("guard: key store returned a record other than the one asked for")
		default:
			addDEK(r)
		}
	case c.Key != nil:
		b := *c.Key
		out.Compromised = fmt.Sprintf("branch key version %d of tenant %q", b.ID, b.Tenant)
		tenant(b.Tenant).branches[b.ID] = true
		if err := branchDEKs(b.Tenant, map[uint32]bool{b.ID: true}); err != nil {
			return nil, err
		}
	default:
		kid := *c.KMSKey
		out.Compromised = "KMS key " + kid.String()
		wraps := func(kek string) bool {
			if kid.Version == "" {
				return kek == kid.Key || strings.HasPrefix(kek, kid.Key+"#")
			}
			return kek == kid.String()
		}
		err := listAll(ctx, g.keys, envelope.KindBranch, func(r envelope.Record) error {
			if wraps(r.KEK) {
				tenant(r.Tenant).branches[r.ID] = true
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for t, e := range exp {
			if err := branchDEKs(t, e.branches); err != nil {
				return nil, err
			}
		}
		err = listAll(ctx, g.keys, envelope.KindSearch, func(r envelope.Record) error {
			if wraps(r.KEK) {
				tenant(r.Tenant).search = true
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		err = listAll(ctx, g.keys, envelope.KindSecret, func(r envelope.Record) error {
			if r.Tenant != "" || !wraps(r.KEK) {
				return nil
			}
			switch r.Scope {
			case secretTokenizer:
				out.Secrets = append(out.Secrets, "tokenizer root key")
				out.AllTenants = true
			case secretLedger:
				out.Secrets = append(out.Secrets, "ledger key")
			case secretPseudonym:
				out.Secrets = append(out.Secrets, "pseudonym key")
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if out.AllTenants {
			// Every tenant the key store knows holds tokens, maybe.
			if err := listAll(ctx, g.keys, envelope.KindBranch, func(r envelope.Record) error {
				tenant(r.Tenant)
				return nil
			}); err != nil {
				return nil, err
			}
		}
	}
	fieldsUnion := map[BreachField]bool{}
	cats := map[string]bool{}
	for _, t := range sortedKeys(exp) {
		e := exp[t]
		bt := BreachTenant{Tenant: t, Subjects: sortedKeys(e.subjects), TenantData: e.tenantData, DEKs: e.deks,
			SearchRoot: e.search, AllSubjects: e.search || out.AllTenants, Fields: []BreachField{}}
		bt.SubjectCount = len(bt.Subjects)
		for _, v := range sortedKeys(e.branches) {
			bt.BranchKeys = append(bt.BranchKeys, v)
		}
		for _, st := range g.registered() {
			sc := st.Schema()
			for _, f := range sc.Fields {
				base := BreachField{Type: sc.Name, Field: f.Path, Category: f.Category,
					Sensitive: f.Opts.Sensitive}
				var hits []BreachField
				hit := func(via, scope string) {
					bf := base
					bf.Via, bf.Scope = via, scope
					hits = append(hits, bf)
				}
				if f.Opts.Encrypt == pii.EncryptRandom && sc.Subject != nil && len(e.subjects) > 0 {
					hit(viaDEK, "subjects")
				}
				if f.Opts.Encrypt == pii.EncryptRandom && sc.Subject == nil && e.tenantData {
					hit(viaDEK, "tenant data")
				}
				if (f.Opts.Encrypt == pii.EncryptDet || f.Opts.Index) && e.search {
					hit(viaSearch, "every subject")
				}
				if f.Opts.Token != "" && out.AllTenants {
					hit(viaTokenizer, "every subject")
				}
				for _, bf := range hits {
					bt.Fields = append(bt.Fields, bf)
					u := bf
					u.Scope = ""
					fieldsUnion[u] = true
					cats[f.Category] = true
				}
			}
		}
		out.Tenants = append(out.Tenants, bt)
	}
	for bf := range fieldsUnion {
		out.Fields = append(out.Fields, bf)
	}
	slices.SortFunc(out.Fields, func(a, b BreachField) int {
		return strings.Compare(a.Type+"\x00"+a.Field+"\x00"+a.Via, b.Type+"\x00"+b.Field+"\x00"+b.Via)
	})
	out.Categories = sortedKeys(cats)
	slices.Sort(out.Secrets)
	return out, nil
}

func sortedKeys[K interface{ ~string | ~uint32 }, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
