package guard

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/internal/sealedtext"
	"github.com/fieldguard/pii/retention"
	"github.com/fieldguard/pii/tokenize"
)

// VerifyOptions configure Verify. Nil means the defaults.
type VerifyOptions struct {
	// BatchSize is the number of records read per query (default 500).
	BatchSize int
	// Progress, if set, is called after every batch with the counts so
	// far; a non-nil error stops Verify and is returned.
	Progress func(VerifyReport) error
	// MaxFailures bounds the failures listed in the report (default 20);
	// every failure is counted.
	MaxFailures int
}

// VerifyReport is what Verify found. Counts are of values, except
// Records and Failed.
type VerifyReport struct {
	// Type is the schema name of the registered type being read (in
	// Progress) or "" (the total).
	Type string `json:"type,omitempty"`
	// Records counts the records read, Failed those with a value that
	// does not open.
	Records int64 `json:"records"`
	Failed  int64 `json:"failed"`
	// Sealed counts the sealed values opened, Tokens the tokens reversed
	// (keyed pseudonyms, token=hmac, have nothing to reverse and are not
	// counted), Shredded the sealed values and stored tokens of forgotten
	// subjects (nobody can open them, by design: they count as verified).
	Sealed   int64 `json:"sealed"`
	Tokens   int64 `json:"tokens"`
	Shredded int64 `json:"shredded"`
	// Plaintext counts the values of encrypt fields still in clear (a
	// migration that has not run, or not finished).
	Plaintext int64 `json:"plaintext"`
	// Failures lists the first failures (MaxFailures).
	Failures []VerifyFailure `json:"failures,omitempty"`
}

// VerifyFailure is one value that does not open: its type, field path and
// record (the pii:"id" value, as pii.FieldError names it), and the cause.
type VerifyFailure struct {
	Type   string `json:"type"`
	Field  string `json:"field"`
	Record string `json:"record,omitempty"`
	Error  string `json:"error"`
}

// ErrVerify reports records with values that do not open.
var ErrVerify = errors.New("guard: Verify: values do not open")

// Verify checks that every sealed value of every registered type opens
// and every token reverses, with cold caches: a Sealer and a tokenizer of
// its own, so every key comes through the key store and the KMS as
// another process would get it (after a rotation, a restore, or a move to
// another KMS). It reads every record of every registered store
// (read-only) and changes nothing. Values of forgotten subjects count as
// verified (Shredded). It returns the report and, when any value does not
// open, an error wrapping ErrVerify; a failure to read is returned as it
// is.
func (g *Guard) Verify(ctx context.Context, opts *VerifyOptions) (VerifyReport, error) {
	var o VerifyOptions
	if opts != nil {
		o = *opts
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 500
	}
	if o.MaxFailures <= 0 {
		o.MaxFailures = 20
	}
	v, err := g.coldVerifier(ctx)
	if err != nil {
		return VerifyReport{}, err
	}
	var total VerifyReport
	for _, st := range g.registered() {
		if err := v.store(ctx, st, &total, o); err != nil {
			return total, err
		}
	}
	if total.Failed > 0 {
		return total, fmt.Errorf("%w: %d of %d records", ErrVerify, total.Failed, total.Records)
	}
	return total, nil
}

// verifier opens values with cold caches.
type verifier struct {
	g    *Guard
	seal *envelope.Sealer
	c    *core
}

// coldVerifier builds a Sealer and a tokenizer of their own over the
// Guard's stores, so every key comes through the KMS.
func (g *Guard) coldVerifier(ctx context.Context) (*verifier, error) {
	c, err := g.core(ctx)
	if err != nil {
		return nil, err
	}
	seal, err := envelope.New(g.kp, &envelope.Options{Store: g.keys, Clock: g.opts.Clock})
	if err != nil {
		return nil, fmt.Errorf("guard: %w", err)
	}
	root, err := seal.Secret(pii.WithExecutor(ctx, nil), "", secretTokenizer)
	if err != nil {
		return nil, fmt.Errorf("%w: the tokenizer root key does not unwrap: %w", ErrVerify, err)
	}
	tok, err := tokenize.New(root, &tokenize.Options{Store: g.tokens, Formats: g.opts.TokenFormats, Clock: g.opts.Clock})
	clear(root)
	if err != nil {
		return nil, fmt.Errorf("guard: %w", err)
	}
	return &verifier{g: g, seal: seal, c: &core{tok: tok, mgr: c.mgr}}, nil
}

