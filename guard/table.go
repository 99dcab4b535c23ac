// Table: a typed table helper over database/sql for one tagged type.

package guard

import (
	"context"
	"crypto/hmac"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/internal/sealedtext"
	"github.com/fieldguard/pii/internal/sqldialect"
	"github.com/fieldguard/pii/internal/sqlmap"
	"github.com/fieldguard/pii/retention"
	"github.com/fieldguard/pii/retention/sqlstore"
	"github.com/fieldguard/pii/tokenize"
)

// TableOptions configure NewTable. The mapping fields are those of
// retention/sqlstore.Mapping: the table and the retention sweeps read one
// mapping.
type TableOptions struct {
	// Table is the table name, optionally schema-qualified ("app.customers");
	// default the type name in snake_case.
	Table string
	// ID is the id column; default the column of the field tagged
	// pii:"id", else "id".
	ID string
	// Created is the column holding the creation time (the default
	// retention clock); default the column of a CreatedAt field, if any.
	Created string
	// Columns maps Go field names (top level) to columns, overriding the
	// derived names.
	Columns map[string]string
	// Permit decides which tokens reads reverse (see Guard.Open); nil
	// reverses none, so token fields read as tokens. Use WithPermit for a
	// permit per request.
	Permit tokenize.Permit
	// AcceptPlaintext lets reads through when a sealed field holds a value
	// still in clear, instead of failing, and counts each such value
	// (Table.PlaintextReads): for a table whose columns a Migration is
	// sealing (or unsealing). Turn it off when the migration is done.
	AcceptPlaintext bool
}

// Table reads and writes one tagged type T in its own table: it protects
// on write, opens on read, scopes every statement by tenant and maps NULL
// to zero values. Make one per type with NewTable and share it; it is safe
// for concurrent use.
//
// Rows map through the `db` tags (see TableOptions). The row key is
// (tenant column, id column), or the id column alone when T has no
// pii:"tenant" field (it then holds only the tenant ""). Zero values and
// nil pointers of other columns are written as NULL, and NULL reads as the
// zero value (a nil pointer for pointer fields), as the retention sweeps
// write and read them: use *string only where nil and "" mean different
// things to you, and remember that both are stored as NULL.
//
// Every method reads and writes through pii.ExecutorFrom(ctx, db): run it
// under pii.WithExecutor(ctx, tx) to join your *sql.Tx (or *sql.Conn), so
// that its rows, and the keys and tokens Protect makes for them, commit or
// roll back with yours. That is the one way the module joins a
// transaction; there is no Tx argument.
//
// Writes protect the value in place: after Insert or Update, *v holds what
// was written (tokens, sealed text, blind indexes), never a clear copy.
// Call Guard.Open on it, or read it back, to see it in clear again.
//
// A sealed value is bound to its tenant, type, field and record: a
// database/sql driver.Valuer sees one value and none of those, which is
// why there is no Valuer type and why the protection happens here (or, for
// your own queries, in Guard.Protect and Guard.Open).
type Table[T any] struct {
	g      tableGuard
	db     *sql.DB
	d      sqldialect.Dialect
	m      *sqlmap.Map
	store  *sqlstore.Table
	permit tokenize.Permit
	sealed bool // reads return rows as stored (Protected)
	// plain counts the plaintext values reads let through, when
	// TableOptions.AcceptPlaintext (nil otherwise); shared by copies.
	plain *atomic.Int64
	sql   tableSQL
}

// tableGuard is what a Table uses of its Guard.
type tableGuard interface {
	Protect(ctx context.Context, ptr any) error
	Open(ctx context.Context, ptr any, permit tokenize.Permit) error
	Register(stores ...retention.Store) error
	Lookup(ctx context.Context, tenant string, typ any, field, value string) (Lookup, error)
	sqlDB() *sql.DB
	sqlDialect() sqldialect.Dialect
	storeOptions() *sqlstore.Options
	sealer() *envelope.Sealer
}

// tableSQL holds the statements a Table runs, built once, with ?
// placeholders rebound for the dialect.
type tableSQL struct {
	insert, update, get, del, selectTenant string
	nonKey                                 []int // columns Update sets
}

// NewTable maps T (through its `db` tags) to opts.Table and registers it
// with g, so Forget, Sweep and Export consider its rows and no shred
// destroys a key its values need. It runs no SQL: Guard.CreateTables
// creates the table (the statements DDL returns) with the Guard's own, or
// apply DDL with your migration tool. g must have been built by New (a
// Table needs the database).
func NewTable[T any](g *Guard, opts *TableOptions) (*Table[T], error) {
	if g == nil {
		return nil, errors.New("guard: NewTable: nil Guard")
	}
	return newTable[T](g, opts)
}

