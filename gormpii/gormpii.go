package gormpii

import (
	"context"
	"crypto/hmac"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"slices"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/guard"
	"github.com/fieldguard/pii/tokenize"
)

// name is the plugin's name in gorm.Config.Plugins.
const name = "gormpii"

// Settings keys of the scopes.
const (
	keyTenant = "gormpii:tenant"
	keyPermit = "gormpii:permit"
	keyFind   = "gormpii:find"
	keyLookup = "gormpii:lookup" // the resolved lookup, for the row check
)

// Options configure the plugin; nil means the defaults.
type Options struct {
	// SeparateDatabase says the Guard's tables are not in the database
	// GORM uses. By default the plugin passes GORM's transaction to the
	// Guard (pii.WithExecutor), so the keys and tokens a create makes
	// commit or roll back with its rows; that needs one database.
	SeparateDatabase bool
}

// Plugin is the GORM plugin: register it with db.Use(gormpii.New(g, nil)).
type Plugin struct {
	g    *guard.Guard
	opts Options
}

var _ gorm.Plugin = (*Plugin)(nil)

// New returns the plugin over g.
func New(g *guard.Guard, opts *Options) *Plugin {
	p := &Plugin{g: g}
	if opts != nil {
		p.opts = *opts
	}
	return p
}

// Name implements gorm.Plugin.
func (p *Plugin) Name() string { return name }

// Initialize registers the callbacks; it implements gorm.Plugin.
func (p *Plugin) Initialize(db *gorm.DB) error {
	if p.g == nil {
		return errors.New("gormpii: New needs a *guard.Guard")
	}
	cb := db.Callback()
	for _, err := range []error{
		cb.Create().Before("gorm:create").Register("gormpii:protect", p.beforeCreate),
		cb.Update().After("gorm:setup_reflect_value").Before("gorm:update").Register("gormpii:protect", p.beforeUpdate),
		cb.Query().Before("gorm:query").Register("gormpii:scope", p.beforeQuery),
		cb.Query().After("gorm:query").Before("gorm:preload").Register("gormpii:open", p.afterQuery),
		cb.Delete().Before("gorm:delete").Register("gormpii:scope", p.beforeDelete),
		cb.Row().Before("gorm:row").Register("gormpii:scope", p.beforeQuery),
	} {
		if err != nil {
			return fmt.Errorf("gormpii: %w", err)
		}
	}
	return nil
}

// Tenant scopes a statement to one tenant: queries, updates and deletes of
// a type with a pii:"tenant" field filter by it (and fail without this
// scope), every row a query returns is checked to belong to it, and
// created rows must carry it.
//
//	db.Scopes(gormpii.Tenant("acme")).Where("plan = ?", "pro").Find(&customers)
func Tenant(tenant string) func(*gorm.DB) *gorm.DB {
	return func(db *gorm.DB) *gorm.DB { return db.Set(keyTenant, tenant) }
}

// Permit sets the permit queries open with (see guard.Guard.Open): the
// token fields it allows are reversed, the others stay tokens. Without it
// no token is reversed.
func Permit(permit tokenize.Permit) func(*gorm.DB) *gorm.DB {
	return func(db *gorm.DB) *gorm.DB { return db.Set(keyPermit, permit) }
}

type findBy struct{ field, value string }

// FindBy selects, within tenant, the records whose searchable field (a
// schema path such as "Email": tagged encrypt,index=<companion> or
// encrypt=det) holds value, through its blind index or deterministic
// ciphertext (guard.Guard.Lookup). It implies Tenant(tenant).
//
//	db.Scopes(gormpii.FindBy("acme", "Email", addr)).Find(&found)
//
// Opened rows whose value differs (a short blind index matches other
// values now and then) are dropped.
func FindBy(tenant, field, value string) func(*gorm.DB) *gorm.DB {
	return func(db *gorm.DB) *gorm.DB {
		return db.Set(keyTenant, tenant).Set(keyFind, findBy{field, value})
	}
}

// plan is what the plugin knows of a statement's model.
type plan struct {
	s      *pii.Schema
	gs     *schema.Schema
	tenant *schema.Field // nil for types without a pii:"tenant" field
}

