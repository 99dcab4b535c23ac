package guard

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/internal/sealedtext"
	"github.com/fieldguard/pii/mask"
	"github.com/fieldguard/pii/tokenize"
)

// eachStruct calls fn with a pointer to every struct ptr designates: a
// pointer to a struct, or a slice of structs or of pointers to structs
// (or a pointer to such a slice).
func eachStruct(op string, ptr any, fn func(any) error) error {
	rv := reflect.ValueOf(ptr)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() && rv.Elem().Kind() == reflect.Slice {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Slice {
		return fn(ptr)
	}
	for i := range rv.Len() {
		e := rv.Index(i)
		switch {
		case e.Kind() == reflect.Pointer && e.IsNil():
			return fmt.Errorf("guard: %s: element %d is a nil pointer", op, i)
		case e.Kind() == reflect.Pointer:
			if err := fn(e.Interface()); err != nil {
				return err
			}
		default:
			if err := fn(e.Addr().Interface()); err != nil {
				return err
			}
		}
	}
	return nil
}

// Protect tokenizes, seals and indexes, in place, the tagged struct ptr
// points to (or every struct of a slice, []T, []*T or a pointer to one),
// in that order: tokens first, then sealed values and their blind
// indexes. It is idempotent: a protected struct is left as it is and is
// never tokenized twice. How it tells a protected struct from a clear one,
// and what it refuses (ErrAmbiguous) rather than guess, is in the package
// documentation ("Protected or clear"). A slice is sealed with one Seal
// (the keys of its new subjects are made together). On error every
// struct is as it was.
//
// A record whose type has a subject field must name its subject: its
// values are protected under that subject's keys, so that Forget can
// erase them (envelope.ErrEmptySubject otherwise).
func (g *Guard) Protect(ctx context.Context, ptr any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := g.core(ctx)
	if err != nil {
		return err
	}
	if isStructPtr(ptr) {
		pr, err := g.prepareProtect(ctx, c, ptr)
		if err != nil {
			return err
		}
		if pr.seal {
			if err := g.seal.Seal(ctx, ptr); err != nil {
				pr.snap.restore(pr.sc, ptr)
				return err
			}
		}
		putBack(pr.sc, ptr, pr.set)
		return nil
	}
	elems, err := structsOf("Protect", ptr)
	if err != nil {
		return err
	}
	// Each struct is tokenized on its own, then all are sealed with one
	// Seal, which makes the keys of a batch's new subjects together.
	preps := make([]protectPrep, 0, len(elems))
	undo := func(err error) error {
		for i := range preps {
			preps[i].snap.restore(preps[i].sc, preps[i].ptr)
		}
		return err
	}
	seal := false
	for _, p := range elems {
		pr, err := g.prepareProtect(ctx, c, p)
		if err != nil {
			return undo(err)
		}
		preps = append(preps, pr)
		seal = seal || pr.seal
	}
	if seal {
		// Only the structs with values to seal: Seal checks every sealed
		// value it is given, and those of a protected struct need nothing.
		need := reflect.MakeSlice(reflect.SliceOf(reflect.TypeOf(elems[0])), 0, len(elems))
		for i := range preps {
			if preps[i].seal {
				need = reflect.Append(need, reflect.ValueOf(preps[i].ptr))
			}
		}
		target := need.Interface()
		if need.Len() == 1 {
			target = need.Index(0).Interface()
		}
		if err := g.seal.Seal(ctx, target); err != nil {
			return undo(err)
		}
	}
	for i := range preps {
		putBack(preps[i].sc, preps[i].ptr, preps[i].set)
	}
	return nil
}

// isStructPtr reports whether ptr is a pointer to a struct (not a slice).
func isStructPtr(ptr any) bool {
	t := reflect.TypeOf(ptr)
	return t != nil && t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct
}

// structsOf returns a pointer to every struct ptr designates: ptr itself,
// or the elements of a slice of structs or of pointers to structs (or of a
// pointer to such a slice).
func structsOf(op string, ptr any) ([]any, error) {
	var out []any
	err := eachStruct(op, ptr, func(p any) error {
		out = append(out, p)
		return nil
	})
	return out, err
}

// protectPrep is one struct tokenized and ready to seal.
type protectPrep struct {
	ptr  any
	sc   *pii.Schema
	snap snapshot
	set  []aside
	seal bool // it has values to seal
}

// prepareProtect decides what ptr holds, sets tokens and kept values
// aside, and tokenizes the rest. On error ptr is as it was.
func (g *Guard) prepareProtect(ctx context.Context, c *core, ptr any) (protectPrep, error) {
	pr := protectPrep{ptr: ptr}
	sc, err := pii.SchemaOf(ptr)
	if err != nil {
		return pr, err
	}
	pr.sc = sc
	st, err := g.look(c, sc, ptr, &pr.snap)
	if err != nil {
		return pr, err
	}
	if err := g.resolve(ctx, c, sc, ptr, st, true); err != nil {
		return pr, err
	}
	keepTok := 0 // token fields that hold tokens already
	for _, t := range st.tok {
		if t.v == vToken {
			keepTok++
		}
	}
	toTok := len(st.tok) - keepTok
	pr.seal = st.clear > 0 || st.bytesEnc > 0
	if toTok == 0 && !pr.seal && st.kept == 0 {
		return pr, nil
	}
	if sc.Subject != nil && sc.SubjectOf(ptr) == "" && (toTok > 0 || pr.seal) {
		return pr, sc.FieldError(ptr, sc.Subject.Path, envelope.ErrEmptySubject)
	}
	// Tokens and kept values are set aside (emptied) while Apply and Seal
	// run, which leave empty values alone, and put back afterwards.
	if keepTok > 0 || st.kept > 0 {
		pr.set = g.setAside(sc, ptr, st)
	}
	if toTok > 0 {
		if err := c.tok.Apply(ctx, ptr); err != nil {
			pr.snap.restore(sc, ptr)
			return pr, err
		}
	}
	return pr, nil
}

// aside is a value setAside emptied: the k-th protected field (in walk
// order) and what goes back into it.
type aside struct {
	k   int
	val string
}

// setAside empties the token fields that hold tokens and the fields that
// hold kept values, and returns what putBack writes back into them: the
// bare token, the sealed text.
func (g *Guard) setAside(sc *pii.Schema, ptr any, st *scan) []aside {
	var out []aside
	ti := 0
	_ = visit(sc, ptr, func(k int, f *pii.Field, _ string, _, v reflect.Value) error {
		sv, ok := stringOf(v)
		if !ok || sv.String() == "" {
			return nil
		}
		if f.Opts.Encrypt != pii.EncryptNone {
			if inner, ok := keptValue(sv.String()); ok {
				out = append(out, aside{k, inner})
				sv.SetString("")
			}
			return nil
		}
		t := st.tok[ti]
		ti++
		if t.v == vToken {
			out = append(out, aside{k, t.bare})
			sv.SetString("")
		}
		return nil
	})
	return out
}

// putBack writes back what setAside emptied.
func putBack(sc *pii.Schema, ptr any, as []aside) {
	i := 0
	_ = visit(sc, ptr, func(k int, _ *pii.Field, _ string, _, v reflect.Value) error {
		if i < len(as) && as[i].k == k {
			if sv, ok := stringOf(v); ok {
				sv.SetString(as[i].val)
			}
			i++
		}
		return nil
	})
}

// Open opens, in place, the sealed fields of the protected struct ptr
// points to (or of every struct of a slice), then reverses, field by
// field, the tokens permit allows (a nil permit reverses none). What it
// leaves is marked so that Protect, View and a later Open know it:
//
//   - a token it does not reverse (refused by permit) is annotated with
//     its format's name and length, "PHONE(15):+1 251-433-9511", which
//     tokenize.FindSurrogates finds;
//   - a value retention may not show (past its retention, or blocked for
//     all but the auditor role: retention.ErrExpired) and a value whose
//     subject was forgotten (envelope.ErrShredded) stays sealed, inside a
//     kept marker, "SEALED(n):pii1.…";
//   - token=hmac pseudonyms stay as they are (they are not reversible).
//
// Open is idempotent, and a second Open with a wider permit reverses the
// tokens the first one left. Protect restores the annotated tokens and
// kept values as they were. Errors name the field and the record; on
// error the struct may be partly opened (Protect then refuses it rather
// than guess).
func (g *Guard) Open(ctx context.Context, ptr any, permit tokenize.Permit) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := g.core(ctx)
	if err != nil {
		return err
	}
	elems, err := structsOf("Open", ptr)
	if err != nil {
		return err
	}
	if len(elems) > 1 {
		if done, err := g.openBatch(ctx, c, ptr, elems, permit); done {
			return err
		}
	}
	for _, p := range elems {
		if err := g.openOne(ctx, c, p, permit); err != nil {
			return err
		}
	}
	return nil
}

