package token

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/core/claims"
	"github.com/keyward/keyward/internal/core/session"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/plugin"
	"github.com/keyward/keyward/store"
)

// TypeAccessTokenJWT is the "typ" of self-contained access tokens
// (RFC 9068 §2.1).
const TypeAccessTokenJWT = "at+jwt"

// accessClaims are the claims of a self-contained access token
// (RFC 9068 §2.2). "aud" is Grant.Audience when the consent named one,
// else the issuer itself: the token is then meant for the provider's own
// resources (UserInfo). "gid" is a private claim naming the grant, so that
// UserInfo and revocation can tell whether the grant still stands.
type accessClaims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience []string `json:"aud"`
	Expiry   int64    `json:"exp"`
	IssuedAt int64    `json:"iat"`
	ID       string   `json:"jti"`
	ClientID string   `json:"client_id"`
	Scope    string   `json:"scope,omitempty"`
	AuthTime int64    `json:"auth_time,omitempty"`
	ACR      string   `json:"acr,omitempty"`
	AMR      []string `json:"amr,omitempty"`
	// GrantID is empty (and "gid" absent) in a stateless token
	// (Decision.Stateless).
	GrantID string `json:"gid,omitempty"`
	// Actor is RFC 8693 §4.1 "act": Keyward does not issue it yet, but a
	// revocation by actor matches it when a token carries one.
	Actor *actorClaim `json:"act,omitempty"`
}

type actorClaim struct {
	Subject string `json:"sub"`
}

// mint stores what the decision asks for and issues the tokens.
func (s *Service) mint(ctx context.Context, now time.Time, client *store.Client, d *Decision) (*Response, error) {
	g := d.Grant
	spec := s.spec(g.Tokens)
	scope := d.Scope
	if scope == nil {
		scope = oauth.Scope(g.Scope)
	}
	if d.Create {
		if err := s.Grants.Create(ctx, g); err != nil {
			return nil, s.serverError(ctx, "create grant", err)
		}
		if d.RevocationMark != "" {
			replayed, err := s.markUsed(ctx, d.RevocationMark, d.RevocationMarkUntil, now)
			if err != nil {
				return nil, s.serverError(ctx, "check revocation mark", err)
			}
			if replayed {
				if err := s.Grants.Delete(ctx, g.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
					return nil, s.serverError(ctx, "revoke grant of replayed code", err)
				}
				return nil, oauth.InvalidGrant("invalid authorization code")
			}
		}
	}
	resp := &Response{TokenType: oauth.TokenTypeBearer, Scope: scope.String()}
	if d.Stateless {
		if spec.AccessTokenEncoding != oauth.TokenEncodingSelfContained || d.IssueRefreshToken || d.IDToken || g.ID != "" {
			return nil, s.serverError(ctx, "mint", errors.New("a stateless decision allows only a self-contained access token"))
		}
		atExp := now.Add(spec.AccessTokenLifetime)
		at, err := s.mintAccessToken(ctx, now, atExp, g, spec, scope)
		if err != nil {
			return nil, err
		}
		resp.AccessToken, resp.ExpiresIn = at, int64(spec.AccessTokenLifetime/time.Second)
		return resp, nil
	}

	rtValue, rtExp := d.RefreshToken, d.RefreshTokenExpiresAt
	if d.IssueRefreshToken {
		v, err := s.newToken()
		if err != nil {
			return nil, s.serverError(ctx, "new refresh token", err)
		}
		rt := &store.RefreshToken{
			ID: secret.Hash(v), GrantID: g.ID, ClientID: g.ClientID,
			CreatedAt: now, LastUsedAt: now, ExpiresAt: rtExp,
		}
		if err := s.RefreshTokens.Create(ctx, rt); err != nil {
			return nil, s.storeTokenError(ctx, "create refresh token", err)
		}
		rtValue = v
	}
	if rtValue != "" {
		resp.RefreshToken = rtValue
		if !rtExp.IsZero() {
			resp.RefreshTokenExpiresIn = int64(rtExp.Sub(now) / time.Second)
		}
	}

	atExp := earliest(now.Add(spec.AccessTokenLifetime), d.NotAfter, rtExp, g.ExpiresAt)
	at, err := s.mintAccessToken(ctx, now, atExp, g, spec, scope)
	if err != nil {
		return nil, err
	}
	resp.AccessToken = at
	resp.ExpiresIn = max(int64(atExp.Sub(now)/time.Second), 0)

	if d.IDToken {
		idt, err := s.mintIDToken(ctx, now, client, g, spec, d, at)
		if err != nil {
			return nil, err
		}
		resp.IDToken = idt
	}
	return resp, nil
}

