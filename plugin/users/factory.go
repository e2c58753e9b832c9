package users

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Config is the plug-in configuration of the users claims source
// (claims.sources: [{type: users, config: {file: …}}]).
type Config struct {
	// File is the users file path.
	File string `json:"file"`
}

// Factory is a plugin.Factory that loads the users file named by the
// configuration and returns its *Directory.
func Factory(raw json.RawMessage) (any, error) {
	var cfg Config
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("users plug-in config: %w", err)
	}
	if cfg.File == "" {
		return nil, errors.New("users plug-in config: file is required")
	}
	return Load(cfg.File)
}
