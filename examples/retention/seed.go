package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"text/tabwriter"
	"time"
)

// A few hand-picked accounts whose fate the program prints; the rest are
// generated with ages spread over five years.
type sample struct {
	story     string
	created   time.Time
	lastSeen  time.Time
	closed    time.Time
	name      string
	email     string
	phone     string
	postcode  string
	handle    string
	ip        string
	birthDate time.Time
}

func ago(y, m, d int) time.Time { return now.AddDate(-y, -m, -d) }

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// Synthetic people; the phone numbers are in ranges reserved for drama.
var samples = []sample{
	{"active last week, account 3 months old", ago(0, 3, 0), ago(0, 0, 7), time.Time{},
		"Ada Lovelace", "ada@example.com", "+44 20 7946 0018", "SW1A 1AA", "countess_ada", "203.0.113.7", date(1985, 12, 10)},
	{"inactive for 3 years", ago(6, 0, 0), ago(3, 0, 0), time.Time{},
		"Grace Hopper", "grace@example.com", "+1 202 555 0143", "EC1V 9HX", "amazing_grace", "198.51.100.23", date(1976, 12, 9)},
	{"last seen 45 days ago", ago(4, 0, 0), ago(0, 0, 45), time.Time{},
		"Alan Turing", "alan@example.org", "+44 161 496 0732", "M13 9PL", "enigma", "192.0.2.146", date(1982, 6, 23)},
	{"last seen 18 months ago", ago(5, 0, 0), ago(1, 6, 0), time.Time{},
		"Katherine Johnson", "kj@example.net", "+1 757 555 0199", "W1D 3QF", "trajectory", "203.0.113.201", date(1978, 8, 26)},
	{"closed 6 months ago", ago(3, 0, 0), ago(0, 6, 2), ago(0, 6, 0),
		"Edsger Dijkstra", "ewd@example.com", "+31 20 555 0101", "N1 9GU", "goto_harmful", "198.51.100.9", date(1970, 5, 11)},
	{"inactive for 3 years, under legal hold", ago(6, 0, 0), ago(3, 0, 0), time.Time{},
		"Barbara Liskov", "liskov@example.com", "+1 617 555 0175", "NW1 2DB", "substitution", "192.0.2.77", date(1979, 11, 7)},
}

// heldSubject is the customer under a legal hold.
var heldSubject = sampleSubject(len(samples))

func sampleSubject(i int) string { return fmt.Sprintf("cus-%05d", i) }

const schemaSQL = `CREATE TABLE account (
	id INTEGER PRIMARY KEY, subject TEXT NOT NULL,
	created_at TIMESTAMP NOT NULL, last_seen TIMESTAMP, closed_at TIMESTAMP,
	name TEXT, email TEXT, phone TEXT, postcode TEXT, handle TEXT, ip TEXT,
	birth_date TIMESTAMP, ref TEXT);
CREATE INDEX account_last_seen ON account (last_seen);
CREATE INDEX account_closed_at ON account (closed_at);
CREATE INDEX account_created_at ON account (created_at);
CREATE INDEX account_subject ON account (subject);`