// planOf returns the plan of the statement's model, or nil when it has no
// tagged personal data.
func planOf(db *gorm.DB) (*plan, error) {
	st := db.Statement
	if st.Schema == nil {
		return nil, nil
	}
	s, err := pii.SchemaOf(reflect.New(st.Schema.ModelType).Interface())
	if err != nil {
		return nil, fmt.Errorf("gormpii: %w", err)
	}
	if len(s.Fields) == 0 && s.Tenant == nil {
		return nil, nil
	}
	pl := &plan{s: s, gs: st.Schema}
	if s.Tenant != nil {
		pl.tenant = st.Schema.LookUpField(s.Tenant.Path)
		if pl.tenant == nil || pl.tenant.DBName == "" {
			return nil, fmt.Errorf("gormpii: %s: the pii:\"tenant\" field %s has no column", s.Name, s.Tenant.Path)
		}
	}
	return pl, nil
}

// ctx is the statement's context, carrying GORM's transaction (when in
// one) for the Guard's own writes and reads.
func (p *Plugin) ctx(db *gorm.DB) context.Context {
	ctx := db.Statement.Context
	if ctx == nil {
		ctx = context.Background()
	}
	if !p.opts.SeparateDatabase {
		if tx, ok := db.Statement.ConnPool.(*sql.Tx); ok {
			ctx = pii.WithExecutor(ctx, tx)
		}
	}
	return ctx
}

func tenantOf(db *gorm.DB) (string, bool) {
	v, ok := db.Get(keyTenant)
	if !ok {
		return "", false
	}
	t, ok := v.(string)
	return t, ok
}

