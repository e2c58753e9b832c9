package tracing

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/keyward/keyward/plugin"
)

// ClaimsSource wraps a claims source so that each call is a span named
// claims_source with the source's name (its configuration path and type)
// as an attribute; with tracing off it returns cs unchanged. The wrapper
// keeps plugin.ClaimsSupporter when cs has it, since the resolver routes
// claims by it. Claim values are never recorded.
func (t *Tracer) ClaimsSource(name string, cs plugin.ClaimsSource) plugin.ClaimsSource {
	if t == nil {
		return cs
	}
	traced := tracedClaims{t: t, name: name, next: cs}
	if sup, ok := cs.(plugin.ClaimsSupporter); ok {
		return tracedSupporter{traced, sup}
	}
	return traced
}

type tracedClaims struct {
	t    *Tracer
	name string
	next plugin.ClaimsSource
}

func (c tracedClaims) Claims(ctx context.Context, req plugin.ClaimsRequest) (map[string]any, error) {
	ctx, span := c.t.start(ctx, "claims_source", trace.SpanKindInternal,
		attribute.String("keyward.claims_source", c.name))
	v, err := c.next.Claims(ctx, req)
	end(span, err)
	return v, err
}

type tracedSupporter struct {
	tracedClaims
	sup plugin.ClaimsSupporter
}

func (c tracedSupporter) SupportedClaims() []string { return c.sup.SupportedClaims() }
