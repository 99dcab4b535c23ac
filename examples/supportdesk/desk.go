package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/guard"
	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/keyprovider/local"
	"github.com/fieldguard/pii/mask"
	"github.com/fieldguard/pii/piitest"
)

// Customer is a brand's customer: the subject id repeats across brands.
type Customer struct {
	Tenant     string    `pii:"tenant"`
	ID         string    `pii:"subject"`
	Name       string    `pii:"name,encrypt,mask=initials"`
	Email      string    `pii:"email,encrypt,index=EmailIndex,mask=email,reveal=supervisor"`
	EmailIndex string    `pii:"-"`
	Phone      string    `pii:"phone,token=ff1,mask=phone,reveal=supervisor,retain=1y,from=LastSeen,then=null"`
	Plan       string    `pii:"-"`
	LastSeen   time.Time `pii:"-"`
	CreatedAt  time.Time `pii:"-"`
}

// Ticket is a conversation with a customer; its text is deleted 18 months
// after it was opened.
type Ticket struct {
	Tenant    string    `pii:"tenant"`
	ID        string    `pii:"id"`
	Customer  string    `pii:"subject"`
	Channel   string    `pii:"-"`
	Body      string    `pii:"free_text,encrypt,retain=18m,then=delete"`
	CreatedAt time.Time `pii:"-"`
}

var tenants = []string{"acme", "globex"}

const perTenant = 500 // 1,000 customers in all

var (
	agentDM    = mask.Viewer{ID: "agent-7", Role: "agent", Channel: mask.ChannelDirectMessage}
	agentPost  = mask.Viewer{ID: "agent-7", Role: "agent", Channel: mask.ChannelPublicSocial}
	supervisor = mask.Viewer{ID: "sup-2", Role: "supervisor", Channel: mask.ChannelSecureChat}
	dpo        = mask.Viewer{ID: "dpo-1", Role: "dpo", Channel: mask.ChannelSecureChat}
)

// allTokens reverses every token: for the final check, not for agents.
func allTokens(context.Context, *pii.Field, string) error { return nil }

