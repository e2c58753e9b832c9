package server

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/plugin"
)

// prebuildPlugins runs the factories of the downstream plug-ins the
// configuration selects, before New opens or creates anything: a plug-in
// whose settings are wrong stops the node with no data directory, schema
// or key created (docs/operator-guide.md). The results are keyed by
// configuration path ("claims.sources[1]", "grants.password"); New hands
// each to where it is used (takePrebuilt) and closes those it did not.
func prebuildPlugins(cfg config.Config, factories plugin.Factories) (map[string]any, error) {
	out := map[string]any{}
	build := func(path string, factory plugin.Factory, settings any) error {
		raw, err := json.Marshal(settings)
		if err != nil {
			return fmt.Errorf("%s: encode plug-in config: %w", path, err)
		}
		p, err := factory(raw)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		out[path] = p
		return nil
	}
	var err error
	for i, src := range cfg.Claims.Sources {
		if f := factories[src.Type]; f != nil && err == nil {
			err = build(fmt.Sprintf("claims.sources[%d]", i), f, src.Config)
		}
	}
	for path, g := range map[string]config.GrantHandler{
		"grants.client_credentials": cfg.Grants.ClientCredentials, "grants.password": cfg.Grants.Password,
		"grants.jwt_bearer": cfg.Grants.JWTBearer, "grants.saml2_bearer": cfg.Grants.SAML2Bearer,
	} {
		if f := factories[g.Handler]; f != nil && err == nil {
			err = build(path+".handler", f, g.Config)
		}
	}
	if err != nil {
		closePrebuilt(out)
		return nil, err
	}
	return out, nil
}

// takePrebuilt hands over the plug-in built for path.
func (s *Server) takePrebuilt(path string) (any, error) {
	p, ok := s.prebuilt[path]
	if !ok {
		return nil, fmt.Errorf("%s: plug-in not built", path)
	}
	delete(s.prebuilt, path)
	return p, nil
}

// closePrebuilt closes the plug-ins nobody took.
func closePrebuilt(m map[string]any) {
	for path, p := range m {
		if c, ok := p.(io.Closer); ok {
			c.Close()
		}
		delete(m, path)
	}
}
