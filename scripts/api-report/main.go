// Command api-report prints, for each package of a module, how many
// identifiers it exports and its five longest functions, so that a change
// to the API's size or to the functions' shape can be compared before and
// after (run it on two checkouts and diff the outputs):
//
//	go run ./scripts/api-report [module root, default .]
//
// Exported identifiers are the package-level names (constants, variables,
// types, functions) plus the exported methods and struct fields of
// exported types. Lengths are lines from func to its closing brace. Test
// files, testdata and nested modules (a directory with its own go.mod)
// are left out.
package main

import (
	"cmp"
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

type function struct {
	name  string
	pos   token.Position
	lines int
}

type report struct {
	dir                    string
	names, methods, fields int
	funcs                  []function
}

func main() {
	root := "."
	if len(os.Args) > 1 {
		root = os.Args[1]
	}
	reports, err := scan(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "api-report:", err)
		os.Exit(1)
	}
	var total int
	for _, r := range reports {
		n := r.names + r.methods + r.fields
		total += n
		fmt.Printf("%s  exported=%d (names %d, methods %d, fields %d)\n", r.dir, n, r.names, r.methods, r.fields)
		slices.SortStableFunc(r.funcs, func(a, b function) int {
			return cmp.Or(b.lines-a.lines, strings.Compare(a.name, b.name))
		})
		for _, f := range r.funcs[:min(5, len(r.funcs))] {
			fmt.Printf("    %4d  %s  (%s:%d)\n", f.lines, f.name, filepath.Base(f.pos.Filename), f.pos.Line)
		}
	}
	fmt.Printf("total exported=%d in %d packages\n", total, len(reports))
}

// scan parses every package directory under root, in lexical order.
func scan(root string) ([]*report, error) {
	var out []*report
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		name := d.Name()
		if path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
			return filepath.SkipDir
		}
		if path != root {
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir // another module
			}
		}
		r, err := scanDir(path)
		if err != nil {
			return err
		}
		if r != nil {
			r.dir, _ = filepath.Rel(root, path)
			out = append(out, r)
		}
		return nil
	})
	return out, err
}

// scanDir reports on the non-test Go files of one directory; nil if it
// has none.
func scanDir(dir string) (*report, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	var r *report
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		if r == nil {
			r = &report{}
		}
		r.add(fset, f)
	}
	return r, nil
}

func (r *report) add(fset *token.FileSet, f *ast.File) {
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			r.funcs = append(r.funcs, function{name: funcName(d), pos: fset.Position(d.Pos()),
				lines: fset.Position(d.End()).Line - fset.Position(d.Pos()).Line + 1})
			if !d.Name.IsExported() {
				continue
			}
			if d.Recv == nil {
				r.names++
			} else if ast.IsExported(recvType(d)) {
				r.methods++
			}
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				switch s := spec.(type) {
				case *ast.ValueSpec:
					for _, id := range s.Names {
						if id.IsExported() {
							r.names++
						}
					}
				case *ast.TypeSpec:
					if !s.Name.IsExported() {
						continue
					}
					r.names++
					r.fields += exportedMembers(s.Type)
				}
			}
		}
	}
}

// exportedMembers counts a struct's exported fields or an interface's
// exported methods.
func exportedMembers(t ast.Expr) int {
	var list *ast.FieldList
	switch t := t.(type) {
	case *ast.StructType:
		list = t.Fields
	case *ast.InterfaceType:
		list = t.Methods
	default:
		return 0
	}
	n := 0
	for _, f := range list.List {
		for _, id := range f.Names {
			if id.IsExported() {
				n++
			}
		}
	}
	return n
}

func funcName(d *ast.FuncDecl) string {
	if d.Recv == nil {
		return d.Name.Name
	}
	return recvType(d) + "." + d.Name.Name
}

// recvType is the name of a method's receiver type, without pointer or
// type parameters.
func recvType(d *ast.FuncDecl) string {
	t := d.Recv.List[0].Type
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
			return "?"
		}
	}
}