// openBatch opens a slice of protected structs with one Sealer.Open, which
// loads the keys of the whole batch together. It declines (done false,
// everything as it was) when a struct is not plainly protected or a value
// cannot be opened (forgotten, refused by retention), leaving those cases
// to openOne.
func (g *Guard) openBatch(ctx context.Context, c *core, ptr any, elems []any, permit tokenize.Permit) (bool, error) {
	type one struct {
		sc   *pii.Schema
		st   *scan
		snap snapshot
	}
	all := make([]one, len(elems))
	for i, p := range elems {
		sc, err := pii.SchemaOf(p)
		if err != nil {
			return false, nil
		}
		all[i].sc = sc
		if all[i].st, err = g.look(c, sc, p, &all[i].snap); err != nil {
			return false, nil
		}
		if all[i].st.evidence() != evProtected || all[i].st.bytesEnc > 0 {
			return false, nil
		}
		if err := g.resolve(ctx, c, sc, p, all[i].st, false); err != nil {
			return false, nil
		}
	}
	if err := g.seal.Open(ctx, ptr); err != nil {
		for i, p := range elems {
			all[i].snap.restore(all[i].sc, p)
		}
		return false, nil
	}
	for i, p := range elems {
		// The sealed values are open: openSealed only readies the tokens.
		rev, err := g.openSealed(ctx, c, all[i].sc, p, all[i].st, func(*pii.Field, string) bool { return true })
		if err != nil {
			return true, err
		}
		if err := g.reverse(ctx, c, all[i].sc, p, rev, permit); err != nil {
			return true, err
		}
	}
	return true, nil
}