func run(ctx context.Context, out io.Writer, db *sql.DB, dir string) error {
	clock := piitest.NewClock(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	// A keyset made for this run; a real service opens its KMS (or a
	// keyset whose master key comes from the environment). Never hard-code
	// a master key.
	master, err := local.GenerateMasterKey()
	if err != nil {
		return err
	}
	keyset := filepath.Join(dir, "keyset.json")
	kp, err := local.Create(keyset, master)
	if err != nil {
		return err
	}
	// Nothing but initials on a public post.
	views := &mask.ViewsOptions{Rules: []mask.Rule{
		{Category: "email", Channel: mask.ChannelPublicSocial, Action: mask.ActionDeny},
		{Category: "phone", Channel: mask.ChannelPublicSocial, Action: mask.ActionDeny},
	}}
	g, err := guard.New(kp, db, &guard.Options{Clock: clock, Views: views})
	if err != nil {
		return err
	}
	customers, err := guard.NewTable[Customer](g, &guard.TableOptions{Table: "desk_customers"})
	if err != nil {
		return err
	}
	tickets, err := guard.NewTable[Ticket](g, &guard.TableOptions{Table: "desk_tickets"})
	if err != nil {
		return err
	}
	if err := g.CreateTables(ctx); err != nil {
		return err
	}

	// 1. Seed: the same subject ids in both brands, two tickets each.
	for _, tenant := range tenants {
		cs := make([]Customer, perTenant)
		ts := make([]Ticket, 0, 2*perTenant)
		for i := range cs {
			id := fmt.Sprintf("cust-%04d", i)
			cs[i] = Customer{Tenant: tenant, ID: id, Name: "Customer " + id, Email: id + "@example.com",
				Phone: fmt.Sprintf("+44 20 7946 %04d", i), Plan: "basic", LastSeen: clock.Now(), CreatedAt: clock.Now()}
			for k, ch := range []string{"direct_message", "public_social"} {
				ts = append(ts, Ticket{Tenant: tenant, ID: fmt.Sprintf("t-%04d-%d", i, k), Customer: id, Channel: ch,
					Body: "My phone " + cs[i].Phone + " stopped working", CreatedAt: clock.Now()})
			}
		}
		if err := customers.InsertMany(ctx, cs); err != nil {
			return err
		}
		if err := tickets.InsertMany(ctx, ts); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "seeded %d customers and %d tickets in %d tenants\n", 2*perTenant, 4*perTenant, len(tenants))

	// 2. A customer writes in from her address: find her in acme only.
	found, err := customers.Protected().FindBy(ctx, "acme", "Email", "cust-0042@example.com")
	if err != nil || len(found) != 1 {
		return fmt.Errorf("lookup by e-mail: %d found, %v", len(found), err)
	}
	fmt.Fprintf(out, "lookup by e-mail in acme: %s/%s\n", found[0].Tenant, found[0].ID)

	// 3. What the agent sees of her, in a direct message and on a public post.
	for _, v := range []mask.Viewer{agentDM, agentPost} {
		c := found[0]
		if err := g.View(ctx, v, &c); err != nil {
			return err
		}
		fmt.Fprintf(out, "agent on %s: name %q, e-mail %q, phone %q\n", v.Channel, c.Name, c.Email, c.Phone)
	}

	// 4. The agent's public reply carries her number: the scanner refuses it.
	reply := "Hi, we will call you back on +44 20 7946 0042 today."
	fmt.Fprintf(out, "reply on a public post: %v\n", mask.Check(reply, mask.ChannelPublicSocial, nil) == nil)
	fmt.Fprintf(out, "reply in a direct message: %v\n", mask.Check(reply, mask.ChannelDirectMessage, nil) == nil)

	// 5. A supervisor reveals her phone number, for a stated reason: audited.
	c := found[0]
	phone, err := g.Reveal(ctx, supervisor, &c, "Phone", "customer asked which number we have")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "supervisor reveals the phone: %s (audit events: %d)\n", phone, count(ctx, db, "pii_audit"))

	// 6. Two years later, 100 acme customers are still active and write in; sweep.
	clock.AddDate(2, 0, 0)
	active, err := customers.Protected().Query(ctx, "acme", "id < ?", "cust-0100")
	if err != nil {
		return err
	}
	var recent []Ticket
	for i := range active {
		active[i].LastSeen = clock.Now()
		if err := customers.Update(ctx, &active[i]); err != nil {
			return err
		}
		recent = append(recent, Ticket{Tenant: "acme", ID: "t-new-" + active[i].ID, Customer: active[i].ID,
			Channel: "direct_message", Body: "Is my plan still active?", CreatedAt: clock.Now()})
	}
	if err := tickets.InsertMany(ctx, recent); err != nil {
		return err
	}
	progress, err := g.Sweep(ctx, nil)
	if err != nil {
		return err
	}
	for _, p := range progress {
		if p.Type != "" {
			fmt.Fprintf(out, "sweep %s: %d actions applied, %d records deleted\n", p.Type, p.Applied, p.Deleted)
		}
	}

	// 7. acme's cust-0007 asks to be forgotten; globex's cust-0007 is someone else.
	report, err := g.Forget(ctx, "acme", "cust-0007")
	if err != nil {
		return err
	}
	gone, err := customers.Get(ctx, "acme", "cust-0007")
	if err != nil {
		return err
	}
	kept, err := customers.Get(ctx, "globex", "cust-0007")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "forget acme/cust-0007: keys shredded %v; acme name %q; globex name %q\n", report.KeyShredded, gone.Name, kept.Name)

	// 8. globex's cust-0007 asks what is held about her.
	doc, err := g.Export(ctx, dpo, "globex", "cust-0007")
	if err != nil {
		return err
	}
	var exp guard.Export
	if err := json.Unmarshal(doc, &exp); err != nil {
		return err
	}
	fmt.Fprintf(out, "access export for globex/cust-0007: %d values\n", len(exp.Items))

	// 9. acme's branch key leaked: who must be told?
	doc, err = g.BreachReport(ctx, guard.Compromised{Key: &envelope.KeyRef{Kind: envelope.KindBranch, Tenant: "acme", ID: 1}})
	if err != nil {
		return err
	}
	var br guard.Breach
	if err := json.Unmarshal(doc, &br); err != nil {
		return err
	}
	for _, t := range br.Tenants {
		fmt.Fprintf(out, "breach of acme's branch key: tenant %s, %d subjects, categories %v\n", t.Tenant, t.SubjectCount, br.Categories)
	}

	// 10. Rotate the KMS key; a second reader opens the keyset as another process would.
	second := func(context.Context) (keyprovider.KeyProvider, error) { return local.Open(keyset, master) }
	if err := g.Rotate(ctx, &guard.RotateOptions{DisableOld: true, SecondReader: second}); err != nil {
		return err
	}
	fmt.Fprintln(out, "KMS key rotated; old version disabled")

	// 11. Every record still opens (acme's cust-0007 kept her row, emptied;
	// her new ticket went with her).
	var nc, nt int
	for _, tenant := range tenants {
		cs, err := customers.WithPermit(allTokens).Query(ctx, tenant, "")
		if err != nil {
			return err
		}
		ts, err := tickets.Query(ctx, tenant, "")
		if err != nil {
			return err
		}
		nc, nt = nc+len(cs), nt+len(ts)
	}
	fmt.Fprintf(out, "verified: %d customers and %d tickets open\n", nc, nt)
	return nil
}

func count(ctx context.Context, db *sql.DB, table string) (n int) {
	db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n)
	return n
}