// elems calls fn with a pointer to every element of v (a struct, or a
// slice or array of structs or pointers to them) whose type is typ.
func elems(v reflect.Value, typ reflect.Type, fn func(ptr any) error) error {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() != typ {
			return nil
		}
		if !v.CanAddr() {
			return fmt.Errorf("gormpii: %s passed by value; pass a pointer so it can be protected in place", typ)
		}
		return fn(v.Addr().Interface())
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			if err := elems(v.Index(i), typ, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// refuseProtectedColumns fails a create or update from a map that writes a
// protected column: it could not be sealed for its record.
func refuseProtectedColumns(db *gorm.DB, pl *plan) bool {
	m, ok := db.Statement.Dest.(map[string]any)
	if !ok {
		if ms, ok := db.Statement.Dest.([]map[string]any); ok && len(ms) > 0 {
			m = ms[0]
		} else {
			return false
		}
	}
	for k := range m {
		f := db.Statement.Schema.LookUpField(k)
		if f == nil {
			continue
		}
		if protected(pl.s, f.Name) {
			db.AddError(fmt.Errorf("gormpii: %s.%s is protected and cannot be written from a map (it would not be sealed for its record); save the struct", pl.s.Name, f.Name))
			return true
		}
	}
	return false
}

// protected reports whether the top-level Go field name holds protected
// data: encrypted, tokenized, or a blind index companion.
func protected(s *pii.Schema, goName string) bool {
	for _, f := range s.Fields {
		if f.Opts.Encrypt == pii.EncryptNone && f.Opts.Token == "" {
			continue
		}
		if f.Path == goName || f.Opts.IndexField == goName {
			return true
		}
	}
	return false
}

func (p *Plugin) beforeCreate(db *gorm.DB) {
	if db.Error != nil {
		return
	}
	pl, err := planOf(db)
	if err != nil || pl == nil {
		db.AddError(err)
		return
	}
	if refuseProtectedColumns(db, pl) {
		return
	}
	tenant, scoped := tenantOf(db)
	var ptrs []any
	err = elems(db.Statement.ReflectValue, pl.gs.ModelType, func(ptr any) error {
		if scoped && pl.s.TenantOf(ptr) != tenant {
			return fmt.Errorf("gormpii: create %s: a record of another tenant than the statement's gormpii.Tenant", pl.s.Name)
		}
		ptrs = append(ptrs, ptr)
		return nil
	})
	if err != nil {
		db.AddError(err)
		return
	}
	// A batch is protected with one Protect, which makes the keys of its
	// new subjects together (one lookup, one insert), in the statement's
	// transaction.
	db.AddError(p.g.Protect(p.ctx(db), batch(pl.gs.ModelType, ptrs)))
}

// batch returns ptrs, pointers to structs of typ, as what Protect and Open
// take: the one pointer, or a []*typ of them all.
func batch(typ reflect.Type, ptrs []any) any {
	if len(ptrs) == 1 {
		return ptrs[0]
	}
	s := reflect.MakeSlice(reflect.SliceOf(reflect.PointerTo(typ)), len(ptrs), len(ptrs))
	for i, ptr := range ptrs {
		s.Index(i).Set(reflect.ValueOf(ptr))
	}
	return s.Interface()
}

func (p *Plugin) beforeUpdate(db *gorm.DB) {
	if db.Error != nil {
		return
	}
	pl, err := planOf(db)
	if err != nil || pl == nil {
		db.AddError(err)
		return
	}
	if refuseProtectedColumns(db, pl) {
		return
	}
	if !p.scope(db, pl, true) {
		return
	}
	st := db.Statement
	dest := reflect.ValueOf(st.Dest)
	for dest.Kind() == reflect.Pointer {
		dest = dest.Elem()
	}
	if dest.Kind() != reflect.Struct || dest.Type() != pl.gs.ModelType {
		return
	}
	if st.Dest != st.Model && dest.CanAddr() {
		// Updates(&Customer{...}) on Model(&c): the values are sealed for
		// the record they name, so they must name c.
		model := reflect.Indirect(reflect.ValueOf(st.Model)).Addr().Interface()
		d := dest.Addr().Interface()
		if pl.s.TenantOf(d) != pl.s.TenantOf(model) || pl.s.RecordOf(d) != pl.s.RecordOf(model) || pl.s.SubjectOf(d) != pl.s.SubjectOf(model) {
			db.AddError(fmt.Errorf("gormpii: update %s: the values name another record than the model (set its tenant, id and subject, or use Save)", pl.s.Name))
			return
		}
	}
	db.AddError(elems(dest, pl.gs.ModelType, func(ptr any) error { return p.g.Protect(p.ctx(db), ptr) }))
}

func (p *Plugin) beforeDelete(db *gorm.DB) {
	if db.Error != nil {
		return
	}
	pl, err := planOf(db)
	if err != nil || pl == nil {
		db.AddError(err)
		return
	}
	p.scope(db, pl, true)
}

// scope adds the tenant filter of a statement on a type with a tenant
// field: the gormpii.Tenant scope's, or (for updates and deletes of one
// record, when fromValue) the record's own when it names one. It fails the statement when
// there is neither.
func (p *Plugin) scope(db *gorm.DB, pl *plan, fromValue bool) bool {
	if pl.tenant == nil {
		return true
	}
	tenant, ok := tenantOf(db)
	if !ok && fromValue {
		v := db.Statement.ReflectValue
		if v.Kind() == reflect.Struct && v.CanAddr() && v.Type() == pl.gs.ModelType {
			// A record with an empty tenant (Delete(&Customer{}, ...))
			// names none: it needs the scope, even for the tenant "".
			tenant = pl.s.TenantOf(v.Addr().Interface())
			ok = tenant != ""
		}
	}
	if !ok {
		db.AddError(fmt.Errorf("gormpii: %s has a tenant: scope the statement with gormpii.Tenant", pl.s.Name))
		return false
	}
	db.Statement.AddClause(clause.Where{Exprs: []clause.Expression{
		clause.Eq{Column: clause.Column{Table: clause.CurrentTable, Name: pl.tenant.DBName}, Value: tenant},
	}})
	return true
}

type lookup struct {
	find   findBy
	field  *schema.Field // the column compared
	values []any
}

func (p *Plugin) beforeQuery(db *gorm.DB) {
	if db.Error != nil {
		return
	}
	pl, err := planOf(db)
	if err != nil || pl == nil {
		db.AddError(err)
		return
	}
	if !p.scope(db, pl, false) {
		return
	}
	v, ok := db.Get(keyFind)
	if !ok {
		return
	}
	fb := v.(findBy)
	tenant, _ := tenantOf(db)
	l, err := p.g.Lookup(p.ctx(db), tenant, reflect.New(pl.gs.ModelType).Interface(), fb.field, fb.value)
	if err != nil {
		db.AddError(err)
		return
	}
	f := pl.gs.LookUpField(l.Field)
	if f == nil || f.DBName == "" {
		db.AddError(fmt.Errorf("gormpii: %s.%s: the column compared (%s) is not mapped", pl.s.Name, fb.field, l.Field))
		return
	}
	db.Statement.AddClause(clause.Where{Exprs: []clause.Expression{
		// One value per live search key version: a row holds any of them.
		clause.IN{Column: clause.Column{Table: clause.CurrentTable, Name: f.DBName}, Values: l.Values},
	}})
	db.InstanceSet(keyLookup, &lookup{find: fb, field: f, values: l.Values})
}

// afterQuery checks every row of the model's type against the request
// (its tenant, and the looked-up column for FindBy) and opens it.
func (p *Plugin) afterQuery(db *gorm.DB) {
	if db.Error != nil {
		return
	}
	pl, err := planOf(db)
	if err != nil || pl == nil {
		db.AddError(err)
		return
	}
	tenant, scoped := tenantOf(db)
	var lk *lookup
	if v, ok := db.InstanceGet(keyLookup); ok {
		lk = v.(*lookup)
	}
	var permit tokenize.Permit
	if v, ok := db.Get(keyPermit); ok {
		permit, _ = v.(tokenize.Permit)
	}
	ctx := p.ctx(db)
	rv := db.Statement.ReflectValue
	// Every row is checked against the request before any is opened; then
	// the page is opened with one Open, which loads its keys together.
	var ptrs []any
	err = elems(rv, pl.gs.ModelType, func(ptr any) error {
		if pl.tenant != nil && (!scoped || pl.s.TenantOf(ptr) != tenant) {
			return fmt.Errorf("gormpii: %s: the query returned a row of another tenant", pl.s.Name)
		}
		if lk != nil {
			got, _ := lk.field.ValueOf(ctx, reflect.ValueOf(ptr).Elem())
			if !slices.ContainsFunc(lk.values, func(v any) bool { return same(got, v) }) {
				return fmt.Errorf("gormpii: %s: the query returned a row that does not match the lookup", pl.s.Name)
			}
		}
		if err := sealedOnly(pl.s, ptr); err != nil {
			return err
		}
		ptrs = append(ptrs, ptr)
		return nil
	})
	if err == nil && len(ptrs) > 0 {
		err = p.g.Open(ctx, batch(pl.gs.ModelType, ptrs), permit)
	}
	var drop []int
	if err == nil && lk != nil {
		f := pl.gs.LookUpField(pl.s.Field(lk.find.field).Path)
		for i, ptr := range ptrs {
			if got, _ := f.ValueOf(ctx, reflect.ValueOf(ptr).Elem()); !same(got, lk.find.value) {
				drop = append(drop, i)
			}
		}
	}
	if err != nil {
		// Nothing half-opened or of another tenant is left in the
		// destination.
		zero(rv)
		db.AddError(err)
		return
	}
	if len(drop) > 0 {
		dropRows(db, rv, drop)
	}
}

// sealedOnly checks that every encrypted string field of a row read from
// the database holds sealed text or nothing: a clear value there was
// written around the plugin, and is refused (envelope.ErrNotSealed) rather
// than returned as if it had been opened.
func sealedOnly(s *pii.Schema, ptr any) error {
	return s.Walk(ptr, func(f *pii.Field, path string, _, v reflect.Value) error {
		if f.Opts.Encrypt == pii.EncryptNone {
			return nil
		}
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return nil
			}
			v = v.Elem()
		}
		if v.Kind() != reflect.String || v.Len() == 0 || envelope.IsSealed(v.String()) {
			return nil
		}
		return s.FieldError(ptr, path, envelope.ErrNotSealed)
	})
}

