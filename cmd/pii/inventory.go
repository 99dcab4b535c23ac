package main

import (
	"context"
	"errors"
	"fmt"
	"go/token"
	"go/types"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/tools/go/packages"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/internal/srcschema"
)

// inventory is the data inventory read from source: the report
// pii.Inventory gives at run time, for every tagged type of the packages,
// with where each type and warning is declared, and the tags that do not
// parse.
type inventory struct {
	*pii.Report
	Errors []tagError `json:"errors"`
}

// tagError is a malformed tag, as pii.SchemaOf would report it at run
// time, with its position.
type tagError struct {
	Source string `json:"source"`
	Error  string `json:"error"`
}

func inventoryCmd(e *env) *cobra.Command {
	var format, out, dir string
	var tests bool
	cmd := &cobra.Command{
		Use:   "inventory [packages]",
		Short: "Report the personal data the code holds, read from its pii tags",
		Long: `inventory reads the pii tags of every struct in the Go packages named (default
./...) without running the program, with the library's own tag parser, and
writes the data inventory pii.Inventory gives at run time: which types hold
which categories, how each field is protected, for how long and why, and
warnings for untagged fields that look personal.

Types that another tagged type dives into or embeds are reported inside it,
unless they have a subject or id field of their own. Names given with
pii.Register(T{}, "name") are used.

Formats: markdown (with a Mermaid diagram), json, csv, html (one
self-contained page: diagram, sortable table, warnings). A malformed tag is
reported with its position and the command exits with code 3.`,
		Example: `  pii inventory ./...
  pii inventory --format html -o inventory.html ./...
  pii inventory --format csv ./internal/... > inventory.csv`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if e.json {
				format = "json"
			}
			render, ok := renderers[format]
			if !ok {
				return usageErr("--format %q: want markdown, json, csv or html", format)
			}
			if len(args) == 0 {
				args = []string{"./..."}
			}
			inv, err := loadInventory(cmd.Context(), dir, args, tests)
			if err != nil {
				return err
			}
			w := e.stdout
			if out != "" && out != "-" {
				f, err := os.Create(out)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			if err := render(w, inv); err != nil {
				return err
			}
			if out != "" && out != "-" {
				if err := w.(*os.File).Close(); err != nil {
					return err
				}
			}
			for _, te := range inv.Errors {
				fmt.Fprintf(e.stderr, "%s: %s\n", te.Source, te.Error)
			}
			if len(inv.Errors) > 0 {
				return findings()
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "markdown", "output format: markdown, json, csv or html")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of standard output")
	cmd.Flags().StringVar(&dir, "dir", "", "directory to resolve the packages in (default: the current one)")
	cmd.Flags().BoolVar(&tests, "tests", false, "include the types declared in test files")
	return cmd
}

// loadInventory loads the packages patterns name and builds their
// inventory.
func loadInventory(ctx context.Context, dir string, patterns []string, tests bool) (*inventory, error) {
	pkgs, err := loadPackages(ctx, dir, patterns, tests)
	if err != nil {
		return nil, err
	}
	names := map[*types.TypeName]string{}
	for _, p := range pkgs {
		srcschema.RegisteredNames(p.TypesInfo, p.Syntax, names)
	}
	return buildInventory(pkgs, names, cwd(dir)), nil
}

// loadPackages loads the Go packages patterns name, with their syntax and
// types, sorted by ID; a package that does not load is a usage error.
func loadPackages(ctx context.Context, dir string, patterns []string, tests bool) ([]*packages.Package, error) {
	cfg := &packages.Config{
		Context: ctx,
		Dir:     dir,
		Tests:   tests,
		Mode: packages.NeedName | packages.NeedFiles | packages.NeedSyntax | packages.NeedTypes |
			packages.NeedTypesInfo | packages.NeedImports,
	}
	pkgs, err := packages.Load(cfg, patterns...)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("load packages: %v", err)
	}
	var loadErrs []string
	packages.Visit(pkgs, nil, func(p *packages.Package) {
		for _, e := range p.Errors {
			loadErrs = append(loadErrs, e.Error())
		}
	})
	if len(loadErrs) > 0 {
		more := ""
		if len(loadErrs) > 1 {
			more = fmt.Sprintf(" (and %d more errors)", len(loadErrs)-1)
		}
		return nil, &exitError{code: exitUsage, err: fmt.Errorf("load packages: %s%s", loadErrs[0], more)}
	}
	if len(pkgs) == 0 {
		return nil, usageErr("no packages match %s", strings.Join(patterns, " "))
	}
	if tests {
		// With Tests, "p [p.test]" (p with its test files) replaces "p";
		// the generated test main "p.test" declares nothing of interest.
		ids := map[string]bool{}
		for _, p := range pkgs {
			ids[p.ID] = true
		}
		pkgs = slices.DeleteFunc(pkgs, func(p *packages.Package) bool {
			return strings.HasSuffix(p.ID, ".test") || ids[p.ID+" ["+p.PkgPath+".test]"]
		})
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].ID < pkgs[j].ID })
	return pkgs, nil
}