func (s *Service) mintAccessToken(ctx context.Context, now, exp time.Time, g *store.Grant, spec store.TokenSpec, scope oauth.Scope) (string, error) {
	if spec.AccessTokenEncoding == oauth.TokenEncodingIdentifier {
		v, err := s.newToken()
		if err != nil {
			return "", s.serverError(ctx, "new access token", err)
		}
		err = s.AccessTokens.Create(ctx, &store.AccessToken{
			ID: secret.Hash(v), GrantID: g.ID, ClientID: g.ClientID, Subject: g.Subject,
			Scope: slices.Clone(scope), CreatedAt: now, ExpiresAt: exp,
		})
		if err != nil {
			return "", s.storeTokenError(ctx, "create access token", err)
		}
		return v, nil
	}
	cfg := s.Config.withDefaults()
	jti, err := secret.Token(s.Rand, 16)
	if err != nil {
		return "", s.serverError(ctx, "new jti", err)
	}
	aud := g.Audience
	if len(aud) == 0 {
		aud = []string{cfg.Issuer}
	}
	c := accessClaims{
		Issuer: cfg.Issuer, Subject: g.Subject, Audience: aud,
		Expiry: exp.Unix(), IssuedAt: now.Unix(), ID: jti,
		ClientID: g.ClientID, Scope: scope.String(),
		AuthTime: unixOrZero(g.AuthTime), ACR: g.ACR, AMR: g.AMR, GrantID: g.ID,
	}
	v, err := s.Keys.Sign(cfg.AccessTokenAlg, TypeAccessTokenJWT, c)
	if err != nil {
		return "", s.serverError(ctx, "sign access token", err)
	}
	return v, nil
}

// mintIDToken issues the ID token of OIDC Core §2 and §3.1.3.6.
func (s *Service) mintIDToken(ctx context.Context, now time.Time, client *store.Client, g *store.Grant, spec store.TokenSpec, d *Decision, accessToken string) (string, error) {
	cfg := s.Config.withDefaults()
	alg := client.Metadata.IDTokenSignedResponseAlg
	if alg == "" {
		alg = cfg.IDTokenAlg
	}
	atHash, err := halfHash(alg, accessToken)
	if err != nil {
		return "", s.serverError(ctx, "at_hash", err)
	}

	idc := map[string]any{}
	// The grant does not keep the original claims request: the consent has
	// already folded it into "id_token:" prefixes, so Split gets nil.
	idNames, _ := claims.Split(g.Claims, nil)
	if len(idNames) > 0 && s.Claims != nil {
		got, err := s.Claims.Get(ctx, s.claimsRequest(g, idNames, oauth.ClaimsTransportIDToken))
		if err != nil {
			// Only a source under on_error: fail reports an error here
			// (temporarily_unavailable); one under on_error: omit has been
			// logged and counted by the resolver and its claims left out,
			// so that it does not block sign-in.
			var oe *oauth.Error
			if errors.As(err, &oe) {
				return "", oe
			}
			return "", s.serverError(ctx, "get id token claims", err)
		}
		maps.Copy(idc, got)
	}
	if d.PresetIDTokenClaims {
		maps.Copy(idc, g.PresetIDTokenClaims)
	}
	// Registered claims last, so that no claims source or preset can
	// replace them.
	idc["iss"] = cfg.Issuer
	idc["sub"] = g.Subject
	idc["aud"] = []string{client.ID}
	idc["azp"] = client.ID
	idc["iat"] = now.Unix()
	idc["exp"] = now.Add(spec.IDTokenLifetime).Unix()
	idc["at_hash"] = atHash
	setOrDelete(idc, "auth_time", unixOrZero(g.AuthTime))
	setOrDelete(idc, "nonce", d.Nonce)
	setOrDelete(idc, "acr", g.ACR)
	if len(g.AMR) > 0 {
		idc["amr"] = g.AMR
	} else {
		delete(idc, "amr")
	}
	if g.SubjectSessionID != "" {
		idc["sid"] = session.PublicID(g.SubjectSessionID)
	} else {
		delete(idc, "sid")
	}
	v, err := s.Keys.Sign(alg, "JWT", idc)
	if err != nil {
		return "", s.serverError(ctx, "sign id token", err)
	}
	return v, nil
}

// storeTokenError reports a failure to store a token. A grant that is gone
// by then was revoked while the request ran — typically a replay of the
// same code racing its first redemption — so the request fails as
// invalid_grant rather than as an internal error.
func (s *Service) storeTokenError(ctx context.Context, op string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return oauth.InvalidGrant("the authorization was revoked").WithCause(err)
	}
	return s.serverError(ctx, op, err)
}

// claimsRequest asks for the named claims of the grant's subject.
func (s *Service) claimsRequest(g *store.Grant, names []string, transport string) plugin.ClaimsRequest {
	return plugin.ClaimsRequest{
		Issuer:           s.Config.Issuer,
		Subject:          g.Subject,
		Claims:           names,
		Locales:          g.ClaimsLocales,
		Transport:        transport,
		ClientID:         g.ClientID,
		Scope:            g.Scope,
		ClaimsData:       g.ClaimsData,
		SubjectSessionID: g.SubjectSessionID,
	}
}

// halfHash returns the base64url left half of the hash of v that matches
// the JWS algorithm: at_hash / c_hash of OIDC Core §3.1.3.6, §3.3.2.11. For
// EdDSA (Ed25519) the hash is SHA-512, as OpenID's errata and Connect2id do.
func halfHash(alg, v string) (string, error) {
	var h hash.Hash
	switch {
	case alg == oauth.AlgEdDSA, strings.HasSuffix(alg, "512"):
		h = sha512.New()
	case strings.HasSuffix(alg, "384"):
		h = sha512.New384()
	case strings.HasSuffix(alg, "256"):
		h = sha256.New()
	default:
		return "", fmt.Errorf("no hash for alg %q", alg)
	}
	h.Write([]byte(v))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2]), nil
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// setOrDelete sets claims[k] = v, or removes k when v is the zero value, so
// that an empty claim never reaches a token (conformance: acr not empty).
func setOrDelete[T comparable](claims map[string]any, k string, v T) {
	var zero T
	if v == zero {
		delete(claims, k)
		return
	}
	claims[k] = v
}
