package server

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/keyward/keyward"

// goPackage is what the import rules need of `go list -json`.
type goPackage struct {
	ImportPath string
	Imports    []string // direct, non-test
	Deps       []string // transitive, non-test
	Export     string   // export data file, with -export
}

// listPackages runs go list -json with args and decodes its stream.
func listPackages(t *testing.T, args ...string) []goPackage {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list", "-json"}, args...)...).Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []goPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p goPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// TestImportRules enforces the import rules of docs/architecture.md: the
// protocol core reaches neither HTTP nor a database, transitively; only
// internal/jose speaks go-jose; the public contract packages depend on
// nothing but the standard library and the protocol vocabulary; and the
// command is built from public packages only, as a downstream main is.
func TestImportRules(t *testing.T) {
	pkgs := listPackages(t, module+"/...")
	if len(pkgs) < 20 {
		t.Fatalf("checked only %d packages; go list output looks wrong", len(pkgs))
	}
	for _, p := range pkgs {
		rel := strings.TrimPrefix(p.ImportPath, module+"/")
		for _, imp := range p.Imports {
			if problem := forbiddenImport(rel, imp); problem != "" {
				t.Errorf("%s imports %s: %s", p.ImportPath, imp, problem)
			}
		}
		if strings.HasPrefix(rel, "internal/core/") {
			for _, dep := range p.Deps {
				if problem := forbiddenCoreDep(dep); problem != "" {
					t.Errorf("%s reaches %s: %s", p.ImportPath, dep, problem)
				}
			}
		}
	}
}

// forbiddenImport judges one direct import of package pkg (relative to the
// module).
func forbiddenImport(pkg, imp string) string {
	own := strings.HasPrefix(imp, module+"/")
	ownRel := strings.TrimPrefix(imp, module+"/")
	std := !strings.Contains(strings.Split(imp, "/")[0], ".")
	switch {
	case strings.HasPrefix(imp, "github.com/go-jose/") && pkg != "internal/jose":
		return "only internal/jose may use go-jose, so that key and algorithm choices stay in one place"
	case strings.HasPrefix(pkg, "cmd/") && own && isInternal(ownRel):
		return "a command is built from public packages only, as a downstream main is"
	case own && isTestHelper(ownRel) && !isTestHelper(pkg):
		return "test helpers (internal/test*) are for _test.go files only"
	case pkg == "oauth" && !std:
		return "oauth imports the standard library only"
	case (pkg == "store" || pkg == "plugin") && !std && ownRel != "oauth":
		return "contract packages import only the standard library and oauth"
	case pkg == "plugin/sqlclaims" && own && ownRel != "plugin":
		return "plugin/sqlclaims imports only the plugin contract and the database drivers, as a downstream plug-in would"
	}
	return ""
}

// forbiddenCoreDep judges one transitive dependency of a core package.
func forbiddenCoreDep(dep string) string {
	depRel, own := strings.CutPrefix(dep, module+"/")
	switch {
	case dep == "net/http" || strings.HasPrefix(dep, "net/http/"):
		return "the core must not speak HTTP; the server supplies what needs it behind an interface"
	case dep == "database/sql", strings.HasPrefix(dep, "github.com/jackc/"), strings.HasPrefix(dep, "modernc.org/sqlite"),
		strings.HasPrefix(dep, "github.com/redis/"), strings.HasPrefix(dep, "github.com/go-sql-driver/"):
		return "the core must not reach a database driver"
	case own && (strings.HasPrefix(depRel, "store/") || strings.HasPrefix(depRel, "plugin/") ||
		depRel == "internal/httpapi" || depRel == "server" || depRel == "cli" || depRel == "internal/node"):
		return "the core must not depend on backends, plug-in implementations, the HTTP layer or the composition root"
	case strings.HasPrefix(dep, "go.opentelemetry.io/"), own && strings.HasPrefix(depRel, "internal/tracing"):
		return "the core must not trace; spans are made at the edges (internal/tracing: HTTP middleware, store decorator, plug-in wrappers)"
	}
	return ""
}

func isInternal(rel string) bool { return rel == "internal" || strings.HasPrefix(rel, "internal/") }

// isTestHelper: internal/test* and the packages named */samltest are for
// _test.go files only.
func isTestHelper(rel string) bool {
	return strings.HasPrefix(rel, "internal/test") || strings.HasSuffix(rel, "/samltest") || strings.HasSuffix(rel, "/otlptest")
}

// TestForbiddenRulesBite checks the rules themselves on known-bad edges, so
// that a typo in a rule cannot make TestImportRules pass vacuously.
func TestForbiddenRulesBite(t *testing.T) {
	for _, c := range []struct{ pkg, imp string }{
		{"internal/core/token", "github.com/go-jose/go-jose/v4"},
		{"cmd/keyward", module + "/internal/node"},
		{"oauth", "github.com/google/uuid"},
		{"store", module + "/internal/jose"},
		{"server", module + "/internal/testclock"},
		{"plugin/sqlclaims", module + "/internal/secret"},
	} {
		if forbiddenImport(c.pkg, c.imp) == "" {
			t.Errorf("%s importing %s is allowed", c.pkg, c.imp)
		}
	}
	for _, dep := range []string{"net/http", "net/http/httptrace", "database/sql", "github.com/jackc/pgx/v5",
		"modernc.org/sqlite", "github.com/redis/go-redis/v9", "github.com/go-sql-driver/mysql", module + "/store/postgres", module + "/internal/httpapi",
		"go.opentelemetry.io/otel", module + "/internal/tracing"} {
		if forbiddenCoreDep(dep) == "" {
			t.Errorf("the core may reach %s", dep)
		}
	}
	for _, dep := range []string{"net/url", "crypto/sha256", module + "/store", module + "/plugin", module + "/internal/jose"} {
		if p := forbiddenCoreDep(dep); p != "" {
			t.Errorf("the core may not reach %s: %s", dep, p)
		}
	}
}
