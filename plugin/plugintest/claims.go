package plugintest

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/plugin"
)

// ClaimsFixture describes what the claims source under test knows.
type ClaimsFixture struct {
	// Issuer is passed in every request.
	Issuer string
	// Subject is a subject the source knows.
	Subject string
	// Claims are all the claims the source holds for Subject, as JSON
	// values (float64 numbers, map[string]any objects, []any arrays). It
	// must hold at least two claims and no "sub".
	Claims map[string]any
	// TaggedClaim names a language-tagged claim ("name#de") in Claims; empty
	// skips the language-tag cases.
	TaggedClaim string
	// MissingClaim is a claim name the source does not hold for Subject.
	MissingClaim string
	// UnknownSubject is a subject the source does not know.
	UnknownSubject string
}

// ClaimsSource runs the plugin.ClaimsSource contract against src:
//
//   - only requested claims are returned, never "sub";
//   - an unknown subject is an empty map, not an error;
//   - language-tagged names are honoured and an absent tag yields nothing;
//   - an empty claim list yields an empty map;
//   - a cancelled context yields an error wrapping context.Canceled, promptly;
//   - results are independent copies and concurrent calls are safe;
//   - SupportedClaims, when implemented, covers every fixture claim.
func ClaimsSource(t *testing.T, src plugin.ClaimsSource, fx ClaimsFixture) {
	t.Helper()
	if len(fx.Claims) < 2 || fx.Subject == "" || fx.UnknownSubject == "" || fx.MissingClaim == "" {
		t.Fatal("plugintest: ClaimsFixture needs Subject, UnknownSubject, MissingClaim and at least two Claims")
	}
	if _, ok := fx.Claims["sub"]; ok {
		t.Fatal("plugintest: ClaimsFixture.Claims must not hold sub")
	}
	names := slices.Sorted(maps.Keys(fx.Claims))
	request := func(sub string, claims ...string) plugin.ClaimsRequest {
		return plugin.ClaimsRequest{
			Issuer:    fx.Issuer,
			Subject:   sub,
			Claims:    claims,
			Transport: oauth.ClaimsTransportUserInfo,
			ClientID:  "plugintest-client",
			Scope:     []string{"openid", "profile", "email"},
		}
	}
	get := func(t *testing.T, req plugin.ClaimsRequest) map[string]any {
		t.Helper()
		got, err := src.Claims(t.Context(), req)
		if err != nil {
			t.Fatalf("Claims(%q, %q): %v", req.Subject, req.Claims, err)
		}
		return got
	}
	subset := func(keys ...string) map[string]any {
		out := map[string]any{}
		for _, k := range keys {
			if v, ok := fx.Claims[k]; ok {
				out[k] = v
			}
		}
		return out
	}
	// emptyOK lets a source return nil or an empty map.
	emptyOK := cmp.Comparer(func(a, b map[string]any) bool {
		if len(a) == 0 && len(b) == 0 {
			return true
		}
		return cmp.Equal(a, b)
	})

	t.Run("all claims", func(t *testing.T) {
		got := get(t, request(fx.Subject, names...))
		if diff := cmp.Diff(fx.Claims, got); diff != "" {
			t.Errorf("claims (-want +got):\n%s", diff)
		}
	})

	t.Run("only requested claims", func(t *testing.T) {
		half := names[:len(names)/2]
		got := get(t, request(fx.Subject, append(slices.Clone(half), fx.MissingClaim)...))
		if diff := cmp.Diff(subset(half...), got); diff != "" {
			t.Errorf("claims (-want +got):\n%s", diff)
		}
	})

	t.Run("sub never returned", func(t *testing.T) {
		got := get(t, request(fx.Subject, "sub", names[0]))
		if diff := cmp.Diff(subset(names[0]), got); diff != "" {
			t.Errorf("claims (-want +got):\n%s", diff)
		}
	})

	t.Run("unknown subject", func(t *testing.T) {
		got := get(t, request(fx.UnknownSubject, names...))
		if diff := cmp.Diff(map[string]any{}, got, emptyOK); diff != "" {
			t.Errorf("claims for unknown subject (-want +got):\n%s", diff)
		}
	})

	t.Run("empty claim list", func(t *testing.T) {
		got := get(t, request(fx.Subject))
		if diff := cmp.Diff(map[string]any{}, got, emptyOK); diff != "" {
			t.Errorf("claims for empty list (-want +got):\n%s", diff)
		}
	})

	t.Run("language tags", func(t *testing.T) {
		if fx.TaggedClaim == "" {
			t.Skip("fixture has no language-tagged claim")
		}
		base, _, ok := strings.Cut(fx.TaggedClaim, "#")
		if !ok {
			t.Fatalf("fixture TaggedClaim %q has no language tag", fx.TaggedClaim)
		}
		absent := base + "#x-plugintest-absent"
		got := get(t, request(fx.Subject, fx.TaggedClaim, absent))
		if diff := cmp.Diff(subset(fx.TaggedClaim), got); diff != "" {
			t.Errorf("tagged claims (-want +got):\n%s", diff)
		}
	})

	t.Run("results are copies", func(t *testing.T) {
		first := get(t, request(fx.Subject, names...))
		for k, v := range first {
			scribble(v)
			first[k] = "changed by caller"
		}
		second := get(t, request(fx.Subject, names...))
		if diff := cmp.Diff(fx.Claims, second); diff != "" {
			t.Errorf("claims changed through a previous result (-want +got):\n%s", diff)
		}
	})

	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		done := make(chan error, 1)
		go func() {
			_, err := src.Claims(ctx, request(fx.Subject, names...))
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Claims with cancelled context: err = %v, want one wrapping context.Canceled", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("Claims with cancelled context did not return within 2s")
		}
	})

	t.Run("concurrent calls", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Go(func() {
				got, err := src.Claims(t.Context(), request(fx.Subject, names...))
				if err != nil {
					errs <- err
					return
				}
				if !cmp.Equal(fx.Claims, got) {
					errs <- errors.New("concurrent call returned different claims")
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})

	t.Run("supported claims cover fixture", func(t *testing.T) {
		sup, ok := src.(plugin.ClaimsSupporter)
		if !ok {
			t.Skip("source does not implement plugin.ClaimsSupporter")
		}
		pats := sup.SupportedClaims()
		for _, name := range names {
			base, _, _ := strings.Cut(name, "#")
			if !slices.ContainsFunc(pats, func(p string) bool { return Matches(p, base) }) {
				t.Errorf("SupportedClaims() = %q does not cover fixture claim %q", pats, name)
			}
		}
	})
}

// Matches reports whether a SupportedClaims pattern covers claim name:
// equal, or a trailing "*" matching any suffix ("*" alone matches all).
func Matches(pattern, name string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(name, prefix)
	}
	return pattern == name
}

// scribble mutates nested JSON objects and arrays in place.
func scribble(v any) {
	switch v := v.(type) {
	case map[string]any:
		for k := range v {
			v[k] = "changed by caller"
		}
		v["added-by-caller"] = true
	case []any:
		for i := range v {
			v[i] = "changed by caller"
		}
	}
}

// SampleClaimsFixture returns a fixture with a realistic claim set (a
// language-tagged name, a number, a boolean, an object and an array), for
// tests that build the source under test from the fixture itself.
func SampleClaimsFixture() ClaimsFixture {
	return ClaimsFixture{
		Issuer:  "https://op.example.com",
		Subject: "u-1",
		Claims: map[string]any{
			"name":           "Carol Chen",
			"name#de":        "Carola Chen",
			"email":          "carol@example.com",
			"email_verified": true,
			"updated_at":     float64(1700000000),
			"address":        map[string]any{"country": "NL", "locality": "Delft"},
			"groups":         []any{"admins", "staff"},
		},
		TaggedClaim:    "name#de",
		MissingClaim:   "phone_number",
		UnknownSubject: "nobody",
	}
}