// errSkip is what Open's permit wrapper returns for fields that hold no
// token to reverse (a value, or a token already reversed).
var errSkip = errors.New("guard: not a token to reverse")

func (g *Guard) openOne(ctx context.Context, c *core, ptr any, permit tokenize.Permit) error {
	sc, err := pii.SchemaOf(ptr)
	if err != nil {
		return err
	}
	st, err := g.look(c, sc, ptr, nil)
	if err != nil {
		return err
	}
	if err := g.resolve(ctx, c, sc, ptr, st, false); err != nil {
		return err
	}
	rev, err := g.openSealed(ctx, c, sc, ptr, st, func(*pii.Field, string) bool { return true })
	if err != nil {
		return err
	}
	return g.reverse(ctx, c, sc, ptr, rev, permit)
}

// openSealed opens, in place, the sealed fields of ptr that want selects,
// leaving values retention refuses or whose subject was forgotten sealed
// in a kept marker; it strips the annotation of the token fields that
// hold tokens and returns their paths (the tokens there are to reverse).
// Fields want leaves out are emptied: never shown, never opened.
func (g *Guard) openSealed(ctx context.Context, c *core, sc *pii.Schema, ptr any, st *scan, want func(f *pii.Field, path string) bool) (map[string]bool, error) {
	var rev map[string]bool
	b := bindingOf(sc, ptr)
	ti := 0
	err := visit(sc, ptr, func(_ int, f *pii.Field, path string, _, v reflect.Value) error {
		sv, isStr := stringOf(v)
		if f.Opts.Token != "" {
			if !isStr || sv.String() == "" {
				return nil
			}
			t := st.tok[ti]
			ti++
			if !want(f, path) {
				sv.SetString("")
				return nil
			}
			if tokenize.Method(f.Opts.Token) == tokenize.MethodHMAC {
				return nil
			}
			if t.v == vToken {
				sv.SetString(t.bare)
				if rev == nil {
					rev = map[string]bool{}
				}
				rev[path] = true
			}
			return nil
		}
		if f.Opts.Encrypt == pii.EncryptNone {
			return nil
		}
		if !want(f, path) {
			if isStr {
				sv.SetString("")
			} else if v.Kind() == reflect.Slice {
				v.SetBytes(nil)
			}
			return nil
		}
		b.Field = f.Path
		if !isStr {
			return g.openBytes(ctx, c, sc, f, path, ptr, v, b)
		}
		val := sv.String()
		if !sealedtext.IsSealed(val) {
			return nil // clear, or kept already
		}
		if err := c.mgr.ReadCheck(ctx, sc, f, ptr); err != nil {
			if gone(err) {
				sv.SetString(keep(val))
				return nil
			}
			return sc.FieldError(ptr, path, err)
		}
		pt, err := g.seal.DecryptString(ctx, val, b)
		switch {
		case err == nil:
			sv.SetString(pt)
		case gone(err):
			sv.SetString(keep(val))
		default:
			return sc.FieldError(ptr, path, err)
		}
		return nil
	})
	return rev, err
}

