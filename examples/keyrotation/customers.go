package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/fieldguard/pii"
)

// Customer is the record the example stores. Name, e-mail and date of
// birth are encrypted (each value bound to tenant, type, field and
// customer), the e-mail gets a blind index for lookups, and phone and card
// are tokenized: they keep their format (a phone number of the same
// country, a card number with the same last four that fails the Luhn
// check, so it is never taken for a card) and can be reversed with the
// tokenizer key.
type Customer struct {
	ID         string `pii:"subject"`
	Tenant     string `pii:"tenant"`
	Name       string `pii:"name,encrypt"`
	Email      string `pii:"email,encrypt,index=EmailIndex"`
	EmailIndex string `pii:"-"`
	Phone      string `pii:"phone,token=ff1"`
	Card       string `pii:"card,token=ff1"`
	BirthDate  string `pii:"dob,encrypt"`
}

// The tenants the customers are spread over: each has its own branch key
// and search root key, wrapped by the KMS.
var tenants = []string{"eu", "us"}

var (
	firstNames = []string{"Ada", "Alan", "Amara", "Ana", "Arjun", "Beatriz", "Chen", "Chiara", "Dmitri", "Elif", "Emma", "Fatima", "Femi", "Grace", "Hana", "Ines", "Ivan", "Jamal", "Jonas", "Kenji", "Lena", "Liam", "Lucia", "Mateo", "Mei", "Noah", "Nora", "Olga", "Omar", "Priya", "Rafael", "Sofia", "Tariq", "Yara", "Zoe"}
	lastNames  = []string{"Abe", "Adeyemi", "Bauer", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Haddad", "Ivanova", "Jensen", "Kowalski", "Li", "Martin", "Moreau", "Nakamura", "Novak", "O'Brien", "Okafor", "Patel", "Rossi", "Santos", "Schmidt", "Silva", "Tanaka", "Virtanen", "Wang", "Yilmaz", "Zhang"}
	domains    = []string{"example.com", "example.org", "example.net"}
	usAreas    = []string{"212", "303", "312", "415", "503", "617", "702", "713", "206", "404"}
)

// synthCustomer returns customer number i (from 1) of the synthetic data
// set: the same seed and i always give the same customer, so a resumed
// run regenerates exactly what an interrupted one would have.
func synthCustomer(seed uint64, i int64) Customer {
	rng := rand.New(rand.NewPCG(seed, uint64(i)))
	first := firstNames[rng.IntN(len(firstNames))]
	last := lastNames[rng.IntN(len(lastNames))]
	c := Customer{
		ID:     fmt.Sprintf("cust-%06d", i),
		Tenant: tenants[rng.IntN(len(tenants))],
		Name:   first + " " + last,
		Email: strings.ToLower(first) + "." + strings.ToLower(strings.ReplaceAll(last, "'", "")) +
			strconv.FormatInt(i, 10) + "@" + domains[rng.IntN(len(domains))],
	}
	// A phone number libphonenumber accepts as valid for its region:
	// French mobiles (+33 6 or 7) in the eu tenant, North American numbers
	// in the us tenant. The generator draws again until one is valid, so
	// the data set stays deterministic.
	for {
		if c.Tenant == "eu" {
			c.Phone = fmt.Sprintf("+33%d%08d", 6+rng.IntN(2), rng.IntN(100_000_000))
		} else {
			c.Phone = fmt.Sprintf("+1%s%03d%04d", usAreas[rng.IntN(len(usAreas))], 200+rng.IntN(800), rng.IntN(10_000))
		}
		if n, err := phonenumbers.Parse(c.Phone, "ZZ"); err == nil && phonenumbers.IsValidNumber(n) {
			break
		}
	}
	c.Card = luhnCard(rng)
	dob := time.Date(1940, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rng.IntN(365*65))
	c.BirthDate = dob.Format(time.DateOnly)
	return c
}

// luhnCard returns a 16-digit Visa-style number with a valid check digit.
func luhnCard(rng *rand.Rand) string {
	d := make([]byte, 16)
	d[0] = 4
	for i := 1; i < 15; i++ {
		d[i] = byte(rng.IntN(10))
	}
	sum := 0
	for i := 14; i >= 0; i-- {
		v := int(d[i])
		if (14-i)%2 == 0 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	d[15] = byte((10 - sum%10) % 10)
	for i := range d {
		d[i] += '0'
	}
	return string(d)
}

// recordMAC is a keyed hash of a customer's clear values, stored beside
// the sealed record so the verification can prove every record opens to
// what was sealed without keeping any plaintext. The key is itself sealed
// with envelope, so it rotates with everything else.
func recordMAC(key []byte, c *Customer) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("fieldguard.pii/examples/keyrotation record v1\x00"))
	for _, s := range []string{c.ID, c.Tenant, c.Name, c.Email, c.Phone, c.Card, c.BirthDate} {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(s)))
		m.Write(n[:])
		m.Write([]byte(s))
	}
	return m.Sum(nil)
}

