// Package webhook implements plugin SPIs by calling an HTTP web hook: a
// POST of JSON, signed with HMAC-SHA256 over the timestamp and body
// (X-Keyward-Timestamp, X-Keyward-Signature: v1=<hex>), optionally carrying a
// bearer token, with a per-call deadline and a size-limited response
// (docs/architecture.md). The claims source connector follows Connect2id's
// HTTP claims source
// (https://connect2id.com/products/server/docs/integration/claims-source).
//
// It imports only the standard library and packages plugin and oauth; it
// must not import internal/... packages, store or other plug-ins.
package webhook
