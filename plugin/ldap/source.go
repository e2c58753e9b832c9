package ldap

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/plugin"
)

// Source is an LDAP claims source and password checker. It implements
// plugin.ClaimsSource, plugin.ClaimsSupporter, plugin.Initializer,
// plugin.HealthChecker and io.Closer, and is safe for concurrent use.
type Source struct {
	p    *parsed
	pool *pool
	log  *slog.Logger
}

var (
	_ plugin.ClaimsSource    = (*Source)(nil)
	_ plugin.ClaimsSupporter = (*Source)(nil)
	_ plugin.Initializer     = (*Source)(nil)
	_ plugin.HealthChecker   = (*Source)(nil)
)

// New validates cfg and reads its files; it does not connect (Init does).
func New(cfg Config) (*Source, error) {
	p, err := parse(cfg)
	if err != nil {
		return nil, err
	}
	return &Source{p: p, pool: newPool(p), log: slog.New(slog.DiscardHandler)}, nil
}

// Init implements plugin.Initializer: it connects and binds as the service
// account, so that a wrong URL, certificate or bind password stops
// start-up with a clear message.
func (s *Source) Init(ctx context.Context, env plugin.Env) error {
	if env.Log != nil {
		s.log = env.Log
	}
	if err := s.Healthy(ctx); err != nil {
		return fmt.Errorf("ldap %s: %w", s.p.cfg.URL, err)
	}
	return nil
}

// Healthy implements plugin.HealthChecker: a base-scope read of base_dn
// on a pooled connection, which also proves the service bind.
func (s *Source) Healthy(ctx context.Context) error {
	return s.pool.do(ctx, func(c *ldap.Conn) error {
		_, err := c.Search(ldap.NewSearchRequest(s.p.cfg.BaseDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
			1, 0, false, "(objectClass=*)", []string{"1.1"}, nil))
		if err != nil {
			return fmt.Errorf("read base_dn %s: %w", s.p.cfg.BaseDN, err)
		}
		return nil
	})
}

// Close implements io.Closer.
func (s *Source) Close() error {
	s.pool.close()
	return nil
}

// SupportedClaims implements plugin.ClaimsSupporter: the mapped claims.
func (s *Source) SupportedClaims() []string {
	return slices.Sorted(func(yield func(string) bool) {
		for name := range s.p.byClaim {
			if !yield(name) {
				return
			}
		}
	})
}

// subjectFilter puts the RFC 4515-escaped value into a filter template, so
// that a subject such as "*)(uid=*" is a literal value, not filter syntax.
func subjectFilter(tmpl, placeholder, value string) string {
	return strings.ReplaceAll(tmpl, placeholder, ldap.EscapeFilter(value))
}

// compile parses a filter (RFC 4515); used to validate templates.
func compile(filter string) (any, error) { return ldap.CompileFilter(filter) }

// find searches base_dn for the one entry filter selects; no entry is
// (nil, nil), several are an error.
func (s *Source) find(c *ldap.Conn, filter string, attrs []string) (*ldap.Entry, error) {
	res, err := c.Search(ldap.NewSearchRequest(s.p.cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		2, int(s.p.cfg.Timeout/time.Second), false, filter, attrs, nil))
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded),
		err == nil && len(res.Entries) > 1:
		return nil, errors.New("the filter matches more than one entry; make it select one")
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		return nil, fmt.Errorf("base_dn %s does not exist", s.p.cfg.BaseDN)
	case err != nil:
		return nil, err
	case len(res.Entries) == 0:
		return nil, nil
	}
	return res.Entries[0], nil
}