func newTable[T any](g tableGuard, opts *TableOptions) (*Table[T], error) {
	db := g.sqlDB()
	if db == nil {
		return nil, errors.New("guard: NewTable needs a Guard built by New with a *sql.DB (NewMemory has no database)")
	}
	var o TableOptions
	if opts != nil {
		o = *opts
	}
	var zero T
	if reflect.TypeOf(zero) == nil || reflect.TypeOf(zero).Kind() != reflect.Struct {
		return nil, fmt.Errorf("guard: NewTable: %T is not a struct type", zero)
	}
	so := *g.storeOptions()
	so.Mapping = &sqlstore.Mapping{Table: o.Table, ID: o.ID, Created: o.Created, Columns: o.Columns}
	store, err := sqlstore.New(db, zero, &so)
	if err != nil {
		return nil, fmt.Errorf("guard: NewTable: %w", err)
	}
	m, err := sqlmap.New(store.Schema(), sqlmap.Mapping(*so.Mapping))
	if err != nil {
		return nil, fmt.Errorf("guard: NewTable: %w", err)
	}
	t := &Table[T]{g: g, db: db, d: g.sqlDialect(), m: m, store: store, permit: o.Permit}
	if o.AcceptPlaintext {
		t.plain = new(atomic.Int64)
	}
	t.sql = t.statements()
	if err := g.Register(&tableStore{Table: store, create: t.createTable, mg: searchMigration(g, zero, &o)}); err != nil {
		return nil, err
	}
	return t, nil
}

// tableStore is what NewTable registers with the Guard: retention's store
// over the table (retention.Store and PipelineClaims through the embedded
// *sqlstore.Table), which also creates the data table in
// Guard.CreateTables.
type tableStore struct {
	*sqlstore.Table
	create func(context.Context) error
	mg     *Migration // re-indexes it in RotateSearchKeys; nil when nothing is searchable
}

func (s *tableStore) createTable(ctx context.Context) error { return s.create(ctx) }

// WithPermit returns the table reading with permit instead of the one in
// TableOptions: the permit of one request (an agent, a supervisor). The
// tables share everything else.
func (t *Table[T]) WithPermit(permit tokenize.Permit) *Table[T] {
	c := *t
	c.permit = permit
	c.sealed = false
	return &c
}

// Protected returns the table reading rows as they are stored (tokens,
// sealed text, blind indexes), without opening them: for Guard.View, which
// opens only what a viewer may see, and for copying rows. FindBy through
// it may return false positives of a blind index (see FindBy).
func (t *Table[T]) Protected() *Table[T] {
	c := *t
	c.sealed = true
	return &c
}

func (t *Table[T]) rebind(q string) string { return t.d.Rebind(q) }

func (t *Table[T]) statements() tableSQL {
	m := t.m
	var s tableSQL
	ph := strings.TrimSuffix(strings.Repeat("?, ", len(m.Cols)), ", ")
	s.insert = t.rebind("INSERT INTO " + m.Table + " (" + m.SelectList + ") VALUES (" + ph + ")")
	key := m.IDCol + " = ?"
	if m.TenantCol != "" {
		key = m.TenantCol + " = ? AND " + key
	}
	var sets []string
	for i, c := range m.Cols {
		if i == m.ID || i == m.Tenant {
			continue
		}
		sets = append(sets, c.Name+" = ?")
		s.nonKey = append(s.nonKey, i)
	}
	if len(sets) > 0 {
		s.update = t.rebind("UPDATE " + m.Table + " SET " + strings.Join(sets, ", ") + " WHERE " + key)
	}
	s.get = t.rebind("SELECT " + m.SelectList + " FROM " + m.Table + " WHERE " + key)
	s.del = t.rebind("DELETE FROM " + m.Table + " WHERE " + key)
	s.selectTenant = "SELECT " + m.SelectList + " FROM " + m.Table
	if m.TenantCol != "" {
		s.selectTenant += " WHERE " + m.TenantCol + " = ?"
	}
	return s
}

func (t *Table[T]) exec(ctx context.Context) pii.Executor { return pii.ExecutorFrom(ctx, t.db) }

