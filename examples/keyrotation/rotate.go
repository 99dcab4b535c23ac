package main

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/fieldguard/pii/envelope"
)

// countKeys counts key store records of the given kinds.
func (r *runner) countKeys(ctx context.Context, kinds ...envelope.Kind) (int64, error) {
	ph := strings.TrimSuffix(strings.Repeat("?, ", len(kinds)), ", ")
	args := make([]any, len(kinds))
	for i, k := range kinds {
		args[i] = string(k)
	}
	var n int64
	err := r.db.QueryRowContext(ctx, r.db.q(`SELECT COUNT(*) FROM `+keysTable+` WHERE kind IN (`+ph+`)`), args...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("database: %s", firstLine(err.Error()))
	}
	return n, nil
}

// rewrapJob runs an envelope rewrap job resumably: the cursor and the
// running count are saved after every batch, so a killed run continues
// where the last batch ended (records before the cursor are done; records
// after it that were already replaced are skipped by envelope).
func (r *runner) rewrapJob(ctx context.Context, name, desc string, total int64,
	job func(context.Context, envelope.RewrapOptions) (envelope.Progress, error)) (rewrapped, skipped int64, err error) {
	cursorKey, countKey := name+"_cursor", name+"_total"
	cursor, err := r.db.getState(ctx, r.db, cursorKey)
	if err != nil {
		return 0, 0, err
	}
	bar := r.bar(total, desc)
	defer bar.done()
	var last envelope.Progress
	p, err := job(ctx, envelope.RewrapOptions{
		BatchSize: r.cfg.batch,
		Cursor:    cursor,
		Progress: func(p envelope.Progress) error {
			delta := int64(p.Rewrapped - last.Rewrapped)
			err := r.db.inTx(ctx, func(tx *sql.Tx) error {
				if err := r.db.setState(ctx, tx, cursorKey, p.Cursor); err != nil {
					return err
				}
				n, err := r.db.getInt(ctx, tx, countKey)
				if err != nil {
					return err
				}
				return r.db.setInt(ctx, tx, countKey, n+delta)
			})
			if err != nil {
				return err
			}
			bar.add(int64(p.Scanned - last.Scanned))
			last = p
			if r.cfg.batchDelay > 0 {
				// The test hook also reports each committed batch, so the
				// crash test can place its kills between and within batches.
				r.printf("      batch committed: %s %d/%d\n", name, p.Scanned, total)
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(r.cfg.batchDelay):
				}
			}
			return nil
		},
	})
	if err != nil {
		return int64(p.Rewrapped), int64(p.Skipped), err
	}
	// The job is complete: the empty cursor starts any later job afresh.
	if err := r.db.setState(ctx, r.db, cursorKey, ""); err != nil {
		return 0, 0, err
	}
	return int64(p.Rewrapped), int64(p.Skipped), nil
}

// rewrapKMSKeys rewraps everything the KMS wraps under the new primary:
// envelope's branch keys and search root keys, and the tokenizer root key.
func (r *runner) rewrapKMSKeys(ctx context.Context, c *cryptoSet, target string) (string, error) {
	total, err := r.countKeys(ctx, envelope.KindBranch, envelope.KindSearch)
	if err != nil {
		return "", err
	}
	n, skipped, err := r.rewrapJob(ctx, "rewrap_branch", "rewrapping branch keys", total, c.sealer.RewrapBranchKeys)
	if err != nil {
		return "", err
	}
	tok, err := r.rewrapTokenizerRoot(ctx, target)
	if err != nil {
		return "", err
	}
	if tok {
		n++
		if err := r.addInt(ctx, "rewrap_branch_total", 1); err != nil {
			return "", err
		}
	}
	s := fmt.Sprintf("%d KMS-wrapped keys rewrapped (branch keys, search root keys, tokenizer root key); each new wrap was unwrapped and compared before it replaced the old one, and no data key or field ciphertext had to change", n)
	if skipped > 0 {
		s += fmt.Sprintf("; %d were already rewrapped", skipped)
	}
	return s, nil
}

func (r *runner) addInt(ctx context.Context, name string, d int64) error {
	return r.db.inTx(ctx, func(tx *sql.Tx) error {
		n, err := r.db.getInt(ctx, tx, name)
		if err != nil {
			return err
		}
		return r.db.setInt(ctx, tx, name, n+d)
	})
}

