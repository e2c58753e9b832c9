package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
)

// EnvPrefix prefixes every environment variable Keyward reads.
const EnvPrefix = "KEYWARD_"

// Sources are the layers Load merges, lowest precedence first after the
// defaults.
type Sources struct {
	// File is the YAML config file; empty: none, unless KEYWARD_CONFIG names
	// one.
	File string
	// Environ is the process environment as "KEY=value" strings.
	Environ []string
	// Flags maps config keys (dotted, e.g. "data_dir") to the values of the
	// flags that were set on the command line.
	Flags map[string]any
}

// Load builds the configuration from defaults, file, environment and flags,
// in that order of precedence, and validates it. A returned error is one
// line (several problems are joined with "; ").
func Load(src Sources) (Config, error) {
	k := koanf.New(".")
	if err := k.Load(confmap.Provider(toMap(Default()), "."), nil); err != nil {
		return Config{}, fmt.Errorf("load defaults: %w", err)
	}

	env := envValues(src.Environ)
	path := src.File
	if path == "" {
		path, _ = env["config"].(string)
	}
	delete(env, "config")
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			return Config{}, fmt.Errorf("config file: %w", err)
		}
		if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
			return Config{}, fmt.Errorf("config file %s: %w", path, err)
		}
	}
	if err := k.Load(confmap.Provider(env, "."), nil); err != nil {
		return Config{}, fmt.Errorf("load environment: %w", err)
	}
	if err := k.Load(confmap.Provider(src.Flags, "."), nil); err != nil {
		return Config{}, fmt.Errorf("load flags: %w", err)
	}

	var cfg Config
	err := k.UnmarshalWithConf("", &cfg, koanf.UnmarshalConf{DecoderConfig: &mapstructure.DecoderConfig{
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToSliceHookFunc(","),
		),
		WeaklyTypedInput: true,
		ErrorUnused:      true,
		TagName:          "koanf",
		Result:           &cfg,
	}})
	if err != nil {
		return Config{}, fmt.Errorf("config: %s", oneLine(err))
	}
	if cfg.Demo {
		cfg.Dev = true
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		return Config{}, fmt.Errorf("config: %s", oneLine(errors.Join(errs...)))
	}
	return cfg, nil
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}

// EnvName returns the environment variable for a dotted config key:
// KEYWARD_ and the key upper-cased with "." and "-" replaced by "_".
func EnvName(key string) string {
	return EnvPrefix + strings.NewReplacer(".", "_", "-", "_").Replace(strings.ToUpper(key))
}

// envValues maps the KEYWARD_* variables onto the known config keys.
// Matching against the known keys, rather than splitting on "_", keeps keys
// that contain "_" themselves (data_dir, api_tokens.authz_sessions)
// unambiguous. Unknown KEYWARD_* variables are ignored: tests and tools use
// the prefix too.
func envValues(environ []string) map[string]any {
	byEnv := map[string]string{EnvName("config"): "config"}
	for _, key := range AllKeys() {
		byEnv[EnvName(key)] = key
	}
	out := map[string]any{}
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if key, known := byEnv[name]; known {
			out[key] = value
		}
	}
	return out
}

// AllKeys lists every scalar or list config key in dotted form.
func AllKeys() []string {
	var keys []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("koanf")
			if tag == "" {
				continue
			}
			key := prefix + tag
			if f.Type.Kind() == reflect.Struct {
				walk(f.Type, key+".")
				continue
			}
			if f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct {
				continue // lists of objects come from the file only
			}
			if f.Type.Kind() == reflect.Map {
				continue // so do free-form objects (plug-in configs)
			}
			keys = append(keys, key)
		}
	}
	walk(reflect.TypeOf(Config{}), "")
	return keys
}

// toMap flattens a Config into the nested map koanf loads defaults from.
func toMap(c Config) map[string]any {
	var conv func(v reflect.Value) any
	conv = func(v reflect.Value) any {
		switch v.Kind() {
		case reflect.Struct:
			m := map[string]any{}
			for i := range v.NumField() {
				tag := v.Type().Field(i).Tag.Get("koanf")
				if tag != "" {
					m[tag] = conv(v.Field(i))
				}
			}
			return m
		case reflect.Slice:
			out := make([]any, v.Len())
			for i := range v.Len() {
				out[i] = conv(v.Index(i))
			}
			return out
		case reflect.String:
			return v.String()
		default:
			return v.Interface()
		}
	}
	return conv(reflect.ValueOf(c)).(map[string]any)
}
