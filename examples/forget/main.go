// Command forget carries out a right-to-be-forgotten request (GDPR article
// 17) end to end, on databases it seeds itself:
//
//	go run ./examples/forget
//
// Four customers are stored in an SQLite database: names and e-mail
// addresses sealed with envelope under per-subject data keys (wrapped by a
// local keyset), phone numbers replaced by stored tokens. A nightly backup
// is taken. Then one customer asks to be forgotten and retention.Forget
// erases them: their fields are cleared, their data key is crypto-shredded
// (envelope's ForgetSubject) and their tokens deleted from the token store. The
// program shows the result before and after, including in the backup taken
// before the request (the sealed values there no longer open: ErrShredded),
// the ledger entry that proves the erasure without naming the person, and a
// disaster recovery: both databases restored from the backup bring the
// customer back, and retention.Replay, reading the ledger kept apart from the
// backups, forgets them again while every other customer is untouched.
//
// Where things live, and why:
//
//	shop.db     the application's data, with its own copy of the ledger
//	secrets.db  wrapped data keys (envelope/sqlkeystore) and the token store
//	ledger.db   the ledger copied off-site: a restore must not roll it back
//	backups/    last night's copies of shop.db and secrets.db
//
// Crypto-shredding makes the backup of shop.db harmless only while the key
// store's backups are not restored; the last step shows what happens when
// they are, and why the ledger must outlive every backup.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/retention"
)

// Customer is the application's record. The subject field selects the data
// keys (one set per customer, so one customer can be shredded alone); the
// retention tags say what an erasure does to each field.
type Customer struct {
	ID        string    `db:"id" pii:"subject"`
	Name      string    `db:"name" pii:"name,encrypt,retain=3y,from=LastSeen,then=shred"`
	Email     string    `db:"email" pii:"email,encrypt,retain=3y,from=LastSeen,then=shred"`
	Phone     string    `db:"phone" pii:"phone,token=stored,retain=3y,from=LastSeen,then=null"`
	Plan      string    `db:"plan" pii:"-"`
	LastSeen  time.Time `db:"last_seen"`
	CreatedAt time.Time `db:"created_at"`
}

// Synthetic customers; the phone numbers are in ranges reserved for drama.
var customers = []Customer{
	{ID: "cus-0001", Name: "Ada Lovelace", Email: "ada@example.com", Phone: "+442079460018", Plan: "gold"},
	{ID: "cus-0002", Name: "Grace Hopper", Email: "grace@example.com", Phone: "+441614960732", Plan: "silver"},
	{ID: "cus-0003", Name: "Alan Turing", Email: "alan@example.org", Phone: "+441174960555", Plan: "gold"},
	{ID: "cus-0004", Name: "Katherine Johnson", Email: "kj@example.net", Phone: "+442079460999", Plan: "basic"},
}

// subject is the customer who asks to be forgotten.
const subject = "cus-0002"

// now is the example's fixed clock.
var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

