package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/envelope/sqlkeystore"
	"github.com/fieldguard/pii/tokenize"
)

// keysTable is the envelope key store's table: branch keys and search
// root keys wrapped by the KMS, data keys wrapped by branch keys.
const keysTable = "kr_keys"

// internalTenant holds the example's own secret (the key of the record
// hashes), sealed like any other value so it rotates with the rest.
const internalTenant = "keyrotation-internal"

var (
	tokenizerRootAD = []byte("fieldguard.pii/examples/keyrotation tokenizer root key")
	checkKeyBinding = envelope.Binding{Tenant: internalTenant, Type: "keyrotation.CheckKey", Field: "Key", Record: "record-mac"}
)

// cryptoSet is what seals and opens customers: the envelope Sealer on the
// SQL key store, the tokenizer (its root key wrapped by the KMS) and the
// key of the record hashes.
type cryptoSet struct {
	store    envelope.KeyStore
	sealer   *envelope.Sealer
	tok      *tokenize.Tokenizer
	checkKey []byte
}

func (c *cryptoSet) close() { clear(c.checkKey) }

func (r *runner) keyStore(ctx context.Context) (*sqlkeystore.Store, error) {
	d := pii.SQLite
	if r.db.postgres {
		d = pii.Postgres
	}
	st, err := sqlkeystore.New(r.db.DB, &sqlkeystore.Options{Dialect: d, Table: keysTable})
	if err != nil {
		return nil, err
	}
	if err := st.CreateTables(ctx); err != nil {
		return nil, errors.New(firstLine(err.Error()))
	}
	return st, nil
}

// newCryptoSet builds a Sealer with empty caches, a Tokenizer from the
// stored root key and the record-hash key, creating the stored keys on the
// first run. Every call starts cold, so a set made after the rewrap proves
// the new wraps, not keys cached before it.
func (r *runner) newCryptoSet(ctx context.Context) (*cryptoSet, error) {
	st, err := r.keyStore(ctx)
	if err != nil {
		return nil, err
	}
	var ks envelope.KeyStore = st
	if r.cfg.batchDelay > 0 {
		ks = slowStore{st, r.cfg.batchDelay / time.Duration(r.cfg.batch)}
	}
	s, err := envelope.New(r.kms.counter, &envelope.Options{Store: ks})
	if err != nil {
		return nil, err
	}
	c := &cryptoSet{store: ks, sealer: s}

	wrappedRoot, err := r.stateBytes(ctx, "tokenizer_root")
	if err != nil {
		return nil, err
	}
	if wrappedRoot == nil {
		root := tokenize.GenerateRootKey()
		w, kek, err := r.kms.Wrap(ctx, root, tokenizerRootAD)
		clear(root)
		if err != nil {
			return nil, fmt.Errorf("wrap tokenizer root key: %w", err)
		}
		err = r.db.inTx(ctx, func(tx *sql.Tx) error {
			if err := r.db.setState(ctx, tx, "tokenizer_root", base64.StdEncoding.EncodeToString(w)); err != nil {
				return err
			}
			return r.db.setState(ctx, tx, "tokenizer_root_kek", kek.Version)
		})
		if err != nil {
			return nil, err
		}
		wrappedRoot = w
	}
	c.tok, err = tokenize.NewFromProvider(ctx, r.kms.counter, wrappedRoot, tokenizerRootAD, nil)
	if err != nil {
		return nil, err
	}

	sealed, err := r.stateBytes(ctx, "check_key")
	if err != nil {
		return nil, err
	}
	if sealed == nil {
		k := make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			return nil, err
		}
		sealed, err = s.EncryptBytes(ctx, k, checkKeyBinding)
		clear(k)
		if err != nil {
			return nil, fmt.Errorf("seal record-hash key: %w", err)
		}
		if err := r.db.setState(ctx, r.db, "check_key", base64.StdEncoding.EncodeToString(sealed)); err != nil {
			return nil, err
		}
	}
	c.checkKey, err = s.DecryptBytes(ctx, sealed, checkKeyBinding)
	if err != nil {
		return nil, fmt.Errorf("open record-hash key: %w", err)
	}
	return c, nil
}

func (r *runner) stateBytes(ctx context.Context, name string) ([]byte, error) {
	v, err := r.db.getState(ctx, r.db, name)
	if err != nil || v == "" {
		return nil, err
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("database: state %s is corrupt", name)
	}
	return b, nil
}

// rewrapTokenizerRoot moves the tokenizer's root key to version target the
// same way envelope rewraps branch keys: unwrap, wrap, unwrap the new wrap
// and compare, then compare-and-swap it into the database.
func (r *runner) rewrapTokenizerRoot(ctx context.Context, target string) (bool, error) {
	kekV, err := r.db.getState(ctx, r.db, "tokenizer_root_kek")
	if err != nil {
		return false, err
	}
	if kekV == target {
		return false, nil
	}
	old, err := r.stateBytes(ctx, "tokenizer_root")
	if err != nil {
		return false, err
	}
	key, err := r.kms.Unwrap(ctx, old, tokenizerRootAD)
	if err != nil {
		return false, fmt.Errorf("rewrap tokenizer root key: unwrap: %w", err)
	}
	defer clear(key)
	w, kek, err := r.kms.Wrap(ctx, key, tokenizerRootAD)
	if err != nil {
		return false, fmt.Errorf("rewrap tokenizer root key: wrap: %w", err)
	}
	if kek.Version != target {
		return false, fmt.Errorf("rewrap tokenizer root key: wrapped under version %s, want %s", kek.Version, target)
	}
	back, err := r.kms.Unwrap(ctx, w, tokenizerRootAD)
	same := err == nil && bytes.Equal(back, key)
	clear(back)
	if !same {
		return false, errors.New("rewrap tokenizer root key: the new wrap does not unwrap to the same key; old wrap kept")
	}
	err = r.db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, r.db.q(`UPDATE kr_state SET value = ? WHERE name = 'tokenizer_root' AND value = ?`),
			base64.StdEncoding.EncodeToString(w), base64.StdEncoding.EncodeToString(old))
		if err != nil {
			return fmt.Errorf("database: %s", firstLine(err.Error()))
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return errors.New("rewrap tokenizer root key: changed by someone else; run again with --resume")
		}
		return r.db.setState(ctx, tx, "tokenizer_root_kek", target)
	})
	return err == nil, err
}

// allowAll is the example's permission check for reversing tokens: the
// verification step may see every value. A real service asks who is
// calling and why.
func allowAll(context.Context, *pii.Field, string) error { return nil }

// slowStore is the crash test's hook (KEYROTATION_BATCH_DELAY): a pause
// before every Replace spreads a rewrap batch over time, so kills land
// between the records of a batch too, after some were replaced and before
// the batch's cursor was saved.
type slowStore struct {
	envelope.KeyStore
	d time.Duration
}

func (s slowStore) Replace(ctx context.Context, old, rec envelope.Record) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(s.d):
	}
	return s.KeyStore.Replace(ctx, old, rec)
}
