package config

import (
	"math"
	"strings"
	"testing"
)

// TestTracingKeys: the tracing keys load from the environment, tracing is
// off by default with every new trace sampled once on, and bad values are
// reported with their key.
func TestTracingKeys(t *testing.T) {
	d := Default()
	if d.Tracing.OTLPEndpoint != "" || d.Tracing.SampleRatio != 1 {
		t.Errorf("default tracing %+v", d.Tracing)
	}
	cfg, err := Load(Sources{Environ: []string{
		"KEYWARD_TRACING_OTLP_ENDPOINT=http://collector:4318/v1/traces",
		"KEYWARD_TRACING_SAMPLE_RATIO=0.25",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Tracing.OTLPEndpoint != "http://collector:4318/v1/traces" || cfg.Tracing.SampleRatio != 0.25 {
		t.Fatalf("loaded %+v", cfg.Tracing)
	}
	if errs := cfg.Validate(); len(errs) != 0 {
		t.Fatalf("valid tracing refused: %v", errs)
	}
	for _, bad := range []Tracing{
		{OTLPEndpoint: "collector:4318", SampleRatio: 1},
		{OTLPEndpoint: "grpc://collector:4317", SampleRatio: 1},
		{SampleRatio: 1.5},
		{SampleRatio: -0.1},
		{SampleRatio: math.NaN()},
	} {
		c := Default()
		c.Tracing = bad
		var msgs []string
		for _, err := range c.Validate() {
			msgs = append(msgs, err.Error())
		}
		if len(msgs) != 1 || !strings.HasPrefix(msgs[0], "tracing.") {
			t.Errorf("%+v: problems %v, want one naming its tracing key", bad, msgs)
		}
	}
}