func seed(ctx context.Context, db *sql.DB, n int) error {
	if _, err := db.ExecContext(ctx, schemaSQL); err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, `INSERT INTO account (id, subject, created_at, last_seen, closed_at,
		name, email, phone, postcode, handle, ip, birth_date, ref) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return err
	}
	defer ins.Close()
	r := rand.New(rand.NewPCG(2026, 11))
	first := []string{"Ann", "Ben", "Chloe", "Dev", "Ema", "Femi", "Gus", "Hana", "Ivo", "Jun"}
	last := []string{"Ito", "Kaur", "Lind", "Moss", "Nagy", "Okoro", "Pace", "Quinn", "Rossi", "Sato"}
	for i := 1; i <= n; i++ {
		var s sample
		if i <= len(samples) {
			s = samples[i-1]
		} else {
			fn, ln := first[r.IntN(len(first))], last[r.IntN(len(last))]
			s = sample{
				created:   now.AddDate(0, 0, -r.IntN(5*365)),
				name:      fn + " " + ln,
				email:     fmt.Sprintf("%s.%s%d@example.com", strings.ToLower(fn), strings.ToLower(ln), i),
				phone:     fmt.Sprintf("+44 20 7946 %04d", r.IntN(1000)),
				postcode:  fmt.Sprintf("SW%d %dAB", 1+r.IntN(20), r.IntN(10)),
				handle:    fmt.Sprintf("%s_%d", strings.ToLower(fn), i),
				ip:        fmt.Sprintf("203.0.113.%d", 1+r.IntN(254)),
				birthDate: date(1950+r.IntN(55), time.Month(1+r.IntN(12)), 1+r.IntN(28)),
			}
			s.lastSeen = s.created.Add(time.Duration(r.Int64N(int64(now.Sub(s.created)) + 1)))
			if r.IntN(10) == 0 {
				s.closed = s.lastSeen
			}
		}
		var closed any
		if !s.closed.IsZero() {
			closed = s.closed
		}
		if _, err := ins.ExecContext(ctx, i, sampleSubject(i), s.created, s.lastSeen, closed, s.name, s.email,
			s.phone, s.postcode, s.handle, s.ip, s.birthDate, fmt.Sprintf("ord-%06d", i)); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// row is an account as stored, read with plain SQL.
type row struct {
	lastSeen, created time.Time
	fields            []string // as columns lists them; "NULL" for NULL
}

var columns = []string{"name", "email", "phone", "postcode", "handle", "ip", "birth_date"}

func loadSamples(ctx context.Context, db *sql.DB) (map[int]*row, error) {
	rows, err := db.QueryContext(ctx, `SELECT id, created_at, last_seen, `+strings.Join(columns, ", ")+
		` FROM account WHERE id <= ?`, len(samples))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int]*row{}
	for rows.Next() {
		var (
			id   int
			r    row
			vals = make([]any, len(columns))
			dob  sql.NullTime
			strs = make([]sql.NullString, len(columns)-1)
		)
		dest := []any{&id, &r.created, &r.lastSeen}
		for i := range strs {
			vals[i] = &strs[i]
		}
		vals[len(columns)-1] = &dob
		if err := rows.Scan(append(dest, vals...)...); err != nil {
			return nil, err
		}
		for _, s := range strs {
			if s.Valid {
				r.fields = append(r.fields, s.String)
			} else {
				r.fields = append(r.fields, "NULL")
			}
		}
		if dob.Valid {
			r.fields = append(r.fields, dob.Time.UTC().Format(time.DateOnly))
		} else {
			r.fields = append(r.fields, "NULL")
		}
		out[id] = &r
	}
	return out, rows.Err()
}

func printSamples(out io.Writer, before, after map[int]*row) {
	for i := 1; i <= len(samples); i++ {
		printSample(out, i, before, after)
	}
}

func printSample(out io.Writer, i int, before, after map[int]*row) {
	{
		b, a := before[i], after[i]
		fmt.Fprintf(out, "\n  %s: %s (created %s, last seen %s)\n", sampleSubject(i), samples[i-1].story,
			b.created.Format(time.DateOnly), b.lastSeen.Format(time.DateOnly))
		if a == nil {
			fmt.Fprintln(out, "    account deleted (then=delete, 90 days after closure)")
			return
		}
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		changed := 0
		for j, col := range columns {
			if b.fields[j] == a.fields[j] {
				continue
			}
			changed++
			fmt.Fprintf(tw, "    %s\t%s\t-> %s\n", col, b.fields[j], a.fields[j])
		}
		tw.Flush()
		if changed == 0 {
			fmt.Fprintln(out, "    unchanged")
		}
	}
}
