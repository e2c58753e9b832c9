package httpapi

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestDiscoveryGolden pins the discovery document as served: every member
// name, which members are left out when empty, and the JSON types. The
// comparison is semantic (member order and spacing do not matter). After an
// intended change, run
//
//	go test ./internal/httpapi -run TestDiscoveryGolden -update
//
// and review the diff of testdata/discovery.golden.json.
func TestDiscoveryGolden(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := e.do(e.public, request{path: "/.well-known/openid-configuration"})
	if r.status != 200 || r.jsonErr != nil {
		t.Fatalf("discovery: %d %q", r.status, r.raw)
	}
	for k, want := range map[string]string{
		"Content-Type":  "application/json",
		"Cache-Control": "public, max-age=300",
	} {
		if got := r.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	// RFC 8414 §3 serves the same document under its own well-known name.
	if r2 := e.do(e.public, request{path: "/.well-known/oauth-authorization-server"}); !bytes.Equal(r2.raw, r.raw) {
		t.Errorf("the RFC 8414 document differs from the OpenID one:\n%s\n%s", r2.raw, r.raw)
	}

	golden := filepath.Join("testdata", "discovery.golden.json")
	if *update {
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, r.raw, "", "  "); err != nil {
			t.Fatal(err)
		}
		pretty.WriteByte('\n')
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	var want, got any
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatalf("%s: %v", golden, err)
	}
	if err := json.Unmarshal(r.raw, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("discovery document differs from %s (-golden +served); if intended, rerun with -update:\n%s", golden, diff)
	}
}

// TestDiscoveryNamesEveryField: each member of ProviderMetadata is in the
// golden document under its own name when set, so a field added to the
// struct without a golden update fails here rather than going unreviewed.
func TestDiscoveryNamesEveryField(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "discovery.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var golden map[string]any
	if err := json.Unmarshal(raw, &golden); err != nil {
		t.Fatal(err)
	}
	var full map[string]any
	b, err := json.Marshal(fullMetadata())
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &full); err != nil {
		t.Fatal(err)
	}
	for k := range full {
		if _, ok := golden[k]; !ok && !omittedInGolden[k] {
			t.Errorf("member %q is in ProviderMetadata but not in the golden document", k)
		}
	}
	for k := range golden {
		if _, ok := full[k]; !ok {
			t.Errorf("the golden document has %q, which ProviderMetadata no longer has", k)
		}
	}
}

// omittedInGolden are the members the golden document shows left out when
// empty (omitempty): the test metadata leaves them unset on purpose.
var omittedInGolden = map[string]bool{"acr_values_supported": true, "claims_locales_supported": true,
	// Mutual TLS is not enabled in the test server.
	"tls_client_certificate_bound_access_tokens": true, "mtls_endpoint_aliases": true}

// fullMetadata returns a ProviderMetadata with every field set.
func fullMetadata() *ProviderMetadata {
	m := &ProviderMetadata{}
	v := reflect.ValueOf(m).Elem()
	for i := range v.NumField() {
		switch f := v.Field(i); f.Kind() {
		case reflect.String:
			f.SetString("x")
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Slice:
			f.Set(reflect.ValueOf([]string{"x"}))
		case reflect.Map:
			f.Set(reflect.ValueOf(map[string]string{"x": "x"}))
		default:
			panic("fullMetadata: unhandled kind " + f.Kind().String())
		}
	}
	return m
}