// openBytes opens a sealed []byte field; a value that is not sealed is
// left as it is, and so is one that may not be shown.
func (g *Guard) openBytes(ctx context.Context, c *core, sc *pii.Schema, f *pii.Field, path string, ptr any, v reflect.Value, b envelope.Binding) error {
	if v.Kind() != reflect.Slice || v.Len() == 0 {
		return nil
	}
	if err := c.mgr.ReadCheck(ctx, sc, f, ptr); err != nil {
		if gone(err) {
			return nil
		}
		return sc.FieldError(ptr, path, err)
	}
	pt, err := g.seal.DecryptBytes(ctx, v.Bytes(), b)
	switch {
	case err == nil:
		v.SetBytes(pt)
	case gone(err), errors.Is(err, envelope.ErrDecrypt):
	default:
		return sc.FieldError(ptr, path, err)
	}
	return nil
}

// reverse reverses the tokens at the paths in rev that permit allows, and
// annotates the others (and, on an error, every one in rev) so that they
// stay recognisable as tokens.
func (g *Guard) reverse(ctx context.Context, c *core, sc *pii.Schema, ptr any, rev map[string]bool, permit tokenize.Permit) error {
	if len(rev) == 0 {
		return nil
	}
	err := c.tok.Reverse(ctx, ptr, func(ctx context.Context, f *pii.Field, path string) error {
		if !rev[path] {
			return errSkip
		}
		if permit == nil {
			return errors.New("no permit")
		}
		return permit(ctx, f, path)
	})
	var re *tokenize.RefusedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &re):
		left := map[string]bool{}
		for _, fe := range re.Fields {
			if !errors.Is(fe, errSkip) {
				left[fe.Path] = true
			}
		}
		g.annotate(c, sc, ptr, left)
		return nil
	default:
		g.annotate(c, sc, ptr, rev)
		return err
	}
}

// annotate marks the tokens at the given paths with their format's name.
func (g *Guard) annotate(c *core, sc *pii.Schema, ptr any, paths map[string]bool) {
	if len(paths) == 0 {
		return
	}
	_ = visit(sc, ptr, func(_ int, f *pii.Field, path string, _, v reflect.Value) error {
		if !paths[path] {
			return nil
		}
		if sv, ok := stringOf(v); ok && sv.String() != "" {
			if a, err := tokenize.Annotate(c.tok.FormatFor(f.Category).Name(), sv.String()); err == nil {
				sv.SetString(a)
			}
		}
		return nil
	})
}

// View turns the protected struct ptr points to into what viewer may see,
// in place, as mask's views decide from the tags and Options.Views:
// fields the viewer may see (masked or in clear) are opened and their
// tokens reversed, then masked as the policy says; denied fields are
// emptied without being opened. Values retention refuses to show and
// values of a forgotten subject are emptied. View never shows sealed text
// and never returns a token where the policy shows a value. A struct
// returned by Open views the same.
func (g *Guard) View(ctx context.Context, viewer mask.Viewer, ptr any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := g.core(ctx)
	if err != nil {
		return err
	}
	return eachStruct("View", ptr, func(p any) error { return g.viewOne(ctx, c, viewer, p) })
}