// keyArgs appends the row key (tenant, id) of the request as driver
// arguments.
func (t *Table[T]) keyArgs(args []any, tenant, id string) []any {
	if t.m.TenantCol != "" {
		args = append(args, t.m.KeyArg(t.m.Tenant, tenant))
	}
	return append(args, t.m.KeyArg(t.m.ID, id))
}

// args appends the driver arguments of every column of v, in Cols order.
// The row key is written as it is (an empty tenant is ”, not NULL); other
// zero values are NULL.
func (t *Table[T]) args(args []any, root reflect.Value) []any {
	for i := range t.m.Cols {
		args = append(args, t.arg(root, i))
	}
	return args
}

func (t *Table[T]) arg(root reflect.Value, i int) any {
	fv := t.m.Field(root, i)
	if i == t.m.ID || i == t.m.Tenant {
		_, k := sqlmap.KeyOf(fv)
		return k
	}
	return sqlmap.Value(fv)
}

// Insert protects *v in place (tokens, seals, blind indexes) and inserts
// it.
func (t *Table[T]) Insert(ctx context.Context, v *T) error {
	if v == nil {
		return fmt.Errorf("guard: %s: Insert of a nil value", t.m.Table)
	}
	if err := t.g.Protect(ctx, v); err != nil {
		return err
	}
	root := reflect.ValueOf(v).Elem()
	if _, err := t.exec(ctx).ExecContext(ctx, t.sql.insert, t.args(make([]any, 0, len(t.m.Cols)), root)...); err != nil {
		return fmt.Errorf("guard: insert into %s: %w", t.m.Table, err)
	}
	return nil
}

// Update protects *v in place and writes every column of its row (the
// row key is v's tenant and id, which it does not change). It fails with
// an error wrapping sql.ErrNoRows when the row does not exist.
func (t *Table[T]) Update(ctx context.Context, v *T) error {
	if v == nil {
		return fmt.Errorf("guard: %s: Update of a nil value", t.m.Table)
	}
	if t.sql.update == "" {
		return fmt.Errorf("guard: %s: Update: no column besides the row key", t.m.Table)
	}
	if err := t.g.Protect(ctx, v); err != nil {
		return err
	}
	root := reflect.ValueOf(v).Elem()
	args := make([]any, 0, len(t.m.Cols))
	for _, i := range t.sql.nonKey {
		args = append(args, t.arg(root, i))
	}
	args = append(args, t.keyOf(root)...)
	res, err := t.exec(ctx).ExecContext(ctx, t.sql.update, args...)
	if err != nil {
		return fmt.Errorf("guard: update %s: %w", t.m.Table, err)
	}
	return t.oneRow(res, "update")
}

// keyOf returns the row key of root as driver arguments.
func (t *Table[T]) keyOf(root reflect.Value) []any {
	var k []any
	if t.m.Tenant >= 0 {
		k = append(k, t.arg(root, t.m.Tenant))
	}
	return append(k, t.arg(root, t.m.ID))
}

func (t *Table[T]) oneRow(res sql.Result, op string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("guard: %s %s: %w", op, t.m.Table, err)
	}
	switch {
	case n == 0:
		return fmt.Errorf("guard: %s %s: %w", op, t.m.Table, sql.ErrNoRows)
	case n > 1:
		// The row key is not unique: make it the table's primary key.
		return fmt.Errorf("guard: %s %s: %d rows share one row key; make (%s) the table's primary key", op, t.m.Table, n, t.m.OrderBy)
	}
	return nil
}

// Delete deletes the row (tenant, id). It fails with an error wrapping
// sql.ErrNoRows when there is none. It deletes the row only: the erasure
// of a data subject (keys, tokens, every registered type, the ledger) is
// Guard.Forget.
func (t *Table[T]) Delete(ctx context.Context, tenant, id string) error {
	if !t.tenantOK(tenant) {
		return fmt.Errorf("guard: delete from %s: %w", t.m.Table, sql.ErrNoRows)
	}
	res, err := t.exec(ctx).ExecContext(ctx, t.sql.del, t.keyArgs(make([]any, 0, 2), tenant, id)...)
	if err != nil {
		return fmt.Errorf("guard: delete from %s: %w", t.m.Table, err)
	}
	return t.oneRow(res, "delete from")
}

// tenantOK reports whether tenant can have rows in the table: a type
// without a tenant column holds only the tenant "".
func (t *Table[T]) tenantOK(tenant string) bool { return t.m.TenantCol != "" || tenant == "" }

