package cluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/keyward/keyward/internal/testnode"
	"github.com/keyward/keyward/store/postgres/pgtest"
	"github.com/keyward/keyward/store/redis/redistest"
)

var binary string

func TestMain(m *testing.M) {
	var dir string
	var err error
	binary, dir, err = testnode.Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cluster is a set of nodes behind a round-robin load balancer whose URL is
// the issuer.
type cluster struct {
	t         *testing.T
	issuer    string
	apiToken  string
	masterKey string
	storeDSN  string
	redisURL  string
	prefix    string
	env       []string // extra KEYWARD_* settings for every node
	lbLn      net.Listener
	nodes     []*node
	lbNext    atomic.Uint64
}

type node struct {
	*testnode.Process
	url string
}

func randomB64(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// newCluster prepares a fresh database, a Redis key space and a load
// balancer; nodes are started with startNodes.
func newCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{t: t, storeDSN: pgtest.NewDatabase(t), masterKey: randomB64(32)}
	c.redisURL, c.prefix = redistest.NewURL(t)
	c.apiToken = strings.TrimRight(randomB64(32), "=")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.lbLn = ln
	c.issuer = "http://" + ln.Addr().String()
	lb := &http.Server{Handler: &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			live := c.liveNodes()
			n := live[c.lbNext.Add(1)%uint64(len(live))]
			u, _ := url.Parse(n.url)
			r.SetURL(u)
			r.Out.Host = r.In.Host
		},
	}}
	go lb.Serve(ln)
	t.Cleanup(func() { lb.Close() })
	return c
}

func (c *cluster) liveNodes() []*node {
	var live []*node
	for _, n := range c.nodes {
		if !n.Exited() {
			live = append(live, n)
		}
	}
	return live
}

// startNodes starts n nodes at once and waits until every one serves.
func (c *cluster) startNodes(n int) []*node {
	c.t.Helper()
	var started []*node
	for i := range n {
		started = append(started, c.startNode(fmt.Sprintf("node%d", len(c.nodes)+i)))
	}
	for _, nd := range started {
		c.waitReady(nd)
	}
	c.nodes = append(c.nodes, started...)
	return started
}

// startNode starts a node on a port the kernel picks: the issuer is the
// load balancer's URL, so the node's own address only has to be learnt, and
// no other test can take the port between choosing and binding it.
func (c *cluster) startNode(name string) *node {
	c.t.Helper()
	cmd := exec.Command(binary, "serve", "--demo",
		"--listen", "127.0.0.1:0", "--issuer", c.issuer, "--data-dir", c.t.TempDir(),
		"--store", c.storeDSN, "--redis", c.redisURL,
		"--api-token", c.apiToken, "--master-key", c.masterKey)
	cmd.Env = append(os.Environ(),
		"KEYWARD_CLUSTER_REDIS_PREFIX="+c.prefix,
		"KEYWARD_KEYS_REFRESH_INTERVAL=3s",
		"KEYWARD_LOG_LEVEL=info",
		// The races here send one client's requests as fast as they go,
		// from one address; the rate limits would answer 429 (limits have
		// their own tests in test/e2e).
		"KEYWARD_RATE_LIMITS_TOKEN_PER_CLIENT_RATE=0",
		"KEYWARD_RATE_LIMITS_TOKEN_PER_ADDRESS_RATE=0",
		"KEYWARD_RATE_LIMITS_REVOKE_PER_CLIENT_RATE=0",
		"KEYWARD_RATE_LIMITS_REVOKE_PER_ADDRESS_RATE=0")
	cmd.Env = append(cmd.Env, c.env...)
	return &node{Process: testnode.StartProcess(c.t, name, cmd)}
}

// listeningAddr finds the address in the node's "listening" log line.
func listeningAddr(logs string) string {
	for _, line := range strings.Split(logs, "\n") {
		var l struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "listening" && l.Addr != "" {
			return l.Addr
		}
	}
	return ""
}

// waitReady learns the node's address from its log and waits until it
// serves discovery.
func (c *cluster) waitReady(nd *node) {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-nd.Done:
			c.t.Fatalf("%s exited: %s", nd.Name, nd.Logs.String())
		default:
		}
		if nd.url == "" {
			if addr := listeningAddr(nd.Logs.String()); addr != "" {
				nd.url = "http://" + addr
			}
		}
		if nd.url != "" {
			resp, err := http.Get(nd.url + "/.well-known/openid-configuration")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("%s not ready: %s", nd.Name, nd.Logs.String())
}

// kill ends a node abruptly, as a crash would.
func (c *cluster) kill(nd *node) { nd.Kill() }

