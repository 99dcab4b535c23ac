// Package benchdata is the shared fixture of the sqlstore tests and the
// sweep benchmark: a tagged Account type, its table, a deterministic data
// generator and the hand-written batched SQL sweep that the retention
// sweeper is measured against.
package benchdata

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Account is the benchmark record: mixed actions on several clocks.
type Account struct {
	ID        int64      `db:"id" pii:"id"`
	Subject   string     `db:"subject" pii:"subject"`
	Tenant    string     `db:"tenant" pii:"tenant"`
	CreatedAt time.Time  `db:"created_at"`
	LastSeen  time.Time  `db:"last_seen"`
	ClosedAt  *time.Time `db:"closed_at"`
	Email     string     `db:"email" pii:"email,retain=1y,from=LastSeen,then=null"`
	Name      string     `db:"name" pii:"name,retain=1y,from=LastSeen,then=redact"`
	Phone     string     `db:"phone" pii:"phone,retain=1y,from=LastSeen,then=generalize:last4"`
	Postcode  string     `db:"postcode" pii:"postcode,retain=1y,from=LastSeen,then=generalize:postcode:3"`
	Handle    string     `db:"handle" pii:"user.handle,retain=1y,from=LastSeen,then=anonymize"`
	IP        string     `db:"ip" pii:"ip,retain=30d,from=LastSeen,then=generalize:ipv4/24"`
	BirthDate time.Time  `db:"birth_date" pii:"dob,retain=2y,then=generalize:year"`
	Ref       string     `db:"ref" pii:"user.ref,retain=90d,from=ClosedAt,then=delete"`
}

// Now is the benchmark's fixed "current" time.
var Now = time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)

// Test keys: never hard-code keys in production.
var (
	LedgerKey    = []byte("benchdata ledger key 0123456789a")
	PseudonymKey = []byte("benchdata pseudonym key 01234567")
)

// Postgres says whether SQL is for PostgreSQL (else SQLite).
type Dialect bool

// Placeholder returns the n-th placeholder.
func (pg Dialect) P(n int) string {
	if pg {
		return "$" + strconv.Itoa(n)
	}
	return "?"
}

// Create creates the account table and its clock indexes.
func Create(ctx context.Context, db *sql.DB, pg Dialect) error {
	ts, id := "TIMESTAMP", "INTEGER PRIMARY KEY"
	if pg {
		ts, id = "TIMESTAMPTZ", "BIGINT PRIMARY KEY"
	}
	stmts := []string{
		`CREATE TABLE account (id ` + id + `, subject TEXT NOT NULL, tenant TEXT NOT NULL,
			created_at ` + ts + ` NOT NULL, last_seen ` + ts + `, closed_at ` + ts + `,
			email TEXT, name TEXT, phone TEXT, postcode TEXT, handle TEXT, ip TEXT, birth_date ` + ts + `, ref TEXT)`,
		`CREATE INDEX account_last_seen ON account (last_seen)`,
		`CREATE INDEX account_closed_at ON account (closed_at)`,
		`CREATE INDEX account_created_at ON account (created_at)`,
		`CREATE INDEX account_subject ON account (tenant, subject)`,
		// The row key the retention store orders and updates by.
		`CREATE UNIQUE INDEX account_tenant_id ON account (tenant, id)`,
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("benchdata: %w", err)
		}
	}
	return nil
}

