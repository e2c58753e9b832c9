package ldap

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Defaults of Config's optional fields.
const (
	DefaultPoolSize         = 10
	DefaultTimeout          = 5 * time.Second
	DefaultSubjectAttribute = "uid"
	// MaxPoolSize bounds pool_size: a directory is shared with other
	// applications, and each connection is a slot on the server.
	MaxPoolSize = 256
	// SubPlaceholder is replaced in Filter by the RFC 4515-escaped subject;
	// UsernamePlaceholder in LoginFilter by the escaped username.
	SubPlaceholder      = "{sub}"
	UsernamePlaceholder = "{username}"
)

// Config configures one LDAP source (docs/configuration.md, claims.sources
// type ldap).
type Config struct {
	// URL is ldap://host[:port] or ldaps://host[:port].
	URL string
	// StartTLS upgrades an ldap:// connection with the StartTLS extended
	// operation (RFC 4511 §4.14) before binding.
	StartTLS bool
	// CAFile is a PEM bundle the server certificate is checked against;
	// empty: the system roots.
	CAFile string
	// TLSConfig overrides the TLS client configuration (embedding and
	// tests); CAFile is ignored when set.
	TLSConfig *tls.Config

	// BindDN and BindPassword (or the file BindPasswordFile) are the
	// service account the source searches with.
	BindDN           string
	BindPassword     string
	BindPasswordFile string

	// BaseDN is where subjects are searched (whole subtree); Filter
	// selects the subject's entry, with {sub} standing for the subject.
	BaseDN string
	Filter string
	// Claims maps a claim name to an attribute (docs/configuration.md):
	// "attr" for the first value, "attr[]" for every value as an array;
	// address.<member> names build the structured address claim (OIDC Core
	// §5.1.1).
	Claims map[string]string

	// SubjectAttribute holds the subject in a user's entry, read after a
	// password check; LoginFilter finds the entry by the username typed,
	// with {username} standing for it (default: Filter with {sub}).
	SubjectAttribute string
	LoginFilter      string

	// PoolSize bounds the open connections; Timeout bounds each dial and
	// operation.
	PoolSize int
	Timeout  time.Duration
}

// LogValue keeps the bind password out of structured logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.String("url", c.URL), slog.String("bind_dn", c.BindDN),
		slog.String("base_dn", c.BaseDN), slog.String("filter", c.Filter))
}

// String keeps the bind password out of %v output.
func (c Config) String() string {
	return fmt.Sprintf("ldap.Config{URL: %q, BindDN: %q, BaseDN: %q, Filter: %q}", c.URL, c.BindDN, c.BaseDN, c.Filter)
}

