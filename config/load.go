package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
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
// in that order of precedence, and validates it. A returned error is a
// *Problems listing every problem, one per line, each starting with its key
// (docs/configuration.md, "Errors").
func Load(src Sources) (Config, error) {
	cfg, errs := load(src)
	if len(errs) > 0 {
		return Config{}, &Problems{List: errs}
	}
	return cfg, nil
}

// Problems is every problem of a configuration. Its message has one line
// per problem: the key path, the value and what is allowed, and for a value
// from the environment the variable's name.
type Problems struct {
	List []error
}

func (p *Problems) Error() string {
	var b strings.Builder
	if len(p.List) == 1 {
		b.WriteString("config: 1 problem:")
	} else {
		fmt.Fprintf(&b, "config: %d problems:", len(p.List))
	}
	for _, e := range p.List {
		b.WriteString("\n  ")
		b.WriteString(oneLine(e))
	}
	return b.String()
}

// Unwrap returns the problems.
func (p *Problems) Unwrap() []error { return p.List }

// Check loads the configuration like Load and returns every problem with
// it, one error per problem, each starting with the key it concerns (or
// with the file, when the file cannot be read or parsed). `keyward config
// check` prints them.
func Check(src Sources) []error {
	_, errs := load(src)
	return errs
}

func load(src Sources) (Config, []error) {
	k := koanf.New(".")
	if err := k.Load(confmap.Provider(toMap(Default()), "."), nil); err != nil {
		return Config{}, []error{fmt.Errorf("load defaults: %w", err)}
	}

	env := envValues(src.Environ)
	path := src.File
	if path == "" {
		path, _ = env["config"].(string)
	}
	delete(env, "config")
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			return Config{}, []error{fmt.Errorf("config file: %w", err)}
		}
		if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
			return Config{}, []error{fmt.Errorf("config file %s: %w", path, err)}
		}
	}
	if err := k.Load(confmap.Provider(env, "."), nil); err != nil {
		return Config{}, []error{fmt.Errorf("load environment: %w", err)}
	}
	if err := k.Load(confmap.Provider(src.Flags, "."), nil); err != nil {
		return Config{}, []error{fmt.Errorf("load flags: %w", err)}
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
	var errs []error
	badKeys := map[string]bool{}
	if err != nil {
		for _, e := range decodeProblems(err) {
			errs = append(errs, withValue(e, k))
			badKeys[e.key] = true
		}
	}
	if cfg.Demo {
		cfg.Dev = true
	}
	// A key that failed to decode holds its zero value; its validation
	// message would only repeat the problem in other words.
	for _, e := range cfg.Validate() {
		key, _, _ := strings.Cut(e.Error(), " ")
		if !badKeys[strings.TrimSuffix(key, ":")] {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		return Config{}, fromEnv(errs, env, src.Flags)
	}
	if cfg.Demo && !explicitListen(src, path, env) {
		// Demo mode publishes demo users and a demo client secret: it
		// binds loopback unless the operator chose an address.
		cfg.Listen = DemoListen
	}
	return cfg, nil
}

// DemoListen is where demo mode listens unless listen is set.
const DemoListen = "127.0.0.1:8080"

// explicitListen reports whether a file, the environment or a flag set
// listen.
func explicitListen(src Sources, path string, env map[string]any) bool {
	if _, ok := env["listen"]; ok {
		return true
	}
	if _, ok := src.Flags["listen"]; ok {
		return true
	}
	if path == "" {
		return false
	}
	k := koanf.New(".")
	return k.Load(file.Provider(path), yaml.Parser()) == nil && k.Exists("listen")
}

// fromEnv names the environment variable in each problem whose key took
// its value from the environment (and not from a flag, which wins).
func fromEnv(errs []error, env, flags map[string]any) []error {
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
		key, _, _ := strings.Cut(e.Error(), " ")
		key = strings.TrimSuffix(key, ":")
		if _, set := env[key]; !set {
			continue
		}
		if _, flag := flags[key]; flag {
			continue
		}
		out[i] = fmt.Errorf("%w (from %s)", e, EnvName(key))
	}
	return out
}

type keyProblem struct {
	key string
	err error
	// value: the decoder's message lacks the value (mapstructure leaves
	// it out); withValue adds it from the loaded layers.
	decode bool
	msg    string
}

// withValue puts the value that failed to decode, and what is allowed,
// into a decode problem's message. Secrets are not echoed.
func withValue(p keyProblem, k *koanf.Koanf) error {
	if !p.decode || p.key == "" {
		return p.err
	}
	msg := p.msg
	if strings.HasPrefix(msg, "time: ") { // time.ParseDuration
		msg += `; allowed: a duration such as "90s", "10m" or "1h"`
	}
	v := k.Get(p.key)
	if v == nil || p.key == "api_token" || p.key == "master_key" {
		return fmt.Errorf("%s: %s", p.key, msg)
	}
	return fmt.Errorf("%s: %q: %s", p.key, fmt.Sprint(v), msg)
}

// decodeProblems splits mapstructure's joined error tree into one problem
// per key: "unknown key tokens.foo" for each unknown key, "tokens.x: …" for
// each value that does not decode.
func decodeProblems(err error) []keyProblem {
	switch e := err.(type) {
	case interface{ Unwrap() []error }:
		var out []keyProblem
		for _, x := range e.Unwrap() {
			out = append(out, decodeProblems(x)...)
		}
		return out
	case *mapstructure.DecodeError:
		inner := e.Unwrap()
		if _, multi := inner.(interface{ Unwrap() []error }); multi {
			return decodeProblems(inner)
		}
		if keys, ok := strings.CutPrefix(inner.Error(), "has invalid keys: "); ok {
			// mapstructure (v2.5) names the top level by its Go type:
			// that is no key.
			parent := e.Name()
			if parent == fmt.Sprintf("%T", Config{}) {
				parent = ""
			}
			var out []keyProblem
			for _, k := range strings.Split(keys, ", ") {
				key := k
				if parent != "" {
					key = parent + "." + k
				}
				out = append(out, keyProblem{key: key, err: fmt.Errorf("%s: unknown key", key)})
			}
			return out
		}
		return []keyProblem{{key: e.Name(), err: fmt.Errorf("%s: %s", e.Name(), oneLine(inner)), decode: true, msg: oneLine(inner)}}
	default:
		// mapstructure wraps the joined problems in one "decoding failed"
		// error; look through it.
		if u := errors.Unwrap(err); u != nil {
			return decodeProblems(u)
		}
		return []keyProblem{{err: err}}
	}
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

// Changed lists the keys whose values differ between two configurations,
// except those in except; SIGHUP logs them as needing a restart.
func Changed(a, b Config, except ...string) []string {
	am, bm := flatten(toMap(a)), flatten(toMap(b))
	var out []string
	for key, av := range am {
		if slices.Contains(except, key) {
			continue
		}
		if !reflect.DeepEqual(av, bm[key]) {
			out = append(out, key)
		}
	}
	slices.Sort(out)
	return out
}

func flatten(m map[string]any) map[string]any {
	out := map[string]any{}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok {
				walk(prefix+k+".", sub)
				continue
			}
			out[prefix+k] = v
		}
	}
	walk("", m)
	return out
}
