package retention

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/fieldguard/pii"
)

// The kinds of pending shred (PendingShred.Kind).
const (
	// pendingRetention: a sweep erased a then=shred field while other
	// values under the subject's key must be kept; the key is shredded
	// (Shredder's ForgetSubject) once none must.
	pendingRetention = 1
	// pendingErasure: an erasure request kept values back (a hold, min=,
	// then=block); completing it erases them once they lapse, then shreds
	// the key with ForgetSubject.
	pendingErasure = 2
	// pendingClose: as pendingErasure, with Options.CloseOnForget: the
	// key is shredded with CloseSubject.
	pendingClose = 3
)

// PendingShred is a data subject whose key shred waits until nothing sealed
// under the key must stay readable. The ledger and holds keep only keyed
// hashes, from which the subject cannot be recovered, so the pending shred
// keeps (tenant, subject) itself, sealed with AES-256-GCM under a key
// derived (HKDF-SHA256) from Options.LedgerKey and bound to ID and Kind.
// The row is deleted once the key is shredded.
type PendingShred struct {
	// ID is the subject's keyed hash ([Manager.Hash]).
	ID string
	// Kind says what the shred completes: 1 a sweep's shred of a
	// then=shred field, 2 an erasure request ([Manager.Forget]) that kept
	// values back, 3 the same with Options.CloseOnForget. Kinds are
	// ordered: a pending shred's kind may rise (a sweep's shred becomes an
	// erasure request), never fall.
	Kind int
	// Sealed is the sealed (tenant, subject).
	Sealed  []byte
	Created time.Time
}

// PendingShreds is the ability of a hold store ([Holds]) to keep pending
// key shreds beside the holds, which a Manager with a Shredder or Tokens
// needs: every sweep and [Manager.Release] completes those whose kept
// values have lapsed. The hold stores of [NewMemoryHolds] and
// sqlstore.NewHolds have it.
type PendingShreds interface {
	// PutPending records p; when a pending shred with p.ID exists, it
	// takes p only if p.Kind is higher (kinds never fall).
	PutPending(ctx context.Context, p PendingShred) error
	// DeletePending removes the pending shred with the id if its kind is
	// at most kind (an erasure request recorded meanwhile survives the
	// completion of a sweep's shred). Removing an absent one is not an error.
	DeletePending(ctx context.Context, id string, kind int) error
	// Pending returns up to limit pending shreds whose ID sorts after
	// after, in ID order.
	Pending(ctx context.Context, after string, limit int) ([]PendingShred, error)
}

const pendingInfo = "fieldguard/pii retention pending shred v1"

func pendingAEAD(ledgerKey []byte) (cipher.AEAD, error) {
	k, err := hkdf.Key(sha256.New, ledgerKey, nil, pendingInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("retention: derive the pending-shred key: %w", err)
	}
	defer clear(k)
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, fmt.Errorf("retention: %w", err)
	}
	return cipher.NewGCM(block)
}

// pendingAD binds a sealed pending shred to its row: a row copied under
// another id or kind does not open.
func pendingAD(id string, kind int) []byte {
	ad := make([]byte, 0, len(pendingInfo)+len(id)+10)
	ad = append(ad, pendingInfo...)
	ad = binary.BigEndian.AppendUint64(ad, uint64(len(id)))
	ad = append(ad, id...)
	return append(ad, byte(kind))
}

// sealPending returns the pending shred of (tenant, subject).
func (m *Manager) sealPending(tenant, subject string, kind int) PendingShred {
	p := PendingShred{ID: m.subjectHash(tenant, subject), Kind: kind, Created: m.clock.Now()}
	pt := binary.BigEndian.AppendUint64(nil, uint64(len(tenant)))
	pt = append(pt, tenant...)
	pt = append(pt, subject...)
	aead := m.keys.seal
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(pt)+aead.Overhead())
	rand.Read(nonce)
	p.Sealed = aead.Seal(nonce, nonce, pt, pendingAD(p.ID, kind))
	clear(pt)
	return p
}

var errPendingOpen = errors.New("retention: a pending shred does not open (another ledger key, or the row was altered)")