// same compares a blind index, ciphertext or opened value in constant
// time.
func same(got, want any) bool {
	b := func(v any) []byte {
		switch x := v.(type) {
		case string:
			return []byte(x)
		case *string:
			if x != nil {
				return []byte(*x)
			}
		case []byte:
			return x
		}
		return nil
	}
	w := b(want)
	return len(w) > 0 && hmac.Equal(b(got), w)
}

func zero(rv reflect.Value) {
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return
		}
		rv = rv.Elem()
	}
	if rv.CanSet() {
		rv.SetZero()
	}
}

// dropRows removes the rows at the indexes drop (in order) from the
// destination: a slice shrinks; a single struct is zeroed and the
// statement fails with gorm.ErrRecordNotFound, as a miss does.
func dropRows(db *gorm.DB, rv reflect.Value, drop []int) {
	for rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Slice {
		zero(rv)
		db.RowsAffected = 0
		db.AddError(gorm.ErrRecordNotFound)
		return
	}
	n, d := 0, 0
	for i := 0; i < rv.Len(); i++ {
		if d < len(drop) && drop[d] == i {
			d++
			continue
		}
		rv.Index(n).Set(rv.Index(i))
		n++
	}
	for i := n; i < rv.Len(); i++ {
		rv.Index(i).SetZero()
	}
	rv.SetLen(n)
	db.RowsAffected = int64(n)
}
