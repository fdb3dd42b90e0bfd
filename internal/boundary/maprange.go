package boundary

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// OrderIndependent is the comment that allows ranging over a map: put it on
// the line of the range statement, or the line before, with the reason the
// iteration order cannot reach any output (a sum, a lookup, a sort after).
const OrderIndependent = "peerlink:order-independent"

// MapRanges type-checks the non-test Go files of each package directory and
// returns every range over a map not marked OrderIndependent. Go randomises
// map iteration order, so such a loop is how nondeterminism leaks into a
// trace, a transmit order or an event order. dir is the module root, pkgs
// the `go list` patterns of the packages to check.
func MapRanges(dir string, pkgs ...string) ([]Violation, error) {
	exports, err := exportData(dir, pkgs)
	if err != nil {
		return nil, err
	}
	dirs, err := listDirs(dir, pkgs)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		f, ok := exports[path]
		if !ok {
			return nil, fmt.Errorf("no export data for %q", path)
		}
		return os.Open(f)
	})
	var out []Violation
	for _, d := range dirs {
		vs, err := mapRangesIn(fset, imp, d)
		if err != nil {
			return nil, err
		}
		out = append(out, vs...)
	}
	return out, nil
}

func mapRangesIn(fset *token.FileSet, imp types.Importer, pd pkgDir) ([]Violation, error) {
	var files []*ast.File
	for _, name := range pd.files {
		f, err := parser.ParseFile(fset, filepath.Join(pd.dir, name), nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	info := &types.Info{Types: map[ast.Expr]types.TypeAndValue{}}
	conf := types.Config{Importer: imp}
	if _, err := conf.Check(pd.path, fset, files, info); err != nil {
		return nil, fmt.Errorf("type-checking %s: %w", pd.path, err)
	}
	var out []Violation
	for _, f := range files {
		allowed := allowedLines(fset, f)
		ast.Inspect(f, func(n ast.Node) bool {
			r, ok := n.(*ast.RangeStmt)
			if !ok {
				return true
			}
			tv, ok := info.Types[r.X]
			if !ok {
				return true
			}
			if _, isMap := tv.Type.Underlying().(*types.Map); !isMap {
				return true
			}
			pos := fset.Position(r.Pos())
			if allowed[pos.Line] || allowed[pos.Line-1] {
				return true
			}
			out = append(out, Violation{Pos: pos, What: "ranges over a map: iteration order is random (mark it " + OrderIndependent + " with the reason if order cannot reach output)"})
			return true
		})
	}
	return out, nil
}

func allowedLines(fset *token.FileSet, f *ast.File) map[int]bool {
	lines := map[int]bool{}
	for _, cg := range f.Comments {
		for _, c := range cg.List {
			if strings.Contains(c.Text, OrderIndependent) {
				lines[fset.Position(c.Pos()).Line] = true
			}
		}
	}
	return lines
}

// exportData asks the go command for the compiled export data of every
// dependency, so type-checking needs no source of other packages.
func exportData(dir string, pkgs []string) (map[string]string, error) {
	args := append([]string{"list", "-export", "-deps", "-f", "{{.ImportPath}}\t{{.Export}}"}, pkgs...)
	out, err := goCmd(dir, args...)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		path, file, ok := strings.Cut(sc.Text(), "\t")
		if ok && file != "" {
			m[path] = file
		}
	}
	return m, sc.Err()
}

type pkgDir struct {
	path, dir string
	files     []string
}

func listDirs(dir string, pkgs []string) ([]pkgDir, error) {
	args := append([]string{"list", "-f", "{{.ImportPath}}\t{{.Dir}}\t{{join .GoFiles \" \"}}"}, pkgs...)
	out, err := goCmd(dir, args...)
	if err != nil {
		return nil, err
	}
	var ds []pkgDir
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), "\t", 3)
		if len(f) == 3 && f[2] != "" {
			ds = append(ds, pkgDir{path: f[0], dir: f[1], files: strings.Fields(f[2])})
		}
	}
	return ds, sc.Err()
}

func goCmd(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}