// store verifies every record of st, adding to total.
func (v *verifier) store(ctx context.Context, st retention.Store, total *VerifyReport, o VerifyOptions) error {
	sc := st.Schema()
	q := retention.Query{All: true, Limit: o.BatchSize, ReadOnly: true}
	for {
		cl, err := st.Claim(ctx, q)
		if err != nil {
			return fmt.Errorf("guard: Verify: %s: %w", sc.Name, err)
		}
		recs := cl.Records()
		_ = cl.Rollback()
		for _, rec := range recs {
			if err := v.record(ctx, sc, rec.Value, total); err != nil {
				total.Failed++
				if len(total.Failures) < o.MaxFailures {
					total.Failures = append(total.Failures, failureOf(sc, rec.Value, err))
				}
			}
			total.Records++
		}
		if o.Progress != nil {
			p := *total
			p.Type = sc.Name
			if err := o.Progress(p); err != nil {
				return err
			}
		}
		if len(recs) < q.Limit {
			return nil
		}
		q.After = recs[len(recs)-1].Pos
	}
}

func failureOf(sc *pii.Schema, ptr any, err error) VerifyFailure {
	f := VerifyFailure{Type: sc.Name, Error: err.Error()}
	var fe *pii.FieldError
	if errors.As(err, &fe) {
		f.Field, f.Record = fe.Path, fe.Record
	} else if sc.ID != nil {
		f.Record = sc.RecordOf(ptr)
	}
	return f
}

// record opens every sealed value and reverses every token of the record
// ptr points to, without changing it, counting into n. An error is a
// *pii.FieldError when it concerns one field.
func (v *verifier) record(ctx context.Context, sc *pii.Schema, ptr any, n *VerifyReport) error {
	g, c := v.g, v.c
	st, err := g.look(c, sc, ptr, nil)
	if err != nil {
		return err
	}
	if err := g.resolve(ctx, c, sc, ptr, st, false); err != nil {
		return err
	}
	b := bindingOf(sc, ptr)
	ti := 0
	return visit(sc, ptr, func(_ int, f *pii.Field, path string, _, fv reflect.Value) error {
		sv, isStr := stringOf(fv)
		b.Field = f.Path
		switch {
		case f.Opts.Token != "":
			if !isStr || sv.String() == "" {
				return nil
			}
			t := st.tok[ti]
			ti++
			if t.v != vToken || tokenize.Method(f.Opts.Token) == tokenize.MethodHMAC {
				return nil
			}
			_, err := c.tok.Detokenize(ctx, tokenize.Method(f.Opts.Token), fieldScope(sc, ptr, f), c.tok.FormatFor(f.Category), t.bare)
			switch {
			case err == nil:
				n.Tokens++
			case errors.Is(err, tokenize.ErrNotFound):
				n.Shredded++
			default:
				return sc.FieldError(ptr, path, err)
			}
		case isStr:
			val := sv.String()
			if inner, ok := keptValue(val); ok {
				val = inner
			}
			if !sealedtext.IsSealed(val) {
				if val != "" && f.Opts.Encrypt != pii.EncryptNone {
					n.Plaintext++
				}
				return nil
			}
			return v.open(ctx, sc, ptr, path, n, func() error { _, err := v.seal.DecryptString(ctx, val, b); return err })
		case f.Opts.Encrypt != pii.EncryptNone && fv.Kind() == reflect.Slice && fv.Len() > 0:
			return v.open(ctx, sc, ptr, path, n, func() error { _, err := v.seal.DecryptBytes(ctx, fv.Bytes(), b); return err })
		}
		return nil
	})
}

func (v *verifier) open(_ context.Context, sc *pii.Schema, ptr any, path string, n *VerifyReport, fn func() error) error {
	switch err := fn(); {
	case err == nil:
		n.Sealed++
	case errors.Is(err, envelope.ErrShredded):
		n.Shredded++
	default:
		return sc.FieldError(ptr, path, err)
	}
	return nil
}
