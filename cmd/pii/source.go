package main

import (
	"context"
	"fmt"
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"
	"reflect"
	"sort"
	"strings"

	"golang.org/x/tools/go/packages"
	"golang.org/x/tools/go/types/typeutil"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/guard"
	"github.com/fieldguard/pii/internal/sqlmap"
	"github.com/fieldguard/pii/internal/srcschema"
)

// The commands that work on an application's tables (verify, forget,
// export, sweep, rotate, breach-report, migrate) have no Go types to
// register with the Guard: they read them from the application's source,
// as inventory does, and rebuild each at run time (srcschema.Rebuild:
// reflect.StructOf with the same fields and tags, named with pii.Register
// as the program names it), so that associated data, tokens and blind
// indexes match what the program wrote.
//
// Which table holds which type is read from the program's
// guard.NewTable[T](g, &guard.TableOptions{...}) calls whose options are
// constants, or given with --table NAME=TYPE.

// tableSpec is one table the command registers with the Guard.
type tableSpec struct {
	opts   guard.TableOptions // Table, ID, Created, Columns
	obj    *types.TypeName
	name   string // the schema name: pii.Register's, or the Go name
	source string // file:line of the NewTable call, or of the type
	rt     reflect.Type
	// columns are those the type maps to.
	columns []string
}

// source is what the command read from the program's packages.
type source struct {
	pkgs  []*packages.Package
	base  string
	names map[*types.TypeName]string
	// found are the NewTable calls whose options are constants.
	found []tableSpec
	// unread are the registrations the command cannot reproduce: NewTable
	// calls with options that are not constants, and Guard.Register calls
	// (stores of the program's own).
	unread []string
}

const guardPath = srcschema.Module + "/guard"

// readSource loads the packages and finds the tables they register.
func readSource(ctx context.Context, dir string, patterns []string) (*source, error) {
	pkgs, err := loadPackages(ctx, dir, patterns, false)
	if err != nil {
		return nil, err
	}
	s := &source{pkgs: pkgs, base: cwd(dir), names: map[*types.TypeName]string{}}
	for _, p := range pkgs {
		srcschema.RegisteredNames(p.TypesInfo, p.Syntax, s.names)
	}
	for _, p := range pkgs {
		for _, f := range p.Syntax {
			ast.Inspect(f, func(n ast.Node) bool {
				if call, ok := n.(*ast.CallExpr); ok {
					s.call(p, call)
				}
				return true
			})
		}
	}
	return s, nil
}

// call records a guard.NewTable call, or a registration it cannot read.
func (s *source) call(p *packages.Package, call *ast.CallExpr) {
	fn, ok := typeutil.Callee(p.TypesInfo, call).(*types.Func)
	if !ok {
		return
	}
	if fn.Origin() != nil {
		fn = fn.Origin()
	}
	pos := position(p.Fset, call.Pos(), s.base)
	switch fn.FullName() {
	case guardPath + ".NewTable":
	case "(*" + guardPath + ".Guard).Register":
		s.unread = append(s.unread, pos+": "+fn.Name()+" registers a store of the program's own")
		return
	default:
		return
	}
	obj := typeArg(p.TypesInfo, call.Fun)
	if obj == nil || len(call.Args) != 2 {
		s.unread = append(s.unread, pos+": a NewTable call the command cannot read")
		return
	}
	opts, ok := constOptions(p.TypesInfo, call.Args[1])
	if !ok {
		s.unread = append(s.unread, fmt.Sprintf("%s: NewTable[%s] with options that are not constants (name its table with --table NAME=%s)", pos, obj.Name(), obj.Name()))
		return
	}
	if opts.Table == "" {
		opts.Table = sqlmap.Snake(obj.Name())
	}
	s.found = append(s.found, tableSpec{opts: opts, obj: obj, source: pos})
}

// typeArg returns the type argument of NewTable[T], when T is a defined
// struct type.
func typeArg(info *types.Info, fun ast.Expr) *types.TypeName {
	switch x := fun.(type) {
	case *ast.IndexExpr:
		fun = x.X
	case *ast.IndexListExpr:
		fun = x.X
	}
	var id *ast.Ident
	switch x := fun.(type) {
	case *ast.Ident:
		id = x
	case *ast.SelectorExpr:
		id = x.Sel
	}
	inst, ok := info.Instances[id]
	if id == nil || !ok || inst.TypeArgs.Len() != 1 {
		return nil
	}
	n, ok := types.Unalias(inst.TypeArgs.At(0)).(*types.Named)
	if !ok || n.TypeArgs().Len() > 0 {
		return nil
	}
	if _, ok := n.Underlying().(*types.Struct); !ok {
		return nil
	}
	return n.Obj()
}

