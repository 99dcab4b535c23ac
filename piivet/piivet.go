// Package piivet defines an Analyzer that checks the `pii` struct tags of
// github.com/fieldguard/pii at build time, with the library's own tag
// parser, and finds tagged values printed or logged without redaction.
//
// # Analyzer piivet
//
// piivet: check pii struct tags and unredacted personal data in logs
//
// It reports:
//
//   - a malformed `pii` tag, or one that does not fit its field, with the
//     message pii.SchemaOf gives at run time (unknown categories and
//     options, encrypt or token on a field that cannot hold a ciphertext or
//     a token, a from= clock that is not a time.Time, a dive into a
//     non-struct, a second subject, ...);
//   - an untagged field that looks personal (the heuristic of the data
//     inventory: names such as Email, Phone, BirthDate, ClientIP, and net.IP
//     or netip.Addr values) in a type that holds personal data;
//   - a mask= style on a field that is not a string or []byte (or a
//     time.Time with mask=date): a view shows such a field as its zero value;
//   - a tagged personal-data field (c.Email), or a value of a type that
//     holds one (c, &c, []Customer), passed to fmt's, log's or log/slog's
//     printing and logging functions, unless wrapped with mask.Redacted (or
//     of a type that formats itself: fmt.Formatter for fmt and log,
//     slog.LogValuer for slog).
//
// Run it with go vet or on its own:
//
//	go install github.com/fieldguard/pii/cmd/piivet@latest
//	go vet -vettool=$(which piivet) ./...
//	piivet ./...
package piivet

import (
	"errors"
	"go/ast"
	"go/token"
	"go/types"
	"reflect"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"
	"golang.org/x/tools/go/types/typeutil"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/internal/srcschema"
	"github.com/fieldguard/pii/internal/typeinfo"
)

// Analyzer checks pii tags and unredacted personal data in logs.
var Analyzer = &analysis.Analyzer{
	Name:     "piivet",
	Doc:      "check pii struct tags and unredacted personal data in logs\n\nSee https://pkg.go.dev/github.com/fieldguard/pii/piivet.",
	URL:      "https://pkg.go.dev/github.com/fieldguard/pii/piivet",
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run:      run,
}

type checker struct {
	pass    *analysis.Pass
	types   srcschema.Types
	schemas map[types.Type]*pii.Schema // nil: holds no personal data, or its tags fail
	files   map[*token.File]bool
}

func run(pass *analysis.Pass) (any, error) {
	c := &checker{pass: pass, schemas: map[types.Type]*pii.Schema{}, files: map[*token.File]bool{}}
	for _, f := range pass.Files {
		c.files[pass.Fset.File(f.Pos())] = true
	}
	ins := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
	ins.Preorder([]ast.Node{(*ast.TypeSpec)(nil), (*ast.CallExpr)(nil)}, func(n ast.Node) {
		switch n := n.(type) {
		case *ast.TypeSpec:
			c.typeSpec(n)
		case *ast.CallExpr:
			c.call(n)
		}
	})
	return nil, nil
}

// here reports whether pos is in the package being checked.
func (c *checker) here(pos token.Pos) bool {
	return pos.IsValid() && c.files[c.pass.Fset.File(pos)]
}

// at returns pos when it is in this package, else fallback.
func (c *checker) at(pos, fallback token.Pos) token.Pos {
	if c.here(pos) {
		return pos
	}
	return fallback
}

func (c *checker) typeSpec(ts *ast.TypeSpec) {
	if ts.TypeParams != nil || ts.Assign.IsValid() {
		return
	}
	obj, ok := c.pass.TypesInfo.Defs[ts.Name].(*types.TypeName)
	if !ok {
		return
	}
	named, ok := obj.Type().(*types.Named)
	if !ok {
		return
	}
	if _, ok := named.Underlying().(*types.Struct); !ok || !srcschema.Tagged(named) {
		return
	}
	s, err := srcschema.Schema(c.types.Of(named), "")
	if err != nil {
		pos := ts.Name.Pos()
		var fe *pii.FieldError
		if errors.As(err, &fe) {
			pos = c.at(srcschema.FieldPos(named, fe.Path), pos)
		}
		c.pass.Reportf(pos, "%s", err)
		return
	}
	for _, w := range srcschema.Inventory(s).Warnings {
		if pos := srcschema.FieldPos(named, w.Field); c.here(pos) {
			c.pass.Reportf(pos, "pii: %s.%s is not tagged but %s", obj.Name(), w.Field, w.Reason)
		}
	}
	for _, f := range s.Fields {
		v := srcschema.FieldVar(named, f.Path)
		if v == nil || !c.here(v.Pos()) || f.Opts.Mask == "" || maskable(v.Type(), f.Opts.Mask) {
			continue
		}
		c.pass.Reportf(v.Pos(), "pii: %s.%s: mask=%s needs a string or []byte field (a view shows a %s as its zero value)",
			obj.Name(), f.Path, f.Opts.Mask, types.TypeString(v.Type(), types.RelativeTo(c.pass.Pkg)))
	}
}

// maskable reports whether a view can show a field of type t through a
// masking style, as mask's views do: strings and []byte, and time.Time
// with the date style.
func maskable(t types.Type, style string) bool {
	if p, ok := t.Underlying().(*types.Pointer); ok {
		t = p.Elem()
	}
	switch srcschema.Kind(t) {
	case reflect.String:
		return true
	case reflect.Slice:
		return srcschema.Kind(t.Underlying().(*types.Slice).Elem()) == reflect.Uint8
	}
	n, ok := types.Unalias(t).(*types.Named)
	return ok && style == "date" && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == "time" && n.Obj().Name() == "Time"
}

// sinks are the printing and logging functions checked, by full name;
// the value says which redaction interface a type may implement instead.
var sinks = map[string]string{}

