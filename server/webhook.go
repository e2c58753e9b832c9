package server

import (
	"net/http"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/plugin"
	"github.com/keyward/keyward/plugin/webhook"
)

// newWebhookClaimsSource builds a web-hook claims source; client nil means
// the plug-in's own.
func newWebhookClaimsSource(src config.ClaimsSource, client *http.Client) (plugin.ClaimsSource, error) {
	return webhook.NewClaimsSource(webhook.ClaimsSourceConfig{
		URL:             src.URL,
		BearerToken:     string(src.Token),
		HMACSecret:      []byte(src.HMACSecret),
		Timeout:         src.Timeout,
		SupportedClaims: src.SupportedClaims,
		HTTPClient:      client,
	})
}
