package server

import (
	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/plugin"
	"github.com/keyward/keyward/plugin/webhook"
)

func newWebhookClaimsSource(src config.ClaimsSource) (plugin.ClaimsSource, error) {
	return webhook.NewClaimsSource(webhook.ClaimsSourceConfig{
		URL:             src.URL,
		BearerToken:     string(src.Token),
		HMACSecret:      []byte(src.HMACSecret),
		Timeout:         src.Timeout,
		SupportedClaims: src.SupportedClaims,
	})
}
