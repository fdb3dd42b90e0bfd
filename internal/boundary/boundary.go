// Package boundary checks the project's purity rules on Go source: the
// sans-IO core (state/) and the simulator (sim/) must not reach a socket, a
// clock, the OS, a lock, a goroutine or a global random source, and drivers
// must not depend on the simulator. Tests in this package apply the rules to
// the tree; the rules are plain data so a test can plant violations too.
package boundary

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Rules say what a file may not do.
type Rules struct {
	// ForbiddenImports are import paths a file may not import; an entry
	// ending in "/..." also forbids everything below it.
	ForbiddenImports []string
	// AllowedImports are exceptions to ForbiddenImports.
	AllowedImports []string
	// ForbiddenCalls maps an import path to the names in it a file may not
	// use (called or taken as a value).
	ForbiddenCalls map[string][]string
	// OnlyCalls maps an import path to the only names a file may use from
	// it (constructors and types of a package whose top-level functions use
	// shared state).
	OnlyCalls map[string][]string
	// NoGoStatements forbids starting goroutines.
	NoGoStatements bool
}

// Pure are the rules for state/ and sim/.
var Pure = Rules{
	ForbiddenImports: []string{
		"net", "net/...", "os", "os/...", "syscall", "golang.org/x/sys/...",
		"sync", "sync/...", "crypto/rand", "runtime/cgo", "unsafe",
		// The core and the simulator stand on state/ alone: the pump they
		// share lives there, under these same rules.
		"github.com/peerlink/peerlink/drivers", "github.com/peerlink/peerlink/drivers/...",
	},
	AllowedImports: []string{"net/netip"},
	ForbiddenCalls: map[string][]string{
		"time": {"Now", "Since", "Until", "Sleep", "After", "AfterFunc", "Tick", "NewTimer", "NewTicker"},
	},
	OnlyCalls: map[string][]string{
		"math/rand":    {"New", "NewSource", "NewZipf", "Rand", "Source", "Source64", "Zipf"},
		"math/rand/v2": {"New", "NewPCG", "NewChaCha8", "NewZipf", "Rand", "Source", "PCG", "ChaCha8", "Zipf"},
	},
	NoGoStatements: true,
}

// DriversRules keep the simulator out of the drivers.
var DriversRules = Rules{
	ForbiddenImports: []string{"github.com/peerlink/peerlink/sim", "github.com/peerlink/peerlink/sim/..."},
}

// Violation is one broken rule at a place in a file.
type Violation struct {
	Pos  token.Position
	What string
}

func (v Violation) String() string { return fmt.Sprintf("%s: %s", v.Pos, v.What) }

// CheckFile parses one Go source file and returns every rule it breaks.
func CheckFile(filename string, src []byte, r Rules) ([]Violation, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filename, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	var out []Violation
	add := func(p token.Pos, format string, args ...any) {
		out = append(out, Violation{Pos: fset.Position(p), What: fmt.Sprintf(format, args...)})
	}
	local := map[string]string{} // file-local name -> import path
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		if r.forbidsImport(p) {
			add(imp.Pos(), "imports %q", p)
		}
		name := path.Base(p)
		if p == "math/rand/v2" {
			name = "rand"
		}
		if imp.Name != nil {
			name = imp.Name.Name
		}
		local[name] = p
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			if r.NoGoStatements {
				add(n.Pos(), "starts a goroutine")
			}
		case *ast.SelectorExpr:
			id, ok := n.X.(*ast.Ident)
			if !ok {
				return true
			}
			p, ok := local[id.Name]
			if !ok {
				return true
			}
			if contains(r.ForbiddenCalls[p], n.Sel.Name) {
				add(n.Pos(), "uses %s.%s", p, n.Sel.Name)
			}
			if only, ok := r.OnlyCalls[p]; ok && !contains(only, n.Sel.Name) {
				add(n.Pos(), "uses %s.%s (only a seeded source may be used)", p, n.Sel.Name)
			}
		}
		return true
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Pos.Offset < out[j].Pos.Offset })
	return out, nil
}

func (r Rules) forbidsImport(p string) bool {
	if contains(r.AllowedImports, p) {
		return false
	}
	for _, f := range r.ForbiddenImports {
		if f == p {
			return true
		}
		if prefix, ok := strings.CutSuffix(f, "/..."); ok && strings.HasPrefix(p, prefix+"/") {
			return true
		}
	}
	return false
}

func contains(s []string, x string) bool {
	for _, e := range s {
		if e == x {
			return true
		}
	}
	return false
}