const usageText = `Usage: go run ./examples/forget [-dir DIR]

Carries out a right-to-be-forgotten request on four seeded customers and shows
the erasure before and after, in a backup, in the ledger and after a restore.

Flags:
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("forget", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dir := fs.String("dir", "", "working folder, new or empty (default: a fresh temporary folder)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usageText)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return 0
		}
		fmt.Fprintln(stderr, "forget:", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "forget: unexpected argument %q (flags only; -h lists them)\n", fs.Arg(0))
		return 2
	}
	if err := demo(context.Background(), *dir, stdout); err != nil {
		fmt.Fprintln(stderr, "forget:", firstLine(err.Error()))
		return 1
	}
	return 0
}

func demo(ctx context.Context, dir string, out io.Writer) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "pii-forget-")
		if err != nil {
			return err
		}
		dir = d
	}
	w, err := newWorld(dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Working folder: %s\n", dir)
	fmt.Fprintln(out, "  keyset.json  the local key-encryption keyset (master key made for this run; PII_MASTER_KEY in production)")
	fmt.Fprintln(out, "  shop.db      the application's data, sealed and tokenized, and its retention ledger")
	fmt.Fprintln(out, "  secrets.db   wrapped data keys, one set per customer, and the token store")
	fmt.Fprintln(out, "  ledger.db    the erasure ledger, copied off-site: never restored from a backup")

	a, err := w.open(ctx)
	if err != nil {
		return err
	}
	defer func() { a.close() }()
	if err := a.seed(ctx); err != nil {
		return err
	}

	fmt.Fprintln(out, "\n== 1. Four customers, as the application reads them")
	if err := a.printCustomers(ctx, out, a.shop); err != nil {
		return err
	}
	raw, err := a.raw(ctx, a.shop, subject)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n   What shop.db holds for %s:\n", subject)
	fmt.Fprintf(out, "     name   %s\n", abbrev(raw.Name))
	fmt.Fprintf(out, "     email  %s\n", abbrev(raw.Email))
	fmt.Fprintf(out, "     phone  %s  (a stored token: the number is in secrets.db, sealed)\n", raw.Phone)

	fmt.Fprintln(out, "\n== 2. Nightly backup (VACUUM INTO): backups/shop.db, backups/secrets.db")
	if err := a.backup(ctx); err != nil {
		return err
	}

	// Customer has no pii:"tenant" field: its customers belong to the tenant "".
	fmt.Fprintf(out, "\n== 3. %s asks to be forgotten: retention.Forget(ctx, %q, %q)\n", subject, "", subject)
	rep, err := a.mgr.Forget(ctx, "", subject)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "   FIELD\tACTION\tOUTCOME\tREASON")
	for _, e := range rep.Entries {
		fmt.Fprintf(tw, "   %s\t%s\t%s\t%s\n", orKey(e.Field), e.Action, e.Outcome, e.Reason)
	}
	tw.Flush()
	fmt.Fprintf(out, "   %d actions applied, %d kept; data key shredded: %v; stored tokens deleted: %d\n",
		rep.Applied, rep.Kept, rep.KeyShredded, a.tokens.deleted)
	// The ledger in shop.db would be rolled back by a restore: copy the
	// request's entries to the off-site ledger at once.
	if err := w.offsite.Append(ctx, rep.Entries...); err != nil {
		return err
	}
	fmt.Fprintf(out, "   %d ledger entries copied to ledger.db\n", len(rep.Entries))

	fmt.Fprintln(out, "\n== 4. After the request")
	fmt.Fprintln(out, "   shop.db, as the application reads it:")
	if err := a.printCustomers(ctx, out, a.shop); err != nil {
		return err
	}
	fmt.Fprintln(out, "\n   backups/shop.db, taken before the request, read with today's keys and tokens:")
	backup, err := openSQLite(filepath.Join(w.dir, "backups", "shop.db"))
	if err != nil {
		return err
	}
	err = a.printCustomers(ctx, out, backup)
	backup.Close()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   The old ciphertexts of %s are still in the backup, but their key is gone (%v).\n", subject, envelope.ErrShredded)

	if err := printLedger(ctx, out, a.mgr, w); err != nil {
		return err
	}

	fmt.Fprintln(out, "\n== 6. Disaster recovery: shop.db AND secrets.db restored from last night's backup")
	if err := a.close(); err != nil {
		return err
	}
	if err := w.restore(); err != nil {
		return err
	}
	if a, err = w.open(ctx); err != nil {
		return err
	}
	fmt.Fprintln(out, "   Before replay, the forgotten customer is back (the restored key store holds their key):")
	if err := a.printCustomers(ctx, out, a.shop); err != nil {
		return err
	}
	st, err := a.mgr.Replay(ctx, w.offsite)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n   retention.Replay(ledger.db): %d records scanned, %d actions re-applied; data key shredded again, stored tokens deleted: %d\n",
		st.Scanned, st.Applied, a.tokens.deleted)
	fmt.Fprintln(out, "   After replay:")
	if err := a.printCustomers(ctx, out, a.shop); err != nil {
		return err
	}
	backup, err = openSQLite(filepath.Join(w.dir, "backups", "shop.db"))
	if err != nil {
		return err
	}
	old, err := a.raw(ctx, backup, subject)
	backup.Close()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   And last night's backup of %s, read again: name %s, email %s, phone %s.\n", subject,
		a.openField(ctx, old, "Name", old.Name), a.openField(ctx, old, "Email", old.Email), a.openPhone(ctx, old))
	if err := a.checkOthers(ctx); err != nil {
		return err
	}
	fmt.Fprintf(out, "   Every other customer opens to exactly what was stored before the request.\n")
	again, err := a.mgr.Replay(ctx, w.offsite)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   A second replay re-applies %d actions: replay is idempotent.\n", again.Applied)
	return nil
}

func printLedger(ctx context.Context, out io.Writer, m *retention.Manager, w *world) error {
	fmt.Fprintln(out, "\n== 5. The erasure ledger (ledger.db): proof of erasure without personal data")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "   AT\tSUBJECT (keyed hash)\tRECORD (keyed hash)\tFIELD\tACTION\tOUTCOME\tPOLICY")
	n := 0
	if err := w.offsite.Scan(ctx, func(e retention.Entry) error {
		fmt.Fprintf(tw, "   %s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.At.UTC().Format(time.DateTime), short(e.Subject), orDash(short(e.Record)),
			orKey(e.Field), e.Action, e.Outcome, e.Policy)
		n++
		return nil
	}); err != nil {
		return err
	}
	tw.Flush()
	leaks, err := w.ledgerLeaks()
	if err != nil {
		return err
	}
	if len(leaks) > 0 {
		return fmt.Errorf("ledger.db holds personal data: %s", strings.Join(leaks, ", "))
	}
	fmt.Fprintf(out, "   ledger.db searched for the customer's id, name, e-mail and phone: none found.\n")
	fmt.Fprintf(out, "   Was %s erased? Whoever holds the id and the ledger key computes Hash(Subject(%q, %q)) = %s…\n",
		subject, "", subject, short(m.Hash(retention.Subject("", subject))))
	fmt.Fprintf(out, "   and finds %d entries above; the ledger alone names nobody.\n", n)
	return nil
}

func orKey(field string) string {
	if field == "" {
		return "(data key)"
	}
	return field
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func abbrev(s string) string {
	if len(s) > 24 {
		return fmt.Sprintf("%s…  (%d characters, envelope ciphertext)", s[:20], len(s))
	}
	return s
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
