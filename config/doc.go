// Package config defines Keyward's typed configuration, its defaults and its
// validation, and loads it from the layered sources of the run contract:
// defaults, then the optional YAML file, then KEYWARD_* environment
// variables, then command-line flags (docs/configuration.md).
//
// koanf is used only here. The environment is read through an injected
// function, so tests never touch the process environment. The package knows
// nothing of the server it configures.
package config