// tenantsWithBranchKeys lists the tenants that have branch keys.
func (r *runner) tenantsWithBranchKeys(ctx context.Context) ([]string, error) {
	rows, err := r.db.QueryContext(ctx, r.db.q(`SELECT DISTINCT tenant FROM `+keysTable+` WHERE kind = ? ORDER BY tenant`), string(envelope.KindBranch))
	if err != nil {
		return nil, fmt.Errorf("database: %s", firstLine(err.Error()))
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, fmt.Errorf("database: %s", firstLine(err.Error()))
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// rotateBranches starts a new branch key per tenant (wrapped by the new
// KMS version) and rewraps every data key under it. The branch rotation of
// each tenant is recorded so a resumed run does not start yet another one.
func (r *runner) rotateBranches(ctx context.Context, c *cryptoSet) (string, error) {
	ts, err := r.tenantsWithBranchKeys(ctx)
	if err != nil {
		return "", err
	}
	for _, t := range ts {
		key := "branch_rotated_" + t
		v, err := r.db.getState(ctx, r.db, key)
		if err != nil {
			return "", err
		}
		if v != "" {
			continue
		}
		nv, err := c.sealer.RotateBranchKey(ctx, t)
		if err != nil {
			return "", err
		}
		if err := r.db.setInt(ctx, r.db, key, int64(nv)); err != nil {
			return "", err
		}
	}
	total, err := r.countKeys(ctx, envelope.KindDEK)
	if err != nil {
		return "", err
	}
	n, skipped, err := r.rewrapJob(ctx, "rewrap_dek", "rewrapping data keys", total, c.sealer.RewrapDEKs)
	if err != nil {
		return "", err
	}
	s := fmt.Sprintf("%d data keys rewrapped under new branch keys of %d tenants; locally, one KMS unwrap per branch key, no field ciphertext changed", n, len(ts))
	if skipped > 0 {
		s += fmt.Sprintf("; %d were already under the new branch keys", skipped)
	}
	return s, nil
}

// verifyResult is what the verification found.
type verifyResult struct {
	records, ok int64
	kmsKeys     int64 // KMS-wrapped keys checked
	staleKMS    int64 // KMS-wrapped keys not under the new version
	staleDEKs   int64 // DEKs not under their tenant's newest branch key (with --rotate-branch)
}

func (v verifyResult) passed() bool {
	return v.ok == v.records && v.staleKMS == 0 && v.staleDEKs == 0
}

// verify opens every customer with a cold Sealer and Tokenizer (so every
// key comes from its stored, rewrapped form through the KMS) and compares
// it with the keyed hash of what was sealed; it also checks that every
// KMS-wrapped key is under version target.
func (r *runner) verify(ctx context.Context, target string, records int64, branchRotated bool) (verifyResult, error) {
	var res verifyResult
	c, err := r.newCryptoSet(ctx)
	if err != nil {
		return res, err
	}
	defer c.close()

	rows, err := r.db.QueryContext(ctx, r.db.q(`SELECT kek FROM `+keysTable+` WHERE kind IN (?, ?)`), string(envelope.KindBranch), string(envelope.KindSearch))
	if err != nil {
		return res, fmt.Errorf("database: %s", firstLine(err.Error()))
	}
	for rows.Next() {
		var kek string
		if err := rows.Scan(&kek); err != nil {
			rows.Close()
			return res, fmt.Errorf("database: %s", firstLine(err.Error()))
		}
		res.kmsKeys++
		if _, v, _ := strings.Cut(kek, "#"); v != target {
			res.staleKMS++
		}
	}
	rows.Close()
	res.kmsKeys++
	if v, err := r.db.getState(ctx, r.db, "tokenizer_root_kek"); err != nil {
		return res, err
	} else if v != target {
		res.staleKMS++
	}
	if branchRotated {
		err := r.db.QueryRowContext(ctx, r.db.q(`SELECT COUNT(*) FROM `+keysTable+` d WHERE d.kind = ?
			AND d.parent < (SELECT MAX(b.id) FROM `+keysTable+` b WHERE b.kind = ? AND b.tenant = d.tenant)`),
			string(envelope.KindDEK), string(envelope.KindBranch)).Scan(&res.staleDEKs)
		if err != nil {
			return res, fmt.Errorf("database: %s", firstLine(err.Error()))
		}
	}

	bar := r.bar(records, "opening customers")
	defer bar.done()
	var after int64
	for {
		page, err := r.loadCustomers(ctx, r.db.DB, after, 500)
		if err != nil {
			return res, err
		}
		if len(page) == 0 {
			break
		}
		res.records += int64(len(page))
		res.ok += openPage(ctx, c, page)
		if err := ctx.Err(); err != nil {
			return res, err
		}
		after = page[len(page)-1].seq
		bar.add(int64(len(page)))
	}
	return res, nil
}

// dataKeysRewrapped counts the data keys under the branch keys this run's
// rotation made. Counted from the store, it stays exact across
// interruptions (a per-batch counter would miss a batch cut short).
func (r *runner) dataKeysRewrapped(ctx context.Context) (int64, error) {
	ts, err := r.tenantsWithBranchKeys(ctx)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, t := range ts {
		v, err := r.db.getInt(ctx, r.db, "branch_rotated_"+t)
		if err != nil || v == 0 {
			continue
		}
		var n int64
		err = r.db.QueryRowContext(ctx, r.db.q(`SELECT COUNT(*) FROM `+keysTable+` WHERE kind = ? AND tenant = ? AND parent = ?`),
			string(envelope.KindDEK), t, v).Scan(&n)
		if err != nil {
			return 0, fmt.Errorf("database: %s", firstLine(err.Error()))
		}
		total += n
	}
	return total, nil
}
