// Command apicount prints the exported identifiers of each library package:
// top-level constants, variables, functions and types, and the exported
// methods of exported types. Test files, examples, commands and internal
// packages are not counted: they are not API.
//
//	go run ./internal/apicount          a table, one package a line
//	go run ./internal/apicount -v       the identifiers too
package main

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

func main() {
	verbose := flag.Bool("v", false, "list the identifiers")
	flag.Parse()
	counts := map[string][]string{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "internal" ||
			d.Name() == "examples" || d.Name() == "cmd") {
			return filepath.SkipDir
		}
		if path != "." {
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir // a nested module
			}
		}
		ids, err := exported(path)
		if err != nil {
			return err
		}
		if len(ids) > 0 {
			counts[path] = ids
		}
		return nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "apicount:", err)
		os.Exit(1)
	}
	pkgs := make([]string, 0, len(counts))
	total := 0
	for p, ids := range counts {
		pkgs = append(pkgs, p)
		total += len(ids)
	}
	slices.Sort(pkgs)
	for _, p := range pkgs {
		name := "pii"
		if p != "." {
			name = p
		}
		fmt.Printf("%-28s %4d\n", name, len(counts[p]))
		if *verbose {
			for _, id := range counts[p] {
				fmt.Printf("    %s\n", id)
			}
		}
	}
	fmt.Printf("%-28s %4d\n", "total", total)
}

// exported returns the sorted exported identifiers of the non-test Go files
// in dir.
func exported(dir string) ([]string, error) {
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		if f.Name.Name == "main" {
			return nil, nil
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				if d.Recv == nil {
					ids = append(ids, d.Name.Name)
					continue
				}
				if recv := recvName(d.Recv.List[0].Type); ast.IsExported(recv) {
					ids = append(ids, recv+"."+d.Name.Name)
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() {
							ids = append(ids, s.Name.Name)
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if n.IsExported() {
								ids = append(ids, n.Name)
							}
						}
					}
				}
			}
		}
	}
	slices.Sort(ids)
	return ids, nil
}

func recvName(t ast.Expr) string {
	for {
		switch x := t.(type) {
		case *ast.StarExpr:
			t = x.X
		case *ast.IndexExpr:
			t = x.X
		case *ast.IndexListExpr:
			t = x.X
		case *ast.Ident:
			return x.Name
		default:
			return ""
		}
	}
}