// Gen returns row i of a table in which about duePct percent of the rows
// have something due at Now, with mixed actions. It is deterministic in
// (seed, i).
func Gen(seed uint64, i int64, duePct int) Account {
	r := rand.New(rand.NewPCG(seed, uint64(i)))
	a := Account{
		ID:        i,
		Subject:   fmt.Sprintf("subj-%07d", i/2), // two accounts per subject
		Tenant:    []string{"acme", "globex"}[i%2],
		CreatedAt: Now.AddDate(0, 0, -r.IntN(600)).Add(-time.Duration(r.IntN(86400)) * time.Second),
		LastSeen:  Now.AddDate(0, 0, -r.IntN(25)),
		Email:     fmt.Sprintf("user%d@example.com", i),
		Name:      fmt.Sprintf("User Number %d", i),
		Phone:     fmt.Sprintf("+44 20 7946 %04d", r.IntN(10000)),
		Postcode:  fmt.Sprintf("SW%d %dAA", 1+r.IntN(20), r.IntN(10)),
		Handle:    fmt.Sprintf("handle_%d", i),
		IP:        fmt.Sprintf("203.0.%d.%d", r.IntN(256), 1+r.IntN(254)),
		BirthDate: time.Date(1950+r.IntN(55), time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC),
		Ref:       fmt.Sprintf("ref-%d", i),
	}
	if r.IntN(100) >= duePct {
		return a
	}
	switch k := r.IntN(100); {
	case k < 40: // everything on the LastSeen clock
		a.LastSeen = Now.AddDate(-1, 0, -1-r.IntN(400))
	case k < 70: // only the IP
		a.LastSeen = Now.AddDate(0, 0, -31-r.IntN(300))
	case k < 85: // birth date, from creation
		a.CreatedAt = Now.AddDate(-2, 0, -5-r.IntN(300))
	default: // closed long ago: the record goes
		c := Now.AddDate(0, 0, -91-r.IntN(300))
		a.ClosedAt = &c
	}
	return a
}

// Populate inserts rows 1..n in batches.
func Populate(ctx context.Context, db *sql.DB, pg Dialect, seed uint64, n int64, duePct int) error {
	const per = 200
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	for start := int64(1); start <= n; start += per {
		end := min(start+per-1, n)
		var b strings.Builder
		b.WriteString("INSERT INTO account (id, subject, tenant, created_at, last_seen, closed_at, email, name, phone, postcode, handle, ip, birth_date, ref) VALUES ")
		args := make([]any, 0, per*14)
		for i := start; i <= end; i++ {
			a := Gen(seed, i, duePct)
			if i > start {
				b.WriteByte(',')
			}
			b.WriteByte('(')
			for j := 0; j < 14; j++ {
				if j > 0 {
					b.WriteByte(',')
				}
				b.WriteString(pg.P(len(args) + j + 1))
			}
			b.WriteByte(')')
			var closed any
			if a.ClosedAt != nil {
				closed = a.ClosedAt.UTC()
			}
			args = append(args, a.ID, a.Subject, a.Tenant, a.CreatedAt.UTC(), a.LastSeen.UTC(), closed, a.Email, a.Name,
				a.Phone, a.Postcode, a.Handle, a.IP, a.BirthDate.UTC(), a.Ref)
		}
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			tx.Rollback()
			return fmt.Errorf("benchdata: insert: %w", err)
		}
		if (start/per)%50 == 49 {
			if err := tx.Commit(); err != nil {
				return err
			}
			if tx, err = db.BeginTx(ctx, nil); err != nil {
				return err
			}
		}
	}
	return tx.Commit()
}

// Dump returns the table's rows as text, in id order, for comparisons.
func Dump(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT id, email, name, phone, postcode, handle, ip, birth_date FROM account ORDER BY id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id int64
		var email, name, phone, postcode, handle, ip sql.NullString
		var bd any
		if err := rows.Scan(&id, &email, &name, &phone, &postcode, &handle, &ip, &bd); err != nil {
			return nil, err
		}
		if t, ok := bd.(time.Time); ok {
			bd = t.UTC().Format(time.RFC3339)
		}
		out = append(out, fmt.Sprintf("%d|%v|%v|%v|%v|%v|%v|%v", id, email, name, phone, postcode, handle, ip, bd))
	}
	return out, rows.Err()
}