func (g *Guard) viewOne(ctx context.Context, c *core, viewer mask.Viewer, ptr any) error {
	sc, err := pii.SchemaOf(ptr)
	if err != nil {
		return err
	}
	var snap snapshot
	st, err := g.look(c, sc, ptr, &snap)
	if err != nil {
		return err
	}
	out, err := g.viewOf(ctx, c, sc, st, viewer, ptr)
	// The opened values never outlive the call in ptr's own slices and
	// maps: ptr gets the view's copy, over its restored self.
	snap.restore(sc, ptr)
	if err != nil {
		return err
	}
	reflect.ValueOf(ptr).Elem().Set(reflect.ValueOf(out).Elem())
	return nil
}

func (g *Guard) viewOf(ctx context.Context, c *core, sc *pii.Schema, st *scan, viewer mask.Viewer, ptr any) (any, error) {
	if err := g.resolve(ctx, c, sc, ptr, st, false); err != nil {
		return nil, err
	}
	shown := func(f *pii.Field, _ string) bool {
		return g.views.Decide(f, viewer.Role, viewer.Channel).Action != mask.ActionDeny
	}
	rev, err := g.openSealed(ctx, c, sc, ptr, st, shown)
	if err != nil {
		return nil, err
	}
	// The policy is the permit: every token of a shown field is reversed
	// (then masked as the policy says).
	if err := reverseAll(ctx, c, ptr, rev); err != nil {
		return nil, err
	}
	// What stayed sealed (kept) may not be shown: empty it.
	_ = visit(sc, ptr, func(_ int, f *pii.Field, _ string, _, v reflect.Value) error {
		if sv, ok := stringOf(v); ok && f.Opts.Encrypt != pii.EncryptNone && isKept(sv.String()) {
			sv.SetString("")
		}
		return nil
	})
	// Styles mask an empty value too (to a placeholder); an empty field
	// (never set, denied, erased, or not to be shown) stays empty.
	var empty []int
	k := 0
	_ = sc.Walk(ptr, func(_ *pii.Field, _ string, _, v reflect.Value) error {
		if sv, ok := stringOf(v); ok && sv.String() == "" {
			empty = append(empty, k)
		}
		k++
		return nil
	})
	out, err := g.views.ViewAny(ctx, viewer, ptr)
	if err != nil || len(empty) == 0 {
		return out, err
	}
	k, i := 0, 0
	_ = sc.Walk(out, func(_ *pii.Field, _ string, _, v reflect.Value) error {
		if i < len(empty) && empty[i] == k {
			if sv, ok := stringOf(v); ok {
				sv.SetString("")
			}
			i++
		}
		k++
		return nil
	})
	return out, nil
}

// reverseAll reverses the tokens at the paths in rev, and no other field.
func reverseAll(ctx context.Context, c *core, ptr any, rev map[string]bool) error {
	if len(rev) == 0 {
		return nil
	}
	err := c.tok.Reverse(ctx, ptr, func(_ context.Context, _ *pii.Field, path string) error {
		if !rev[path] {
			return errSkip
		}
		return nil
	})
	var re *tokenize.RefusedError
	if err != nil && !errors.As(err, &re) {
		return err
	}
	return nil
}

// Reveal returns the clear value of one field (schema path "Phone" or
// concrete path "Contacts[1].Phone") of the protected struct ptr points to
// (or of one returned by Open) to a viewer the policy lets reveal it
// (reveal= in the tag, or a rule), for a stated reason, through mask's
// audited reveal: the attempt is recorded in the audit sink, refused ones
// too, and nothing is revealed if the sink fails. The struct is left as it
// was; only that field is opened, and only for the call.
func (g *Guard) Reveal(ctx context.Context, viewer mask.Viewer, ptr any, field, reason string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	c, err := g.core(ctx)
	if err != nil {
		return "", err
	}
	sc, err := pii.SchemaOf(ptr)
	if err != nil {
		return "", err
	}
	var snap snapshot
	st, err := g.look(c, sc, ptr, &snap)
	if err != nil {
		return "", err
	}
	defer snap.restore(sc, ptr)
	if err := g.resolve(ctx, c, sc, ptr, st, false); err != nil {
		return "", err
	}
	one := func(f *pii.Field, path string) bool { return path == field || f.Path == field }
	rev, err := g.openSealed(ctx, c, sc, ptr, st, one)
	if err != nil {
		return "", err
	}
	if err := reverseAll(ctx, c, ptr, rev); err != nil {
		return "", err
	}
	return g.views.Reveal(ctx, viewer, ptr, field, reason)
}