// constOptions reads nil or &guard.TableOptions{...} whose Table, ID,
// Created and Columns are constants (Permit and AcceptPlaintext do not
// matter here).
func constOptions(info *types.Info, e ast.Expr) (guard.TableOptions, bool) {
	var o guard.TableOptions
	e = ast.Unparen(e)
	if tv, ok := info.Types[e]; ok && tv.IsNil() {
		return o, true
	}
	u, ok := e.(*ast.UnaryExpr)
	if !ok || u.Op != token.AND {
		return o, false
	}
	lit, ok := ast.Unparen(u.X).(*ast.CompositeLit)
	if !ok {
		return o, false
	}
	str := func(e ast.Expr) (string, bool) {
		tv, ok := info.Types[e]
		if !ok || tv.Value == nil || tv.Value.Kind() != constant.String {
			return "", false
		}
		return constant.StringVal(tv.Value), true
	}
	for _, elt := range lit.Elts {
		kv, ok := elt.(*ast.KeyValueExpr)
		if !ok {
			return o, false
		}
		key, _ := kv.Key.(*ast.Ident)
		if key == nil {
			return o, false
		}
		switch key.Name {
		case "Table", "ID", "Created":
			v, ok := str(kv.Value)
			if !ok {
				return o, false
			}
			*map[string]*string{"Table": &o.Table, "ID": &o.ID, "Created": &o.Created}[key.Name] = v
		case "Columns":
			m, ok := ast.Unparen(kv.Value).(*ast.CompositeLit)
			if !ok {
				return o, false
			}
			o.Columns = map[string]string{}
			for _, elt := range m.Elts {
				kv, ok := elt.(*ast.KeyValueExpr)
				if !ok {
					return o, false
				}
				k, ok1 := str(kv.Key)
				v, ok2 := str(kv.Value)
				if !ok1 || !ok2 {
					return o, false
				}
				o.Columns[k] = v
			}
		}
	}
	return o, true
}

// lookupType finds the tagged struct type name names: Name, pkg.Name or
// import/path.Name.
func (s *source) lookupType(name string) (*types.TypeName, error) {
	var matches []*types.TypeName
	for _, p := range s.pkgs {
		scope := p.Types.Scope()
		for _, n := range scope.Names() {
			tn, ok := scope.Lookup(n).(*types.TypeName)
			if !ok || tn.IsAlias() {
				continue
			}
			if _, ok := tn.Type().Underlying().(*types.Struct); !ok {
				continue
			}
			if name == n || name == p.Name+"."+n || name == p.PkgPath+"."+n {
				matches = append(matches, tn)
			}
		}
	}
	switch len(matches) {
	case 0:
		return nil, usageErr("--table: no struct type %s in the packages of --pkg", name)
	case 1:
		return matches[0], nil
	}
	var alts []string
	for _, m := range matches {
		alts = append(alts, m.Pkg().Path()+"."+m.Name())
	}
	sort.Strings(alts)
	return nil, usageErr("--table: %s is ambiguous: %s", name, strings.Join(alts, ", "))
}

// tables returns the tables to register: those --table names (NAME=TYPE,
// or NAME alone for a table the source registers), else every table the
// source registers.
func (s *source) tables(flags []string) ([]tableSpec, error) {
	var out []tableSpec
	if len(flags) == 0 {
		if len(s.found) == 0 {
			return nil, usageErr("the packages of --pkg call guard.NewTable with no constant options; name the tables with --table NAME=TYPE")
		}
		out = append(out, s.found...)
	}
	for _, fl := range flags {
		table, typ, explicit := strings.Cut(fl, "=")
		var spec *tableSpec
		for i := range s.found {
			if s.found[i].opts.Table == table {
				spec = &s.found[i]
			}
		}
		switch {
		case explicit:
			tn, err := s.lookupType(typ)
			if err != nil {
				return nil, err
			}
			sp := tableSpec{opts: guard.TableOptions{Table: table}, obj: tn, source: position(s.pkgs[0].Fset, tn.Pos(), s.base)}
			if spec != nil && spec.obj == tn {
				sp = *spec // the source's mapping of the same table and type
			}
			out = append(out, sp)
		case spec != nil:
			out = append(out, *spec)
		default:
			return nil, usageErr("--table %s: the packages of --pkg register no such table; give its type: --table %s=TYPE", table, table)
		}
	}
	seen := map[string]bool{}
	for _, t := range out {
		if seen[t.opts.Table] {
			return nil, usageErr("--table %s: named twice", t.opts.Table)
		}
		seen[t.opts.Table] = true
	}
	return out, nil
}

// rebuild makes the run-time type of each table's Go type, named as the
// program names it, and checks that pii reads it as it reads the source.
func (s *source) rebuild(specs []tableSpec) error {
	var ts srcschema.Types
	for i := range specs {
		sp := &specs[i]
		sp.name = s.names[sp.obj]
		if sp.name == "" {
			sp.name = sp.obj.Name()
		}
		src, err := srcschema.Schema(ts.Of(sp.obj.Type()), sp.name)
		if err != nil {
			return usageErr("%s: %v", sp.source, err)
		}
		rt, err := srcschema.Rebuild(sp.obj.Type())
		if err != nil {
			return usageErr("%s: %v", sp.source, err)
		}
		if err := pii.Register(reflect.New(rt).Interface(), sp.name); err != nil {
			return usageErr("%s: %v", sp.source, err)
		}
		run, err := pii.SchemaOf(rt)
		if err != nil {
			return usageErr("%s: %s rebuilt: %v", sp.source, sp.name, err)
		}
		if err := srcschema.SameSchema(src, run); err != nil {
			return usageErr("%s: %v", sp.source, err)
		}
		m, err := sqlmap.New(run, sqlmap.Mapping{Table: sp.opts.Table, ID: sp.opts.ID, Created: sp.opts.Created, Columns: sp.opts.Columns})
		if err != nil {
			return usageErr("%s: table %s: %v", sp.source, sp.opts.Table, err)
		}
		for _, c := range m.Cols {
			sp.columns = append(sp.columns, c.Name)
		}
		sp.rt = rt
	}
	return nil
}