// Baseline is the hand-written sweep the retention sweeper is measured
// against: the same candidates in the same id-ordered batches, the same
// new values computed in Go, one prepared UPDATE per changed row and one
// DELETE per batch, each batch in one transaction; no ledger, no holds, no
// policy engine.
func Baseline(ctx context.Context, db *sql.DB, pg Dialect, batch int) (changed int64, err error) {
	lastSeen1y := Now.AddDate(-1, 0, 0)
	lastSeen30d := Now.AddDate(0, 0, -30)
	closed90d := Now.AddDate(0, 0, -90)
	created2y := Now.AddDate(-2, 0, 0)
	var after int64
	sel := "SELECT id, last_seen, closed_at, created_at, phone, postcode, handle, ip, birth_date FROM account WHERE id > " + pg.P(1) +
		" AND (last_seen <= " + pg.P(2) + " OR closed_at <= " + pg.P(3) + " OR created_at <= " + pg.P(4) + ") ORDER BY id LIMIT " + strconv.Itoa(batch)
	if pg {
		sel += " FOR UPDATE"
	}
	for {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return changed, err
		}
		rows, err := tx.QueryContext(ctx, sel, after, lastSeen30d, closed90d, created2y)
		if err != nil {
			tx.Rollback()
			return changed, err
		}
		var ups []upd
		var dels []any
		n := 0
		for rows.Next() {
			n++
			var id int64
			var ls, cl, cr, bd any
			var phone, postcode, handle, ip sql.NullString
			if err := rows.Scan(&id, &ls, &cl, &cr, &phone, &postcode, &handle, &ip, &bd); err != nil {
				rows.Close()
				tx.Rollback()
				return changed, err
			}
			after = id
			if t, ok := asTime(cl); ok && !t.After(closed90d) {
				dels = append(dels, id)
				continue
			}
			u := upd{id: id}
			if t, ok := asTime(ls); ok && !t.After(lastSeen30d) {
				u.ip, u.ipv = true, ip24(ip.String)
				if !t.After(lastSeen1y) {
					u.full = true
					u.phone, u.postcode, u.handle = last4(phone.String), prefix(postcode.String, 3), anon(handle.String)
				}
			}
			if t, ok := asTime(cr); ok && !t.After(created2y) {
				if b, ok := asTime(bd); ok {
					u.dob, u.bd = true, time.Date(b.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
				}
			}
			if u.full || u.ip || u.dob {
				ups = append(ups, u)
			}
		}
		rows.Close()
		if n == 0 {
			return changed, tx.Commit()
		}
		if pg {
			// On PostgreSQL a statement per row pays a round trip each;
			// the strong hand-written version sends one UPDATE per column
			// set with unnest arrays.
			if err := pgUpdates(ctx, tx, ups); err != nil {
				tx.Rollback()
				return changed, err
			}
			changed += int64(len(ups))
			ups = nil
		}
		stmts := map[string]*sql.Stmt{}
		for _, u := range ups {
			var sets []string
			var args []any
			add := func(col string, v any) {
				args = append(args, v)
				sets = append(sets, col+" = "+pg.P(len(args)))
			}
			if u.full {
				add("email", nil)
				add("name", "[REDACTED]")
				add("phone", u.phone)
				add("postcode", u.postcode)
				add("handle", u.handle)
			}
			if u.ip {
				add("ip", u.ipv)
			}
			if u.dob {
				add("birth_date", u.bd)
			}
			q := "UPDATE account SET " + strings.Join(sets, ", ") + " WHERE id = " + pg.P(len(args)+1)
			st := stmts[q]
			if st == nil {
				if st, err = tx.PrepareContext(ctx, q); err != nil {
					tx.Rollback()
					return changed, err
				}
				stmts[q] = st
			}
			if _, err := st.ExecContext(ctx, append(args, u.id)...); err != nil {
				tx.Rollback()
				return changed, err
			}
			changed++
		}
		if len(dels) > 0 {
			ph := make([]string, len(dels))
			for i := range ph {
				ph[i] = pg.P(i + 1)
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM account WHERE id IN ("+strings.Join(ph, ",")+")", dels...); err != nil {
				tx.Rollback()
				return changed, err
			}
			changed += int64(len(dels))
		}
		for _, s := range stmts {
			s.Close()
		}
		if err := tx.Commit(); err != nil {
			return changed, err
		}
		if n < batch {
			return changed, nil
		}
	}
}

// upd is one row's changes in the hand-written sweep.
type upd struct {
	id                           int64
	full, ip, dob                bool
	phone, postcode, handle, ipv string
	bd                           time.Time
}