// Claims implements plugin.ClaimsSource. It returns the requested claims
// that are mapped and present in the subject's entry, under the names
// requested; "name#de" is served from the mapped attribute's lang-de
// option (RFC 3866), tags compared case-insensitively. An unknown subject
// is an empty map.
func (s *Source) Claims(ctx context.Context, req plugin.ClaimsRequest) (map[string]any, error) {
	out := map[string]any{}
	if req.Subject == "" {
		return out, nil
	}
	var attrs []string
	for _, name := range req.Claims {
		base, _, _ := strings.Cut(name, "#")
		for _, m := range s.p.byClaim[base] {
			if !slices.Contains(attrs, m.attr) {
				attrs = append(attrs, m.attr)
			}
		}
	}
	if len(attrs) == 0 {
		return out, nil
	}
	var entry *ldap.Entry
	err := s.pool.do(ctx, func(c *ldap.Conn) error {
		var err error
		entry, err = s.find(c, subjectFilter(s.p.cfg.Filter, SubPlaceholder, req.Subject), attrs)
		return err
	})
	if err != nil {
		return nil, unavailable(fmt.Errorf("ldap claims: %w", err))
	}
	if entry == nil {
		return out, nil
	}
	values := indexEntry(entry)
	for _, name := range req.Claims {
		base, tag, tagged := strings.Cut(name, "#")
		ms := s.p.byClaim[base]
		if len(ms) == 0 || (tagged && tag == "") {
			continue
		}
		if v, ok := s.claim(ms, values, strings.ToLower(tag)); ok {
			out[name] = v
		}
	}
	return out, nil
}

// attrKey is an attribute type and language tag, both lower-cased; tag
// is empty for values without a language option.
type attrKey struct{ attr, tag string }

// indexEntry groups an entry's values by attribute type and language tag.
// Values with other options than lang-… are left out: they are not the
// plain value.
func indexEntry(e *ldap.Entry) map[attrKey][]string {
	out := map[attrKey][]string{}
	for _, a := range e.Attributes {
		parts := strings.Split(a.Name, ";")
		k := attrKey{attr: strings.ToLower(parts[0])}
		other := false
		for _, opt := range parts[1:] {
			if t, ok := strings.CutPrefix(strings.ToLower(opt), "lang-"); ok && t != "" {
				k.tag = t
			} else {
				other = true
			}
		}
		if !other {
			out[k] = append(out[k], a.Values...)
		}
	}
	return out
}

// claim builds one claim's value from its mappings.
func (s *Source) claim(ms []mapping, values map[attrKey][]string, tag string) (any, bool) {
	if ms[0].member != "" {
		addr := map[string]any{}
		for _, m := range ms {
			if vs := values[attrKey{strings.ToLower(m.attr), tag}]; len(vs) > 0 {
				addr[m.member] = postal(vs[0])
			}
		}
		return addr, len(addr) > 0
	}
	m := ms[0]
	vs := values[attrKey{strings.ToLower(m.attr), tag}]
	if len(vs) == 0 {
		return nil, false
	}
	if m.multi {
		arr := make([]any, 0, len(vs))
		for _, v := range vs {
			if c, ok := s.convert(m.claim, v); ok {
				arr = append(arr, c)
			}
		}
		return arr, len(arr) > 0
	}
	return s.convert(m.claim, vs[0])
}