// openPending returns the (tenant, subject) of a pending shred.
func (m *Manager) openPending(p PendingShred) (tenant, subject string, err error) {
	aead := m.keys.seal
	n := aead.NonceSize()
	if len(p.Sealed) < n+aead.Overhead() {
		return "", "", fmt.Errorf("%w: %s", errPendingOpen, p.ID)
	}
	pt, err := aead.Open(nil, p.Sealed[:n], p.Sealed[n:], pendingAD(p.ID, p.Kind))
	if err != nil || len(pt) < 8 {
		return "", "", fmt.Errorf("%w: %s", errPendingOpen, p.ID)
	}
	defer clear(pt)
	tl := binary.BigEndian.Uint64(pt)
	if tl > uint64(len(pt)-8) {
		return "", "", fmt.Errorf("%w: %s", errPendingOpen, p.ID)
	}
	tenant, subject = string(pt[8:8+tl]), string(pt[8+tl:])
	if !hmac.Equal([]byte(m.subjectHash(tenant, subject)), []byte(p.ID)) {
		return "", "", fmt.Errorf("%w: %s", errPendingOpen, p.ID)
	}
	return tenant, subject, nil
}

// keyBearing reports whether a field's values depend on the subject's keys:
// sealed with encrypt (random) under the subject's DEKs, or a stored token
// deleted with the subject. encrypt=det values and blind indexes use
// tenant keys and survive a shred.
func keyBearing(f *pii.Field) bool {
	return f.Opts.Encrypt == pii.EncryptRandom || f.Opts.Token == "stored"
}

// keptUnderKey counts the values of the data subject (tenant, subject), in
// every registered store, that are sealed under the subject's keys (or
// stored under their tokens) and must stay readable at now: under a legal
// hold, within their retention period or grace, kept by then=block or
// min=, or without a retention period. Values already erased, and values
// due now (the sweep erases them), do not count. why describes the first
// one found by type and field path, without personal data.
func (m *Manager) keptUnderKey(ctx context.Context, tenant, subject string, now time.Time) (n int, why string, err error) {
	holds, err := m.activeHolds(ctx, now)
	if err != nil {
		return 0, "", err
	}
	note := func(s *pii.Schema, path, reason string) {
		if n == 0 {
			why = s.Name + "." + path + ": " + reason
		}
		n++
	}
	for _, st := range m.registered() {
		ti, err := m.typeOf(st.Schema().Type)
		if err != nil {
			return 0, "", err
		}
		if ti.s.Subject == nil || !ti.keyFields {
			continue
		}
		q := Query{Tenant: tenant, Subject: subject, Limit: 500, ReadOnly: true}
		for {
			cl, err := st.Claim(ctx, q)
			if err != nil {
				return 0, "", err
			}
			recs := cl.Records()
			cl.Rollback()
			for _, rec := range recs {
				_, isHeld := m.held(holds, rec.Tenant, ti.s.Name, rec.Key, subject)
				err := m.walkVerdicts(now, record{ti: ti, ptr: rec.Value, created: rec.Created}, false, func(it Item, k verdictKind) error {
					if !keyBearing(it.Field) || it.v.IsZero() {
						return nil
					}
					switch {
					case isHeld:
						note(ti.s, it.Path, "legal hold")
					case k == verdictNoPolicy:
						note(ti.s, it.Path, "no retention period")
					case k == verdictNotStarted:
						note(ti.s, it.Path, "retention clock not started")
					case k == verdictApplied, it.State == Due:
						// Erased already, or by this sweep.
					case it.State == statePending:
						if _, changed, _ := m.actor.transform(it.Field, it.Action, it.v); !changed &&
							it.Action.Kind != pii.ActionDelete && it.Action.Kind != pii.ActionBlock {
							return nil // erased early (by an erasure request)
						}
						note(ti.s, it.Path, "within its retention period")
					case it.State == Deferred:
						note(ti.s, it.Path, fmt.Sprintf("min=%s", it.Policy.Min))
					case it.State == Blocked:
						note(ti.s, it.Path, "then=block")
					default:
						note(ti.s, it.Path, it.State.String())
					}
					return nil
				})
				if err != nil {
					return 0, "", err
				}
			}
			if len(recs) < q.Limit {
				break
			}
			q.After = recs[len(recs)-1].Pos
		}
	}
	return n, why, nil
}

