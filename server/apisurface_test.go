package server

import (
	"go/importer"
	"go/token"
	"go/types"
	"io"
	"os"
	"strings"
	"testing"
)

// TestPublicAPINamesNoInternalType: a module outside this repository cannot
// use a type from internal/, so no exported function, method, field or
// variable of a public package may name one; otherwise a downstream build
// hits "use of internal package … not allowed" (go doc ./server shows it).
func TestPublicAPINamesNoInternalType(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the whole module for its export data")
	}
	pkgs := listPackages(t, "-export", "-deps", module+"/...")
	exports := map[string]string{}
	for _, p := range pkgs {
		exports[p.ImportPath] = p.Export
	}
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) { return os.Open(exports[path]) })
	checked := 0
	for _, p := range pkgs {
		rel, own := strings.CutPrefix(p.ImportPath, module+"/")
		if !own || isInternal(rel) || strings.Contains(rel, "/internal/") || strings.HasPrefix(rel, "cmd/") ||
			strings.HasPrefix(rel, "test/") || p.Export == "" {
			continue
		}
		pkg, err := imp.Import(p.ImportPath)
		if err != nil {
			t.Fatalf("load %s: %v", p.ImportPath, err)
		}
		checked++
		scope := pkg.Scope()
		for _, name := range scope.Names() {
			obj := scope.Lookup(name)
			if !obj.Exported() {
				continue
			}
			w := surfaceWalker{seen: map[types.Type]bool{}, report: func(what string) {
				t.Errorf("%s.%s names %s, which a downstream module cannot use", pkg.Path(), name, what)
			}}
			w.object(obj, pkg)
		}
	}
	if checked < 8 {
		t.Fatalf("checked only %d public packages; go list output looks wrong", checked)
	}
}

// surfaceWalker visits what an exported identifier exposes: its type, the
// exported fields and methods of the package's own named types, and every
// signature on the way.
type surfaceWalker struct {
	seen   map[types.Type]bool
	report func(what string)
}

func (w *surfaceWalker) object(obj types.Object, pkg *types.Package) {
	if tn, ok := obj.(*types.TypeName); ok {
		w.named(tn.Type(), pkg)
		return
	}
	w.typ(obj.Type(), pkg)
}

// named walks a type declared in pkg: its underlying type and its exported
// methods.
func (w *surfaceWalker) named(t types.Type, pkg *types.Package) {
	w.typ(t.Underlying(), pkg)
	for _, ms := range []*types.MethodSet{types.NewMethodSet(t), types.NewMethodSet(types.NewPointer(t))} {
		for i := range ms.Len() {
			if m := ms.At(i).Obj(); m.Exported() {
				w.typ(m.Type(), pkg)
			}
		}
	}
}

func (w *surfaceWalker) typ(t types.Type, pkg *types.Package) {
	if t == nil || w.seen[t] {
		return
	}
	w.seen[t] = true
	switch t := t.(type) {
	case *types.Named:
		path := ""
		if t.Obj().Pkg() != nil {
			path = t.Obj().Pkg().Path()
		}
		if rel, own := strings.CutPrefix(path, module+"/"); own && (isInternal(rel) || strings.Contains(rel, "/internal/")) {
			w.report(path + "." + t.Obj().Name())
			return
		}
		if t.Obj().Pkg() == pkg {
			w.named(t, pkg)
		}
		for i := range t.TypeArgs().Len() {
			w.typ(t.TypeArgs().At(i), pkg)
		}
	case *types.Alias:
		w.typ(types.Unalias(t), pkg)
	case *types.Pointer:
		w.typ(t.Elem(), pkg)
	case *types.Slice:
		w.typ(t.Elem(), pkg)
	case *types.Array:
		w.typ(t.Elem(), pkg)
	case *types.Map:
		w.typ(t.Key(), pkg)
		w.typ(t.Elem(), pkg)
	case *types.Chan:
		w.typ(t.Elem(), pkg)
	case *types.Signature:
		w.typ(t.Params(), pkg)
		w.typ(t.Results(), pkg)
	case *types.Tuple:
		for i := range t.Len() {
			w.typ(t.At(i).Type(), pkg)
		}
	case *types.Struct:
		for i := range t.NumFields() {
			if f := t.Field(i); f.Exported() || f.Embedded() {
				w.typ(f.Type(), pkg)
			}
		}
	case *types.Interface:
		for i := range t.NumMethods() {
			if m := t.Method(i); m.Exported() {
				w.typ(m.Type(), pkg)
			}
		}
	}
}