// Get reads the row (tenant, id) and opens it with the table's permit. It
// fails with an error wrapping sql.ErrNoRows when there is none.
func (t *Table[T]) Get(ctx context.Context, tenant, id string) (*T, error) {
	if !t.tenantOK(tenant) {
		return nil, fmt.Errorf("guard: %s: %w", t.m.Table, sql.ErrNoRows)
	}
	want := rowCheck{tenant: tenant, id: t.m.KeyArg(t.m.ID, id), checkID: true}
	rows, err := t.query(ctx, t.sql.get, t.keyArgs(make([]any, 0, 2), tenant, id), want, 2)
	if err != nil {
		return nil, err
	}
	switch len(rows) {
	case 0:
		return nil, fmt.Errorf("guard: %s: %w", t.m.Table, sql.ErrNoRows)
	case 1:
		return &rows[0], nil
	}
	return nil, fmt.Errorf("guard: %s: several rows share one row key; make (%s) the table's primary key", t.m.Table, t.m.OrderBy)
}

// Query returns the rows of tenant that match where, opened with the
// table's permit, in row key order. where is an SQL condition on the
// table's columns with ? placeholders for args (rebound to $n on
// PostgreSQL; no ? elsewhere in it), or "" for every row of the tenant:
//
//	pro, err := customers.Query(ctx, "acme", "plan = ? AND created_at < ?", "pro", cutoff)
//
// The tenant filter comes first and where is parenthesized after it; every
// row returned is checked to belong to tenant, so a condition that slips
// out of the parentheses fails instead of reading another tenant's rows.
// Write where in your program, never from input, as with any SQL text.
// Sealed columns hold ciphertext: compare them with FindBy, not in where.
func (t *Table[T]) Query(ctx context.Context, tenant, where string, args ...any) ([]T, error) {
	if !t.tenantOK(tenant) {
		return nil, nil
	}
	q := t.sql.selectTenant
	var all []any
	if t.m.TenantCol != "" {
		all = append(all, t.m.KeyArg(t.m.Tenant, tenant))
	}
	all = append(all, args...)
	if where != "" {
		if t.m.TenantCol != "" {
			q += " AND (" + where + ")"
		} else {
			q += " WHERE (" + where + ")"
		}
	}
	q += " ORDER BY " + t.m.OrderBy
	return t.query(ctx, t.rebind(q), all, rowCheck{tenant: tenant}, 0)
}

// rowCheck is what a request asked for, checked against every row a query
// returns before it is opened or handed out: the database (or a where
// clause) is trusted with nothing that was not asked.
type rowCheck struct {
	tenant  string
	id      any
	checkID bool
	// vals, when set, are what the column col must hold one of (the blind
	// indexes or deterministic ciphertexts FindBy looked up).
	col  int
	vals []any
}

// check checks a row against the request (a type without a tenant column
// is asked only for the tenant "": see tenantOK).
func (t *Table[T]) check(root reflect.Value, want rowCheck) error {
	if t.m.Tenant >= 0 {
		if got, _ := sqlmap.KeyOf(t.m.Field(root, t.m.Tenant)); got != want.tenant {
			return fmt.Errorf("guard: %s: the query returned a row of another tenant", t.m.Table)
		}
	}
	if want.checkID {
		if _, got := sqlmap.KeyOf(t.m.Field(root, t.m.ID)); got != want.id {
			return fmt.Errorf("guard: %s: the query returned a row of another record", t.m.Table)
		}
	}
	if want.vals != nil {
		ok := false
		for _, v := range want.vals {
			ok = ok || sameValue(t.m.Field(root, want.col), v)
		}
		if !ok {
			return fmt.Errorf("guard: %s: the query returned a row that does not match the lookup", t.m.Table)
		}
	}
	return nil
}

// sameValue compares a blind index or a deterministic ciphertext read
// from a row with the one looked up, in constant time.
func sameValue(fv reflect.Value, want any) bool {
	if fv.Kind() == reflect.Pointer {
		if fv.IsNil() {
			return false
		}
		fv = fv.Elem()
	}
	var got []byte
	if fv.Kind() == reflect.String {
		got = []byte(fv.String())
	} else {
		got = fv.Bytes()
	}
	var w []byte
	switch x := want.(type) {
	case string:
		w = []byte(x)
	case []byte:
		w = x
	}
	return len(w) > 0 && hmac.Equal(got, w)
}

