// Command keyward-embed is the keyward command line plus one claims source
// of its own: it takes exactly the flags, environment and config file of
// keyward, and the config file can name the source "favourite-colour".
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/keyward/keyward/cli"
	"github.com/keyward/keyward/plugin"
)

func main() {
	os.Exit(cli.Main(cli.Options{Plugins: plugin.Factories{"favourite-colour": newColourSource}}))
}

// colourSource gives every subject the same favourite_colour claim.
type colourSource struct{ colour string }

// newColourSource builds the source from its config object in the config
// file: claims.sources[].config = {colour: teal}.
func newColourSource(raw json.RawMessage) (any, error) {
	var cfg struct {
		Colour string `json:"colour"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("favourite-colour: %w", err)
	}
	if cfg.Colour == "" {
		return nil, errors.New("favourite-colour: config.colour is required")
	}
	return colourSource{colour: cfg.Colour}, nil
}

func (s colourSource) Claims(_ context.Context, req plugin.ClaimsRequest) (map[string]any, error) {
	if !slices.Contains(req.Claims, "favourite_colour") {
		return map[string]any{}, nil
	}
	return map[string]any{"favourite_colour": s.colour}, nil
}

// SupportedClaims tells Keyward which claims to ask this source for, so
// that it is not called for the others.
func (colourSource) SupportedClaims() []string { return []string{"favourite_colour"} }