// pgUpdates groups rows by the columns they change and updates each group
// in one statement.
func pgUpdates(ctx context.Context, tx *sql.Tx, ups []upd) error {
	type group struct {
		ids                          []int64
		phone, postcode, handle, ipv []string
		bd                           []time.Time
	}
	groups := map[[3]bool]*group{}
	for _, u := range ups {
		k := [3]bool{u.full, u.ip, u.dob}
		g := groups[k]
		if g == nil {
			g = &group{}
			groups[k] = g
		}
		g.ids = append(g.ids, u.id)
		g.phone, g.postcode, g.handle = append(g.phone, u.phone), append(g.postcode, u.postcode), append(g.handle, u.handle)
		g.ipv, g.bd = append(g.ipv, u.ipv), append(g.bd, u.bd)
	}
	for k, g := range groups {
		var sets []string
		cols := []string{"$1::bigint[]"}
		names := []string{"id"}
		args := []any{g.ids}
		add := func(col, typ string, v any) {
			args = append(args, v)
			cols = append(cols, fmt.Sprintf("$%d::%s[]", len(args), typ))
			names = append(names, col)
			sets = append(sets, col+" = v."+col)
		}
		if k[0] {
			sets = append(sets, "email = NULL", "name = '[REDACTED]'")
			add("phone", "text", g.phone)
			add("postcode", "text", g.postcode)
			add("handle", "text", g.handle)
		}
		if k[1] {
			add("ip", "text", g.ipv)
		}
		if k[2] {
			add("birth_date", "timestamptz", g.bd)
		}
		q := "UPDATE account AS t SET " + strings.Join(sets, ", ") + " FROM unnest(" + strings.Join(cols, ", ") + ") AS v(" +
			strings.Join(names, ", ") + ") WHERE t.id = v.id"
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
	}
	return nil
}

func asTime(v any) (time.Time, bool) {
	switch t := v.(type) {
	case time.Time:
		return t, true
	case string:
		for _, l := range []string{"2006-01-02 15:04:05.999999999 -0700 MST", time.RFC3339Nano} {
			if x, err := time.Parse(l, t); err == nil {
				return x, true
			}
		}
	}
	return time.Time{}, false
}

func last4(s string) string {
	r := []rune(s)
	if len(r) <= 4 {
		return s
	}
	return strings.Repeat("*", len(r)-4) + string(r[len(r)-4:])
}

func prefix(s string, n int) string {
	r := []rune(strings.TrimSpace(s))
	if len(r) > n {
		r = r[:n]
	}
	return strings.TrimSpace(string(r))
}

func anon(s string) string {
	if s == "" || strings.HasPrefix(s, "anon_") {
		return s
	}
	m := hmac.New(sha256.New, PseudonymKey)
	m.Write([]byte("user.handle\x00" + s))
	return "anon_" + hex.EncodeToString(m.Sum(nil)[:16])
}

func ip24(s string) string {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return ""
	}
	p, _ := a.Prefix(24)
	return p.Addr().String()
}

// DumpHash returns a SHA-256 over the rows Dump would return, streaming.
func DumpHash(ctx context.Context, db *sql.DB) (string, int64, error) {
	rows, err := db.QueryContext(ctx, "SELECT id, email, name, phone, postcode, handle, ip, birth_date FROM account ORDER BY id")
	if err != nil {
		return "", 0, err
	}
	defer rows.Close()
	h := sha256.New()
	var n int64
	for rows.Next() {
		var id int64
		var email, name, phone, postcode, handle, ip sql.NullString
		var bd any
		if err := rows.Scan(&id, &email, &name, &phone, &postcode, &handle, &ip, &bd); err != nil {
			return "", 0, err
		}
		if t, ok := asTime(bd); ok {
			bd = t.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(h, "%d|%v|%v|%v|%v|%v|%v|%v\n", id, email, name, phone, postcode, handle, ip, bd)
		n++
	}
	return hex.EncodeToString(h.Sum(nil)), n, rows.Err()
}