// registered returns the registered stores.
func (m *Manager) registered() []Store {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return append([]Store(nil), m.stores...)
}

// shredKey shreds the subject's keys (CloseSubject for pendingClose,
// ForgetSubject otherwise), then deletes their stored tokens
// (token=stored). Both are idempotent.
func (m *Manager) shredKey(ctx context.Context, tenant, subject string, kind int) error {
	if m.shredder != nil {
		var err error
		if kind == pendingClose && m.closer != nil {
			err = m.closer.CloseSubject(ctx, tenant, subject)
		} else {
			err = m.shredder.ForgetSubject(ctx, tenant, subject)
		}
		if err != nil {
			return fmt.Errorf("retention: shred: %w", err)
		}
	}
	if m.tokens != nil {
		if _, err := m.tokens.DeleteSubject(ctx, tenant, subject); err != nil {
			return fmt.Errorf("retention: delete tokens: %w", err)
		}
	}
	return nil
}

// shredText says what shredKey did, for the ledger.
func (m *Manager) shredText(kind int) string {
	var what string
	switch {
	case m.shredder != nil && kind == pendingClose && m.closer != nil:
		what = "subject closed: keys shredded, new values refused"
	case m.shredder != nil:
		what = "subject keys shredded"
	}
	if m.tokens != nil {
		if what != "" {
			what += ", "
		}
		what += "stored tokens deleted"
	}
	return what
}

// completePending completes every pending shred whose kept values have
// lapsed: an erasure request erases what it had to keep back, then the key
// is shredded once nothing under it must stay readable. The subjects whose
// keys it shreds are added to shredded.
func (m *Manager) completePending(ctx context.Context, onAction func(Entry), st *Progress, shredded shredSet) error {
	if m.pending == nil {
		return nil
	}
	const page = 100
	after := ""
	for {
		ps, err := m.pending.Pending(ctx, after, page)
		if err != nil {
			return err
		}
		for _, p := range ps {
			after = p.ID
			if err := ctx.Err(); err != nil {
				return err
			}
			tenant, subject, err := m.openPending(p)
			if err != nil {
				return err
			}
			var entries []Entry
			switch p.Kind {
			case pendingErasure, pendingClose:
				rep, err := m.forget(ctx, tenant, subject, p.Kind, true)
				if err != nil {
					return err
				}
				entries = rep.Entries
				st.Applied += int64(rep.Applied)
				if rep.KeyShredded {
					st.KeysShredded++
					shredded[subjectRef{tenant, subject}] = true
				}
			default:
				now := m.clock.Now()
				n, _, err := m.keptUnderKey(ctx, tenant, subject, now)
				if err != nil {
					return err
				}
				if n > 0 {
					continue
				}
				if err := m.shredKey(ctx, tenant, subject, p.Kind); err != nil {
					return err
				}
				if err := m.pending.DeletePending(ctx, p.ID, p.Kind); err != nil {
					return err
				}
				e := Entry{Subject: p.ID, Action: string(pii.ActionShred), Policy: policyPendingShred, Outcome: OutcomeApplied,
					Reason: "pending shred completed: nothing under the key must be kept any longer; " + m.shredText(p.Kind), At: now}
				l, err := m.ledgerOf()
				if err != nil {
					return err
				}
				if err := l.Append(ctx, e); err != nil {
					return err
				}
				entries = []Entry{e}
				st.KeysShredded++
				shredded[subjectRef{tenant, subject}] = true
			}
			if onAction != nil {
				for _, e := range entries {
					onAction(e)
				}
			}
		}
		if len(ps) < page {
			return nil
		}
	}
}

// policyPendingShred is the policy text of a key shred that completes a
// sweep's pending shred.
const policyPendingShred = "then=shred (pending)"
