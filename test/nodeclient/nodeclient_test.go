package nodeclient

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/testnode"
	"github.com/keyward/keyward/server"
)

func required() bool {
	return os.Getenv("CI") != "" || os.Getenv("KEYWARD_TEST_REQUIRE_BACKENDS") != ""
}

// tool finds name on PATH, or skips (fails when backends are required).
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if required() {
			t.Fatalf("%s not found but backends are required: %v", name, err)
		}
		t.Skipf("%s not found; skipping the openid-client test", name)
	}
	return p
}

// npmCI installs the pinned openid-client from package-lock.json.
func npmCI(t *testing.T, npm string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci: %v\n%s", err, out)
	}
}

type node struct {
	t        *testing.T
	issuer   string
	apiToken string
	http     *http.Client
}

func (n *node) call(method, path string, body any, out any) int {
	n.t.Helper()
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(n.t.Context(), method, n.issuer+path, bytes.NewReader(b))
	if err != nil {
		n.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+n.apiToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.http.Do(req)
	if err != nil {
		n.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, out); err != nil {
		n.t.Fatalf("%s %s: %d %q: %v", method, path, resp.StatusCode, raw, err)
	}
	return resp.StatusCode
}

// signIn does what the login UI does with an authorisation request: start
// a session, authenticate alice, consent to everything; it returns the
// callback URL the browser would be sent to.
func (n *node) signIn(authURL string) string {
	n.t.Helper()
	u, err := url.Parse(authURL)
	if err != nil || !strings.HasPrefix(authURL, n.issuer+"/login?") {
		n.t.Fatalf("authorisation URL %q is not the node's", authURL)
	}
	var msg map[string]any
	if st := n.call(http.MethodPost, "/authz-sessions/rest/v3", map[string]any{"query": u.RawQuery}, &msg); st != http.StatusOK {
		n.t.Fatalf("start: %d %v", st, msg)
	}
	sid, _ := msg["sid"].(string)
	if msg["type"] == "auth" {
		if st := n.call(http.MethodPut, "/authz-sessions/rest/v3/"+sid, map[string]any{"sub": "alice", "amr": []string{"pwd"}}, &msg); st != http.StatusOK {
			n.t.Fatalf("auth: %d %v", st, msg)
		}
	}
	if msg["type"] == "consent" {
		if st := n.call(http.MethodPut, "/authz-sessions/rest/v3/"+sid, map[string]any{
			"scope": []string{"*"}, "claims": []string{"*"}, "long_lived": true, "refresh_token": map[string]any{"issue": true},
		}, &msg); st != http.StatusOK {
			n.t.Fatalf("consent: %d %v", st, msg)
		}
	}
	params, _ := msg["parameters"].(map[string]any)
	uri, _ := params["uri"].(string)
	if msg["type"] != "response" || uri == "" {
		n.t.Fatalf("final message: %v", msg)
	}
	return uri
}

// TestOpenIDClient runs rp.mjs against a node; see doc.go.
func TestOpenIDClient(t *testing.T) {
	nodeBin, npm := tool(t, "node"), tool(t, "npm")
	npmCI(t, npm)

	tn := testnode.Start(t, server.Options{})
	n := &node{t: t, issuer: tn.Issuer, apiToken: tn.Server.APIToken(), http: &http.Client{Timeout: 30 * time.Second}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	redirect := "http://" + ln.Addr().String() + "/callback"
	ln.Close()
	var reg map[string]any
	if st := n.call(http.MethodPost, "/clients", map[string]any{
		"client_name": "openid-client", "redirect_uris": []string{redirect},
		"grant_types":    []string{"authorization_code", "refresh_token", "client_credentials"},
		"response_types": []string{"code"}, "scope": "openid profile email offline_access read",
		"introspection_allowed": true,
	}, &reg); st != http.StatusCreated {
		t.Fatalf("register: %d %v", st, reg)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, "rp.mjs")
	cmd.Env = append(os.Environ(), "ISSUER="+n.issuer, "CLIENT_ID="+reg["client_id"].(string),
		"CLIENT_SECRET="+reg["client_secret"].(string), "REDIRECT_URI="+redirect)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	steps := map[string]map[string]any{}
	var order []string
	sc := bufio.NewScanner(stdout)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Errorf("rp.mjs printed %q: %v", sc.Text(), err)
			continue
		}
		step, _ := line["step"].(string)
		steps[step] = line
		order = append(order, step)
		if step == "authorize" {
			fmt.Fprintln(stdin, n.signIn(line["url"].(string)))
		}
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("rp.mjs: %v; steps %v; error %v\nstderr: %s", err, order, steps["error"], stderr.String())
	}
	t.Logf("steps: %v", order)

	want := func(step, member string, value any) {
		t.Helper()
		got, ok := steps[step]
		if !ok {
			t.Errorf("step %s did not run (steps %v)", step, order)
			return
		}
		if fmt.Sprint(got[member]) != fmt.Sprint(value) {
			t.Errorf("%s.%s = %v, want %v", step, member, got[member], value)
		}
	}
	want("discovery", "issuer", n.issuer)
	want("iss_mismatch_rejected", "error", "OAUTH_INVALID_RESPONSE")
	want("code", "sub", "alice")
	want("code", "iss", n.issuer)
	want("code", "aud", []any{reg["client_id"]})
	want("code", "token_type", "bearer")
	want("code", "has_refresh_token", true)
	want("userinfo", "sub", "alice")
	want("refresh", "new_access_token", true)
	want("introspection", "active", true)
	want("introspection", "sub", "alice")
	want("introspection", "client_id", reg["client_id"])
	want("revocation", "active_after", false)
	want("client_credentials", "token_type", "bearer")
	want("client_credentials", "scope", "read")
	want("client_credentials", "has_access_token", true)
	want("client_credentials", "has_refresh_token", false)
	want("done", "step", "done")
}
