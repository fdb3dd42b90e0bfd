package doclist

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// listed names each package whose documentation lists its main type's
// methods, and that type.
var listed = []struct{ dir, typ string }{
	{"drivers", "Driver"},
	{"state/node", "Node"},
	{"state/pump", "Pump"},
	{"state/gso", "Queue"},
	{"state/internal/iceagent", "Agent"},
}

func TestEveryExportedMethodIsNamedInItsPackageDocumentation(t *testing.T) {
	for _, l := range listed {
		doc, methods := scan(t, filepath.Join("..", "..", l.dir), l.typ)
		if doc == "" {
			t.Errorf("%s has no package documentation", l.dir)
			continue
		}
		for _, m := range methods {
			if !regexp.MustCompile(`\b` + m + `\b`).MatchString(doc) {
				t.Errorf("%s's package documentation does not name %s.%s", l.dir, l.typ, m)
			}
		}
	}
}

// scan returns the package comment of dir and the exported methods of typ.
func scan(t *testing.T, dir, typ string) (doc string, methods []string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, e := range entries {
		n := e.Name()
		if !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		if f.Doc != nil {
			doc += f.Doc.Text()
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv == nil || !fd.Name.IsExported() {
				continue
			}
			rt := fd.Recv.List[0].Type
			if s, ok := rt.(*ast.StarExpr); ok {
				rt = s.X
			}
			if id, ok := rt.(*ast.Ident); ok && id.Name == typ {
				methods = append(methods, fd.Name.Name)
			}
		}
	}
	return doc, methods
}