// postal turns the "$" line separator of the Postal Address syntax
// (RFC 4517 §3.3.28) into the newline of the address claim (OIDC Core
// §5.1.1); "\24" and "\5C" are the escaped "$" and "\".
func postal(v string) string {
	if !strings.Contains(v, "$") && !strings.Contains(v, `\`) {
		return v
	}
	lines := strings.Split(v, "$")
	for i, l := range lines {
		l = strings.ReplaceAll(l, `\24`, "$")
		lines[i] = strings.ReplaceAll(l, `\5C`, `\`)
	}
	return strings.Join(lines, "\n")
}

// convert gives the claims OIDC Core §5.1 defines as booleans and numbers
// their JSON type: Boolean syntax (RFC 4517 §3.3.3) "TRUE"/"FALSE", and
// updated_at from an integer or Generalized Time (RFC 4517 §3.3.13, e.g.
// modifyTimestamp). A value that does not convert is left out and logged.
func (s *Source) convert(claim, v string) (any, bool) {
	switch claim {
	case "email_verified", "phone_number_verified":
		switch strings.ToUpper(v) {
		case "TRUE":
			return true, true
		case "FALSE":
			return false, true
		}
	case "updated_at":
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n, true
		}
		if t, err := ber.ParseGeneralizedTime([]byte(v)); err == nil {
			return t.Unix(), true
		}
	default:
		return v, true
	}
	s.log.Warn("ldap attribute value does not fit its claim; left out", "claim", claim)
	return nil, false
}

// ErrInvalidCredentials is plugin.ErrInvalidCredentials: an unknown user,
// a wrong password and an empty password are indistinguishable.
var ErrInvalidCredentials = plugin.ErrInvalidCredentials

// Authenticate checks a username and password by binding as the user
// (RFC 4513 §5.1.3): it finds the user's entry with login_filter (or
// filter) as the service account, binds as that entry's DN with the
// password, and returns the entry's subject_attribute. For an unknown
// username it binds as a DN that does not exist, so that the directory
// does the same round trips either way. The connection is bound as the
// service account again before it returns to the pool.
func (s *Source) Authenticate(ctx context.Context, username, password string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("ldap authenticate: %w", err)
	}
	// An empty password would be an unauthenticated bind, which succeeds
	// (RFC 4513 §5.1.2); never treat it as a password check.
	if username == "" || password == "" {
		return "", ErrInvalidCredentials
	}
	tmpl, ph := s.p.cfg.LoginFilter, UsernamePlaceholder
	if tmpl == "" {
		tmpl, ph = s.p.cfg.Filter, SubPlaceholder
	}
	var sub string
	err := s.pool.do(ctx, func(c *ldap.Conn) error {
		entry, err := s.find(c, subjectFilter(tmpl, ph, username), []string{s.p.cfg.SubjectAttribute})
		if err != nil {
			return err
		}
		dn := ""
		if entry != nil {
			dn = entry.DN
		} else {
			dn = "cn=keyward-no-such-user-" + randomHex() + "," + s.p.cfg.BaseDN
		}
		bindErr := c.Bind(dn, password)
		// Back to the service identity whatever happened, so that the
		// pooled connection searches as it should.
		// A failed bind leaves the connection anonymous (RFC 4511 §4.2.1).
		if bindErr == nil || !broken(bindErr) {
			if err := s.pool.bindService(c); err != nil {
				return err
			}
		}
		switch {
		case ldap.IsErrorWithCode(bindErr, ldap.LDAPResultInvalidCredentials), entry == nil && bindErr == nil:
			return ErrInvalidCredentials
		case bindErr != nil:
			return fmt.Errorf("bind as the user: %w", bindErr)
		}
		sub = entry.GetEqualFoldAttributeValue(s.p.cfg.SubjectAttribute)
		if sub == "" {
			return fmt.Errorf("the user's entry has no %s (subject_attribute)", s.p.cfg.SubjectAttribute)
		}
		return nil
	})
	if errors.Is(err, ErrInvalidCredentials) {
		return "", ErrInvalidCredentials
	}
	if err != nil {
		return "", unavailable(fmt.Errorf("ldap authenticate: %w", err))
	}
	return sub, nil
}

// unavailable turns an outage — a network error, a timeout, the request's
// context ending — into temporarily_unavailable (RFC 6749 §5.2, 503), as
// the web hook plug-ins do, with err as its cause (errors.Is still finds
// context.DeadlineExceeded). A directory that answered (a filter matching
// several entries, a refused service bind) stays a plain error: a
// configuration problem.
func unavailable(err error) error {
	if !broken(err) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return oauth.TemporarilyUnavailable("the directory is unavailable").WithCause(err)
}

func randomHex() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