// query runs q, decodes its rows, checks each against want and opens it
// (unless the table is Protected). limit > 0 stops reading after limit
// rows.
func (t *Table[T]) query(ctx context.Context, q string, args []any, want rowCheck, limit int) ([]T, error) {
	rows, err := t.exec(ctx).QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("guard: select from %s: %w", t.m.Table, err)
	}
	defer rows.Close()
	raw := make([]any, len(t.m.Cols))
	dest := make([]any, len(t.m.Cols))
	for i := range raw {
		dest[i] = &raw[i]
	}
	var out []T
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("guard: scan %s: %w", t.m.Table, err)
		}
		out = append(out, *new(T))
		root := reflect.ValueOf(&out[len(out)-1]).Elem()
		if err := t.m.DecodeInto(root, raw); err != nil {
			return nil, fmt.Errorf("guard: %w", err)
		}
		if err := t.check(root, want); err != nil {
			return nil, err
		}
		if err := t.sealedOnly(&out[len(out)-1]); err != nil {
			return nil, err
		}
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("guard: select from %s: %w", t.m.Table, err)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("guard: select from %s: %w", t.m.Table, err)
	}
	if !t.sealed && len(out) > 0 {
		// One Open for the page: the Sealer loads the keys of every row
		// it has not cached with one key-store query per batch.
		if err := t.g.Open(t.openCtx(ctx), &out, t.permit); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// sealedOnly checks that every encrypted string field of a row read from
// the table holds sealed text or nothing. A clear value there was written
// around the Table (or before a Migration sealed the column): it is
// refused with envelope.ErrNotSealed rather than returned as if it had
// been opened, unless TableOptions.AcceptPlaintext, which lets it through
// and counts it (PlaintextReads).
func (t *Table[T]) sealedOnly(ptr *T) error {
	sc := t.m.Schema
	return sc.Walk(ptr, func(f *pii.Field, path string, _, v reflect.Value) error {
		if f.Opts.Encrypt == pii.EncryptNone {
			return nil
		}
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return nil
			}
			v = v.Elem()
		}
		if v.Kind() != reflect.String || v.Len() == 0 || sealedtext.IsSealed(v.String()) {
			return nil
		}
		if t.plain != nil {
			t.plain.Add(1)
			return nil
		}
		return sc.FieldError(ptr, path, envelope.ErrNotSealed)
	})
}

// FindBy returns the rows of tenant whose field (a schema path such as
// "Email") holds value, opened with the table's permit. The field must be
// searchable: tagged index with a companion field (index=EmailIndex),
// looked up by its blind index, or encrypt=det, looked up by its
// deterministic ciphertext; index the companion (or det) column together
// with the tenant column (DDL does).
//
// Blind indexes shorter than the default may match other values (see
// envelope's Options.IndexBytes): opened rows whose value differs are
// dropped; rows read through Protected are not opened, so they may include
// such false positives.
func (t *Table[T]) FindBy(ctx context.Context, tenant, field, value string) ([]T, error) {
	if !t.tenantOK(tenant) {
		return nil, nil
	}
	col, lookups, err := t.lookup(ctx, tenant, field, value)
	if err != nil {
		return nil, err
	}
	q := t.sql.selectTenant
	if t.m.TenantCol != "" {
		q += " AND "
	} else {
		q += " WHERE "
	}
	// During a search key rotation a row holds the index of any live
	// version: match every one.
	q += t.m.Cols[col].Name + " IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(lookups)), ", ") + ") ORDER BY " + t.m.OrderBy
	var args []any
	if t.m.TenantCol != "" {
		args = append(args, t.m.KeyArg(t.m.Tenant, tenant))
	}
	args = append(args, lookups...)
	out, err := t.query(ctx, t.rebind(q), args, rowCheck{tenant: tenant, col: col, vals: lookups}, 0)
	if err != nil || t.sealed {
		return out, err
	}
	f := t.m.Schema.Field(field)
	kept := out[:0]
	for i := range out {
		if matchesSearch(f, reflect.ValueOf(&out[i]).Elem().FieldByIndex(t.m.ByPath[f.Path].Index), value) {
			kept = append(kept, out[i])
		}
	}
	clear(out[len(kept):])
	return kept, nil
}

// lookup returns the column FindBy compares and the values it looks for.
func (t *Table[T]) lookup(ctx context.Context, tenant, field, value string) (int, []any, error) {
	var zero T
	l, err := t.g.Lookup(ctx, tenant, zero, field, value)
	if err != nil {
		return 0, nil, err
	}
	c, ok := t.m.ByPath[l.Field]
	if !ok {
		return 0, nil, fmt.Errorf("guard: %s: FindBy %s: %s has no column", t.m.Table, field, l.Field)
	}
	return t.m.Col(c.Name), l.Values, nil
}
