package loginui_test

import (
	"strings"
	"testing"

	"github.com/keyward/keyward/loginui"
)

func TestConsentShowsAuthorizationDetailsAndResources(t *testing.T) {
	h := newHarness(t, func(_ *loginui.Config, api *fakeAPI) {
		api.consentExtra = map[string]any{
			"authorization_details": []any{map[string]any{"type": "payment_initiation", "creditorName": "Merchant <b>A</b>"}},
			"resource":              []string{"https://api.example.com"},
		}
	})
	p := h.consentPage(t, authzQuery())
	for _, want := range []string{"For this transaction", "payment_initiation", "creditorName", "https://api.example.com"} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("consent page lacks %q:\n%s", want, p.Body)
		}
	}
	if strings.Contains(p.Body, "<b>A</b>") {
		t.Error("authorization_details reach the page unescaped")
	}
}
