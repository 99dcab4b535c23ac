package guard

import (
	"context"
	"sync"

	"github.com/fieldguard/pii/retention"
)

// Forget answers an erasure request for the data subject (tenant, subject)
// across every registered type, and for nobody else: each personal-data
// field of the subject's records in every registered store gets its then=
// action (null without one), and its blind index goes with it; records
// whose policy says delete are deleted; then the subject's keys are
// shredded in the key store (every value sealed for them, backups
// included, becomes unreadable) and their stored tokens deleted. Legal
// holds, min= and then=block keep what they cover, and while a value
// sealed under the subject's keys is kept the shred is pending: the sweep
// after it lapses completes it (see retention.Manager.Forget).
//
// The report has one entry per field acted on or kept, with the reason,
// and one for the subject's keys; they are the ledger's entries. Types
// registered without a pii:"subject" field hold nobody's data by subject
// and are not visited. Forget is idempotent.
func (g *Guard) Forget(ctx context.Context, tenant, subject string) (*retention.ForgetReport, error) {
	c, err := g.core(ctx)
	if err != nil {
		return nil, err
	}
	return c.mgr.Forget(ctx, tenant, subject)
}

// Sweep runs the retention sweep over every registered type: first the
// pending key shreds whose kept values have lapsed, then every store once
// at the Guard's current time (see retention.Manager.Sweep). It returns the
// progress of each registered type, in registration order, and, when
// pending shreds were completed, one more entry with an empty Type for
// them.
func (g *Guard) Sweep(ctx context.Context, opts *retention.SweepOptions) ([]retention.Progress, error) {
	c, err := g.core(ctx)
	if err != nil {
		return nil, err
	}
	var o retention.SweepOptions
	if opts != nil {
		o = *opts
	}
	var mu sync.Mutex
	per := map[string]retention.Progress{}
	user := o.Progress
	o.Progress = func(p retention.Progress) {
		mu.Lock()
		per[p.Type] = p
		mu.Unlock()
		if user != nil {
			user(p)
		}
	}
	total, err := c.mgr.Sweep(ctx, &o)
	mu.Lock()
	defer mu.Unlock()
	var out []retention.Progress
	var sum retention.Progress
	for _, st := range g.registered() {
		name := st.Schema().Name
		p := per[name]
		p.Type = name
		out = append(out, p)
		sum.Applied += p.Applied
		sum.KeysShredded += p.KeysShredded
	}
	if pend := (retention.Progress{Applied: total.Applied - sum.Applied, KeysShredded: total.KeysShredded - sum.KeysShredded}); pend.Applied > 0 || pend.KeysShredded > 0 {
		out = append(out, pend)
	}
	return out, err
}

// Retention returns the Guard's retention Manager, for what the Guard does
// not wrap: legal holds (Hold, Release), Due and Next, Hash to look an
// erasure up in the ledger, Replay after a restore.
// It is built on first use, which loads the ledger key from the key store.
func (g *Guard) Retention(ctx context.Context) (*retention.Manager, error) {
	c, err := g.core(ctx)
	if err != nil {
		return nil, err
	}
	return c.mgr, nil
}