// attrName is an LDAP attribute description without options (RFC 4512
// §2.5: a descriptor or a numeric OID).
var attrName = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+)$`)

// addressMembers are the members of the address claim (OIDC Core §5.1.1).
var addressMembers = map[string]bool{
	"formatted": true, "street_address": true, "locality": true,
	"region": true, "postal_code": true, "country": true,
}

// mapping is one claim's source attribute.
type mapping struct {
	claim string // "email", or "address" for address members
	// member is the address member ("street_address"), empty otherwise.
	member string
	attr   string
	multi  bool
}

type parsed struct {
	cfg       Config
	password  string
	tlsConfig *tls.Config
	useTLS    bool // ldaps://
	mappings  []mapping
	// byClaim maps a top-level claim name to its mappings (several for
	// address).
	byClaim map[string][]mapping
}

// parse validates cfg and reads the password file and CA bundle. Messages
// name config keys and never contain the password.
func parse(cfg Config) (*parsed, error) {
	p := &parsed{cfg: cfg, byClaim: map[string][]mapping{}}
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	u, err := url.Parse(cfg.URL)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "ldap" && u.Scheme != "ldaps"):
		add("url %q must be ldap://host[:port] or ldaps://host[:port]", cfg.URL)
	case u.Path != "" && u.Path != "/", u.RawQuery != "", u.User != nil:
		add("url %q must not carry a DN, query or credentials (use base_dn, filter and bind_dn)", cfg.URL)
	default:
		p.useTLS = u.Scheme == "ldaps"
	}
	if cfg.StartTLS && p.useTLS {
		add("start_tls applies to ldap:// URLs; ldaps:// is TLS already")
	}
	if cfg.BindDN == "" {
		add("bind_dn is required (the service account that searches the directory)")
	}
	switch {
	case cfg.BindPassword != "" && cfg.BindPasswordFile != "":
		add("set bind_password or bind_password_file, not both")
	case cfg.BindPasswordFile != "":
		b, err := os.ReadFile(cfg.BindPasswordFile)
		if err != nil {
			add("bind_password_file: %v", err)
		}
		p.password = strings.TrimRight(string(b), "\r\n")
		if err == nil && p.password == "" {
			add("bind_password_file %s is empty", cfg.BindPasswordFile)
		}
	case cfg.BindPassword != "":
		p.password = cfg.BindPassword
	default:
		// An empty password is an unauthenticated bind (RFC 4513 §5.1.2),
		// not the service account.
		add("bind_password or bind_password_file is required")
	}
	if cfg.BaseDN == "" {
		add("base_dn is required")
	}
	if err := checkTemplate(cfg.Filter, SubPlaceholder); err != nil {
		add("filter: %v", err)
	}
	if cfg.LoginFilter != "" {
		if err := checkTemplate(cfg.LoginFilter, UsernamePlaceholder); err != nil {
			add("login_filter: %v", err)
		}
	}
	if p.cfg.SubjectAttribute == "" {
		p.cfg.SubjectAttribute = DefaultSubjectAttribute
	}
	if !attrName.MatchString(p.cfg.SubjectAttribute) {
		add("subject_attribute %q is not an attribute name", p.cfg.SubjectAttribute)
	}
	if len(cfg.Claims) == 0 {
		add("claims must map at least one claim to an attribute")
	}
	for _, claim := range slices.Sorted(maps.Keys(cfg.Claims)) {
		spec := cfg.Claims[claim]
		m := mapping{claim: claim, attr: spec}
		if base, member, ok := strings.Cut(claim, "."); ok {
			if base != "address" || !addressMembers[member] {
				add("claims: %q: only address.<member> may have a dot (members: formatted, street_address, locality, region, postal_code, country)", claim)
				continue
			}
			m.claim, m.member = base, member
		}
		switch {
		case claim == "" || claim == "sub":
			add("claims: claim name %q is not allowed (sub is the subject)", claim)
			continue
		case strings.Contains(claim, "#"):
			add("claims: %q: map the claim without a language tag; tagged values come from attribute;lang-xx options (RFC 3866)", claim)
			continue
		}
		if a, ok := strings.CutSuffix(spec, "[]"); ok {
			m.attr, m.multi = a, true
		}
		if !attrName.MatchString(m.attr) {
			add("claims: %q: %q is not an attribute name (attr or attr[])", claim, spec)
			continue
		}
		if m.member != "" && m.multi {
			add("claims: %q: address members are single values", claim)
			continue
		}
		if m.member == "" && len(p.byClaim[m.claim]) > 0 || m.member != "" && hasPlain(p.byClaim[m.claim]) {
			add("claims: %q is mapped twice (address and address.<member>)", m.claim)
			continue
		}
		p.mappings = append(p.mappings, m)
		p.byClaim[m.claim] = append(p.byClaim[m.claim], m)
	}
	if cfg.PoolSize < 0 || cfg.PoolSize > MaxPoolSize {
		add("pool_size must be between 1 and %d (0: %d)", MaxPoolSize, DefaultPoolSize)
	}
	if p.cfg.PoolSize == 0 {
		p.cfg.PoolSize = DefaultPoolSize
	}
	if cfg.Timeout < 0 {
		add("timeout must not be negative (0: %s)", DefaultTimeout)
	}
	if p.cfg.Timeout == 0 {
		p.cfg.Timeout = DefaultTimeout
	}
	p.tlsConfig = cfg.TLSConfig
	if p.tlsConfig == nil && (p.useTLS || cfg.StartTLS) && u != nil {
		p.tlsConfig = &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
		if cfg.CAFile != "" {
			pem, err := os.ReadFile(cfg.CAFile)
			pool := x509.NewCertPool()
			if err == nil && !pool.AppendCertsFromPEM(pem) {
				err = errors.New("no PEM certificate in it")
			}
			if err != nil {
				add("ca_file: %v", err)
			}
			p.tlsConfig.RootCAs = pool
		}
	} else if cfg.CAFile != "" && !p.useTLS && !cfg.StartTLS {
		add("ca_file applies to ldaps:// URLs or start_tls")
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

func hasPlain(ms []mapping) bool {
	for _, m := range ms {
		if m.member == "" {
			return true
		}
	}
	return false
}

// checkTemplate makes sure a filter template holds the placeholder and
// is a valid filter once it is replaced (RFC 4515).
func checkTemplate(tmpl, placeholder string) error {
	if !strings.Contains(tmpl, placeholder) {
		return fmt.Errorf("%q must contain %s", tmpl, placeholder)
	}
	if _, err := compile(strings.ReplaceAll(tmpl, placeholder, "x")); err != nil {
		return fmt.Errorf("%q is not an RFC 4515 filter: %v", tmpl, err)
	}
	return nil
}
