package config

import (
	"fmt"
	"net/url"
)

// Tracing configures OpenTelemetry tracing, off unless OTLPEndpoint is set
// (docs/operator-guide.md, "Tracing").
type Tracing struct {
	// OTLPEndpoint is the full OTLP/HTTP (protobuf) traces URL of a
	// collector, e.g. http://otel-collector:4318/v1/traces.
	OTLPEndpoint string `koanf:"otlp_endpoint"`
	// SampleRatio is the share of new traces recorded, 0 to 1; requests
	// that arrive with a sampled W3C traceparent are always recorded.
	SampleRatio float64 `koanf:"sample_ratio"`
}

func (t Tracing) validate() []error {
	var errs []error
	if t.OTLPEndpoint != "" {
		if u, err := url.Parse(t.OTLPEndpoint); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			errs = append(errs, fmt.Errorf("tracing.otlp_endpoint %q must be an http(s) URL, e.g. http://collector:4318/v1/traces", t.OTLPEndpoint))
		}
	}
	// The negated form also refuses NaN.
	if !(t.SampleRatio >= 0 && t.SampleRatio <= 1) {
		errs = append(errs, fmt.Errorf("tracing.sample_ratio %v must be between 0 and 1", t.SampleRatio))
	}
	return errs
}