type candidate struct {
	named  *types.Named
	fset   *token.FileSet
	schema *pii.Schema
}

func buildInventory(pkgs []*packages.Package, names map[*types.TypeName]string, base string) *inventory {
	inv := &inventory{Errors: []tagError{}}
	var ts srcschema.Types
	var cands []candidate
	parts := map[*types.TypeName]bool{}
	for _, p := range pkgs {
		scope := p.Types.Scope()
		var objs []*types.TypeName
		for _, n := range scope.Names() {
			tn, ok := scope.Lookup(n).(*types.TypeName)
			if !ok || tn.IsAlias() {
				continue
			}
			named, ok := tn.Type().(*types.Named)
			if !ok || named.TypeParams().Len() > 0 {
				continue
			}
			if _, ok := named.Underlying().(*types.Struct); !ok || !srcschema.Tagged(named) {
				continue
			}
			objs = append(objs, tn)
		}
		sort.Slice(objs, func(i, j int) bool { return objs[i].Pos() < objs[j].Pos() })
		for _, tn := range objs {
			named := tn.Type().(*types.Named)
			for _, part := range srcschema.Parts(named) {
				parts[part.Obj()] = true
			}
			s, err := srcschema.Schema(ts.Of(named), names[tn])
			if err != nil {
				pos := tn.Pos()
				var fe *pii.FieldError
				if errors.As(err, &fe) {
					if fp := srcschema.FieldPos(named, fe.Path); fp.IsValid() {
						pos = fp
					}
				}
				inv.Errors = append(inv.Errors, tagError{Source: position(p.Fset, pos, base), Error: err.Error()})
				continue
			}
			cands = append(cands, candidate{named: named, fset: p.Fset, schema: s})
		}
	}
	cands = slices.DeleteFunc(cands, func(c candidate) bool {
		return parts[c.named.Obj()] && c.schema.Subject == nil && c.schema.ID == nil
	})
	schemas := make([]*pii.Schema, len(cands))
	for i, c := range cands {
		schemas[i] = c.schema
	}
	inv.Report = srcschema.Inventory(schemas...)
	w := 0
	for i, c := range cands {
		inv.Types[i].Source = position(c.fset, c.named.Obj().Pos(), base)
		// Inventory lists warnings type by type, in order.
		for _, one := range srcschema.Inventory(c.schema).Warnings {
			if w < len(inv.Warnings) && inv.Warnings[w].Field == one.Field {
				inv.Warnings[w].Source = position(c.fset, srcschema.FieldPos(c.named, one.Field), base)
				w++
			}
		}
	}
	return inv
}

func cwd(dir string) string {
	if dir != "" {
		if abs, err := filepath.Abs(dir); err == nil {
			return abs
		}
	}
	wd, _ := os.Getwd()
	return wd
}

// position prints pos as file:line, the file relative to base when under it.
func position(fset *token.FileSet, pos token.Pos, base string) string {
	if !pos.IsValid() {
		return ""
	}
	p := fset.Position(pos)
	file := p.Filename
	if rel, err := filepath.Rel(base, file); err == nil && !strings.HasPrefix(rel, "..") {
		file = rel
	}
	return fmt.Sprintf("%s:%d", filepath.ToSlash(file), p.Line)
}

var renderers = map[string]func(io.Writer, *inventory) error{
	"markdown": renderMarkdown,
	"md":       renderMarkdown,
	"json":     renderJSON,
	"csv":      renderCSV,
	"html":     renderHTML,
}