func init() {
	for _, n := range []string{"Print", "Printf", "Println", "Sprint", "Sprintf", "Sprintln", "Fprint", "Fprintf",
		"Fprintln", "Errorf", "Append", "Appendf", "Appendln"} {
		sinks["fmt."+n] = "fmt"
	}
	for _, n := range []string{"Print", "Printf", "Println", "Fatal", "Fatalf", "Fatalln", "Panic", "Panicf", "Panicln", "Output"} {
		sinks["log."+n] = "fmt"
		sinks["(*log.Logger)."+n] = "fmt"
	}
	for _, n := range []string{"Debug", "Info", "Warn", "Error", "DebugContext", "InfoContext", "WarnContext",
		"ErrorContext", "Log", "LogAttrs", "With"} {
		sinks["log/slog."+n] = "slog"
		sinks["(*log/slog.Logger)."+n] = "slog"
	}
	for _, n := range []string{"Any", "String", "Group", "AnyValue", "StringValue", "GroupValue"} {
		sinks["log/slog."+n] = "slog"
	}
}

func (c *checker) call(call *ast.CallExpr) {
	fn, ok := typeutil.Callee(c.pass.TypesInfo, call).(*types.Func)
	if !ok {
		return
	}
	kind, ok := sinks[fn.FullName()]
	if !ok {
		return
	}
	name := fn.Pkg().Name() + "." + fn.Name()
	if recv := fn.Signature().Recv(); recv != nil {
		name = "(" + types.TypeString(recv.Type(), (*types.Package).Name) + ")." + fn.Name()
	}
	for _, arg := range call.Args {
		arg = ast.Unparen(arg)
		if field, cat := c.taggedField(arg); field != "" {
			c.pass.Reportf(arg.Pos(), "pii: %s (category %s) passed to %s; log mask.Redacted(v) of its struct, or leave it out", field, cat, name)
			continue
		}
		t := c.pass.TypesInfo.TypeOf(arg)
		if t == nil {
			continue
		}
		if holder := c.holder(t, kind); holder != "" {
			c.pass.Reportf(arg.Pos(), "pii: %s holds personal data and is passed to %s unredacted; wrap it with mask.Redacted", holder, name)
		}
	}
}

// taggedField returns "Type.Field" and the category when e selects a
// personal-data field tagged with a category.
func (c *checker) taggedField(e ast.Expr) (string, string) {
	if u, ok := e.(*ast.StarExpr); ok {
		e = ast.Unparen(u.X)
	}
	if u, ok := e.(*ast.UnaryExpr); ok && u.Op == token.AND {
		e = ast.Unparen(u.X)
	}
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return "", ""
	}
	selection := c.pass.TypesInfo.Selections[sel]
	if selection == nil || selection.Kind() != types.FieldVal {
		return "", ""
	}
	t := selection.Recv()
	idx := selection.Index()
	for i, x := range idx {
		if p, ok := t.Underlying().(*types.Pointer); ok {
			t = p.Elem()
		}
		st, ok := t.Underlying().(*types.Struct)
		if !ok {
			return "", ""
		}
		if i < len(idx)-1 {
			t = st.Field(x).Type()
			continue
		}
		tag, ok := reflect.StructTag(st.Tag(x)).Lookup("pii")
		if !ok {
			return "", ""
		}
		cat, ok := typeinfo.DataCategory(tag)
		if !ok {
			return "", ""
		}
		owner := types.TypeString(t, types.RelativeTo(c.pass.Pkg))
		return owner + "." + st.Field(x).Name(), cat
	}
	return "", ""
}

// holder returns the name of the struct type holding personal data that a
// value of type t is or contains (through pointers, slices, arrays and
// maps), or "" when there is none or the value redacts itself.
func (c *checker) holder(t types.Type, kind string) string {
	for range 16 { // bounded: type L []L is its own element
		if redacts(t, kind) {
			return ""
		}
		e, ok := srcschema.Elem(t)
		if !ok {
			break
		}
		t = e
	}
	n, ok := types.Unalias(t).(*types.Named)
	if !ok || c.schema(n) == nil {
		return ""
	}
	return types.TypeString(n, types.RelativeTo(c.pass.Pkg))
}

// redacts reports whether values of t (or *t) format themselves: a Format
// method of fmt.Formatter for fmt and log, a LogValue method of
// slog.LogValuer for slog. What mask.Redacted returns has both.
func redacts(t types.Type, kind string) bool {
	method, param := "Format", "fmt.State"
	if kind == "slog" {
		method, param = "LogValue", ""
	}
	obj, _, _ := types.LookupFieldOrMethod(t, true, nil, method)
	fn, ok := obj.(*types.Func)
	if !ok {
		return false
	}
	sig := fn.Signature()
	if param == "" {
		return sig.Params().Len() == 0 && sig.Results().Len() == 1 && isNamed(sig.Results().At(0).Type(), "log/slog", "Value")
	}
	return sig.Params().Len() == 2 && isNamed(sig.Params().At(0).Type(), "fmt", "State")
}

func isNamed(t types.Type, pkg, name string) bool {
	n, ok := types.Unalias(t).(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == pkg && n.Obj().Name() == name
}

// schema returns the schema of n when it holds personal data.
func (c *checker) schema(n *types.Named) *pii.Schema {
	if s, ok := c.schemas[n]; ok {
		return s
	}
	var s *pii.Schema
	if _, isStruct := n.Underlying().(*types.Struct); isStruct && n.TypeParams().Len() == 0 && srcschema.Tagged(n) {
		if got, err := srcschema.Schema(c.types.Of(n), ""); err == nil && len(got.Fields) > 0 {
			s = got
		}
	}
	c.schemas[n] = s
	return s
}