func (r *runner) createCustomerTable(ctx context.Context) error {
	_, err := r.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS kr_customers (
		seq BIGINT PRIMARY KEY,
		id TEXT NOT NULL UNIQUE,
		tenant TEXT NOT NULL,
		name TEXT NOT NULL,
		email TEXT NOT NULL,
		email_index TEXT NOT NULL,
		phone TEXT NOT NULL,
		card TEXT NOT NULL,
		birth_date TEXT NOT NULL,
		mac `+r.db.blob()+` NOT NULL)`)
	if err != nil {
		return fmt.Errorf("database: create tables: %s", firstLine(err.Error()))
	}
	return nil
}

const seedBatch = 500

// seedCustomers generates, tokenizes, seals and stores customers until the
// table holds n, a batch at a time. Each batch is sealed with one Seal over
// the batch, in the transaction that inserts it: the data keys of the
// batch's new customers are looked up and written together (one lookup,
// one multi-row insert), and commit or roll back with the rows, so a crash
// loses at most the batch in flight, keys included, which a resumed run
// regenerates.
func (r *runner) seedCustomers(ctx context.Context, c *cryptoSet, n int64) (int64, error) {
	var have int64
	if err := r.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM kr_customers`).Scan(&have); err != nil {
		return 0, fmt.Errorf("database: %s", firstLine(err.Error()))
	}
	bar := r.bar(n, "sealing customers")
	defer bar.done()
	bar.add(have)
	for start := have + 1; start <= n; start += seedBatch {
		end := min(start+seedBatch-1, n)
		custs := make([]Customer, 0, end-start+1)
		macs := make([][]byte, 0, end-start+1)
		for i := start; i <= end; i++ {
			cust := synthCustomer(r.seed, i)
			macs = append(macs, recordMAC(c.checkKey, &cust))
			if err := c.tok.Apply(ctx, &cust); err != nil {
				return start - 1 - have, err
			}
			custs = append(custs, cust)
		}
		err := r.db.inTx(ctx, func(tx *sql.Tx) error {
			if err := c.sealer.Seal(pii.WithExecutor(ctx, tx), custs); err != nil {
				return err
			}
			for j := range custs {
				w := &custs[j]
				if _, err := tx.ExecContext(ctx, r.db.q(`INSERT INTO kr_customers
					(seq, id, tenant, name, email, email_index, phone, card, birth_date, mac)
					VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
					start+int64(j), w.ID, w.Tenant, w.Name, w.Email, w.EmailIndex, w.Phone, w.Card, w.BirthDate, macs[j]); err != nil {
					return fmt.Errorf("database: insert customer: %s", firstLine(err.Error()))
				}
			}
			return nil
		})
		if err != nil {
			return start - 1 - have, err
		}
		bar.add(end - start + 1)
	}
	return n - have, nil
}

// storedCustomer is one row as stored: sealed and tokenized.
type storedCustomer struct {
	seq int64
	c   Customer
	mac []byte
}

// loadCustomers reads up to limit rows after seq, into memory (the rows
// are closed before anything else uses the database).
func (r *runner) loadCustomers(ctx context.Context, db *sql.DB, after int64, limit int) ([]storedCustomer, error) {
	rows, err := db.QueryContext(ctx, r.db.q(`SELECT seq, id, tenant, name, email, email_index, phone, card, birth_date, mac
		FROM kr_customers WHERE seq > ? ORDER BY seq LIMIT ?`), after, limit)
	if err != nil {
		return nil, fmt.Errorf("database: %s", firstLine(err.Error()))
	}
	defer rows.Close()
	var out []storedCustomer
	for rows.Next() {
		var s storedCustomer
		c := &s.c
		if err := rows.Scan(&s.seq, &c.ID, &c.Tenant, &c.Name, &c.Email, &c.EmailIndex, &c.Phone, &c.Card, &c.BirthDate, &s.mac); err != nil {
			return nil, fmt.Errorf("database: %s", firstLine(err.Error()))
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("database: %s", firstLine(err.Error()))
	}
	return out, nil
}

// openCustomer decrypts and detokenizes a stored customer and compares it
// with the keyed hash of what was sealed.
func openCustomer(ctx context.Context, c *cryptoSet, s *storedCustomer) bool {
	cust := s.c
	if err := c.sealer.Open(ctx, &cust); err != nil {
		return false
	}
	return reversedMatches(ctx, c, &cust, s.mac)
}

// reversedMatches detokenizes an opened customer and compares it with the
// keyed hash of what was sealed.
func reversedMatches(ctx context.Context, c *cryptoSet, cust *Customer, mac []byte) bool {
	if err := c.tok.Reverse(ctx, cust, allowAll); err != nil {
		return false
	}
	return hmac.Equal(recordMAC(c.checkKey, cust), mac)
}

// openPage counts the customers of page that open and match their keyed
// hash. It opens the page with one Open over it (their data keys come in
// one query); if that fails, it opens them one by one, so each customer is
// counted on its own.
func openPage(ctx context.Context, c *cryptoSet, page []storedCustomer) int64 {
	custs := make([]Customer, len(page))
	for i := range page {
		custs[i] = page[i].c
	}
	var ok int64
	if err := c.sealer.Open(ctx, custs); err != nil {
		for i := range page {
			if openCustomer(ctx, c, &page[i]) {
				ok++
			}
		}
		return ok
	}
	for i := range custs {
		if reversedMatches(ctx, c, &custs[i], page[i].mac) {
			ok++
		}
	}
	return ok
}
