package authz

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	gojose "github.com/go-jose/go-jose/v4"

	"github.com/keyward/keyward/internal/core/authzpolicy"
	"github.com/keyward/keyward/internal/jose"
	"github.com/keyward/keyward/oauth"
)

func TestFAPI2RequestObjectAlgorithms(t *testing.T) {
	j := newJAREnv(t, Config{Profile: authzpolicy.ProfileFAPI2})
	jar := j.client("jar")
	signed := j.sign(j.key, "jar-key", j.object("jar"))
	if _, _, err := j.svc.Push(context.Background(), jar, url.Values{"client_id": {"jar"}, "request": {signed}}); err != nil {
		t.Fatalf("ES256 request object: %v", err)
	}

	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gojose.NewSigner(gojose.SigningKey{Algorithm: gojose.RS256, Key: rk}, nil)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(j.object("jar"))
	obj, _ := s.Sign(payload)
	rs256, _ := obj.CompactSerialize()
	for name, raw := range map[string]string{
		"RS256":                        rs256,
		"encrypted, no registered alg": j.encrypt(jose.AlgECDHES, signed),
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := j.svc.Push(context.Background(), jar, url.Values{"client_id": {"jar"}, "request": {raw}})
			oe := oauth.AsError(err)
			if oe == nil || oe.Code != oauth.ErrCodeInvalidRequestObject || oe.Status != 400 || !strings.Contains(oe.Description, "FAPI 2.0") {
				t.Fatalf("got %v, want invalid_request_object (FAPI 2.0)", err)
			}
		})
	}
}

func TestRequestObjectCarriesResourcesAndDetails(t *testing.T) {
	cfg := rarConfig()
	j := newJAREnv(t, cfg)
	var details []any
	_ = json.Unmarshal([]byte("["+payment+"]"), &details)
	raw := j.sign(j.key, "jar-key", j.object("jar",
		"resource", []any{apiRes, apiRes + "/v2"}, "authorization_details", details))
	j.svc.Config.Resources = append(j.svc.Config.Resources, apiRes+"/v2")
	m := j.start(jarQuery("jar", "request", raw), "")
	if m.Type != TypeAuth {
		t.Fatalf("Start = %+v", m)
	}
	m = j.submit(m.SID, authAlice)
	if len(m.Resource) != 2 || len(m.AuthorizationDetails) != 1 {
		t.Fatalf("consent prompt resource %v authorization_details %s", m.Resource, m.AuthorizationDetails)
	}
}
