// Package metrics records Keyward's operational metrics once and renders
// them both as the Connect2id monitoring API's Dropwizard JSON
// (GET /monitor/v1/metrics) and as a Prometheus exposition (GET /metrics).
// See docs/operator-guide.md, "Monitoring".
package metrics