var client = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// call sends a request and decodes a JSON object answer.
func call(ctx context.Context, method, u, token, ctype string, body []byte, basic ...string) (int, map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if len(basic) == 2 {
		req.SetBasicAuth(url.QueryEscape(basic[0]), url.QueryEscape(basic[1]))
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			return resp.StatusCode, nil, fmt.Errorf("%s %s: %d, not JSON: %q", method, u, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, out, nil
}

func jsonBody(v any) []byte { b, _ := json.Marshal(v); return b }

// registerClient registers a confidential client through node nd.
func (c *cluster) registerClient(nd *node) (id, secret, redirect string) {
	c.t.Helper()
	redirect = "http://127.0.0.1:9/callback"
	status, reg, err := call(c.t.Context(), "POST", nd.url+"/clients", c.apiToken, "application/json", jsonBody(map[string]any{
		"redirect_uris": []string{redirect},
		"grant_types":   []string{"authorization_code", "refresh_token"},
		"scope":         "openid email profile offline_access",
	}))
	if err != nil || status != 201 {
		c.t.Fatalf("register client: %d %v %v", status, reg, err)
	}
	return reg["client_id"].(string), reg["client_secret"].(string), redirect
}

// tokens is what one completed flow yields.
type tokens struct {
	access, refresh, id string
}

// flow runs one authorisation-code flow, each step on the node that pick
// returns for it (0: start, 1: authenticate, 2: consent, 3: token).
func (c *cluster) flow(ctx context.Context, pick func(step int) *node, clientID, secret, redirect string) (*tokens, error) {
	verifier := oauth2.GenerateVerifier()
	q := url.Values{
		"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirect},
		"scope": {"openid email offline_access"}, "state": {"st"}, "nonce": {"n"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
	}
	api := "/authz-sessions/rest/v3"
	status, msg, err := call(ctx, "POST", pick(0).url+api, c.apiToken, "application/json", jsonBody(map[string]any{"query": q.Encode()}))
	if err != nil || status != 200 || msg["type"] != "auth" {
		return nil, fmt.Errorf("start: %d %v %v", status, msg, err)
	}
	sid := msg["sid"].(string)
	status, msg, err = call(ctx, "PUT", pick(1).url+api+"/"+sid, c.apiToken, "application/json", jsonBody(map[string]any{"sub": "alice"}))
	if err != nil || status != 200 || msg["type"] != "consent" {
		return nil, fmt.Errorf("authenticate: %d %v %v", status, msg, err)
	}
	status, msg, err = call(ctx, "PUT", pick(2).url+api+"/"+sid, c.apiToken, "application/json",
		jsonBody(map[string]any{"scope": []string{"*"}, "claims": []string{"*"}, "refresh_token": map[string]any{"issue": true}}))
	if err != nil || status != 200 || msg["type"] != "response" {
		return nil, fmt.Errorf("consent: %d %v %v", status, msg, err)
	}
	u, _ := url.Parse(msg["parameters"].(map[string]any)["uri"].(string))
	form := url.Values{"grant_type": {"authorization_code"}, "code": {u.Query().Get("code")},
		"redirect_uri": {redirect}, "code_verifier": {verifier}}
	status, tok, err := call(ctx, "POST", pick(3).url+"/token", "", "application/x-www-form-urlencoded", []byte(form.Encode()), clientID, secret)
	if err != nil || status != 200 {
		return nil, fmt.Errorf("token: %d %v %v", status, tok, err)
	}
	t := &tokens{access: tok["access_token"].(string), id: tok["id_token"].(string)}
	t.refresh, _ = tok["refresh_token"].(string)
	return t, nil
}

// userInfo calls UserInfo on nd.
func userInfo(ctx context.Context, nd *node, access string) (int, map[string]any, error) {
	return call(ctx, "GET", nd.url+"/userinfo", access, "", nil)
}

// refresh uses a refresh token on nd.
func refresh(ctx context.Context, nd *node, clientID, secret, rt string) (int, map[string]any, error) {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	return call(ctx, "POST", nd.url+"/token", "", "application/x-www-form-urlencoded", []byte(form.Encode()), clientID, secret)
}

// jwks returns the key IDs node nd publishes.
func jwks(ctx context.Context, nd *node) ([]string, error) {
	status, set, err := call(ctx, "GET", nd.url+"/jwks.json", "", "", nil)
	if err != nil || status != 200 {
		return nil, fmt.Errorf("jwks: %d %v", status, err)
	}
	var kids []string
	for _, k := range set["keys"].([]any) {
		kids = append(kids, k.(map[string]any)["kid"].(string))
	}
	return kids, nil
}

// kidOf returns the kid in a JWS header.
func kidOf(jws string) string {
	h, _, _ := strings.Cut(jws, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(h)
	var hdr struct {
		Kid string `json:"kid"`
	}
	json.Unmarshal(raw, &hdr)
	return hdr.Kid
}
