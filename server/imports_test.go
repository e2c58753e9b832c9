package server

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// TestImportRules enforces the import rules (docs/architecture.md): the
// protocol core stays free of HTTP, SQL and concrete backends, and the public
// contract packages depend on nothing but the standard library and the
// protocol vocabulary.
func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", "github.com/keyward/keyward/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const mod = "github.com/keyward/keyward/"
	dec := json.NewDecoder(strings.NewReader(string(out)))
	checked := 0
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(p.ImportPath, mod)
		for _, imp := range p.Imports {
			if problem := forbidden(rel, imp, mod); problem != "" {
				t.Errorf("%s imports %s: %s", p.ImportPath, imp, problem)
			}
		}
		checked++
	}
	if checked < 20 {
		t.Fatalf("checked only %d packages; go list output looks wrong", checked)
	}
}

func forbidden(pkg, imp, mod string) string {
	own := strings.HasPrefix(imp, mod)
	ownRel := strings.TrimPrefix(imp, mod)
	std := !strings.Contains(strings.Split(imp, "/")[0], ".")
	switch {
	case strings.HasPrefix(pkg, "internal/core/"):
		if imp == "net/http" || imp == "database/sql" {
			return "the core must not speak HTTP or SQL"
		}
		if own && (strings.HasPrefix(ownRel, "store/") || strings.HasPrefix(ownRel, "plugin/") ||
			ownRel == "internal/httpapi" || ownRel == "server") {
			return "the core must not depend on backends, plug-in implementations or the HTTP layer"
		}
	case pkg == "oauth":
		if !std {
			return "oauth imports the standard library only"
		}
	case pkg == "store" || pkg == "plugin":
		if !std && ownRel != "oauth" {
			return "contract packages import only the standard library and oauth"
		}
	}
	return ""
}
