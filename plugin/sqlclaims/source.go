package sqlclaims

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/keyward/keyward/plugin"
)

// Defaults.
const (
	DefaultTimeout      = 2 * time.Second
	DefaultMaxOpenConns = 4
	// maxSubjectLen bounds the subject sent to the database; OIDC subjects
	// are at most 255 ASCII characters (OIDC Core §2).
	maxSubjectLen = 1024
)

// Config configures a SQL claims source.
type Config struct {
	// Driver is "postgres" or "mysql" (MariaDB or MySQL).
	Driver string
	// DSN is the data source name: a PostgreSQL URL or key=value string,
	// or a MySQL "user:pass@tcp(host:3306)/db" DSN. It may hold a password
	// and is never logged. DSNFile names a file holding it instead (one of
	// the two).
	DSN     string
	DSNFile string
	// Query is one SELECT statement with one placeholder, the subject: $1
	// for postgres, ? for mysql. It returns at most one row.
	Query string
	// Claims maps claim names (optionally language-tagged, "name#de") to
	// the query's result columns.
	Claims map[string]string
	// Timeout bounds one lookup, connecting included; zero means
	// DefaultTimeout. The request's own deadline applies when earlier.
	Timeout time.Duration
	// MaxOpenConns bounds the connection pool; zero means
	// DefaultMaxOpenConns.
	MaxOpenConns int
	// JSONColumns name text columns holding JSON, decoded into structured
	// claims (address) or arrays (multi-valued claims). PostgreSQL json and
	// jsonb columns are decoded without being listed; MariaDB's JSON type
	// is LONGTEXT on the wire, so list those here.
	JSONColumns []string
}

// Source is a plugin.ClaimsSource backed by a SQL query. Build it with New;
// Init opens the pool, Healthy pings it and Close drains it.
type Source struct {
	cfg       Config
	dsn       string
	supported []string
	jsonCols  map[string]bool // lower-cased names

	mu  sync.RWMutex
	db  *sql.DB
	log *slog.Logger
}

var (
	_ plugin.ClaimsSource    = (*Source)(nil)
	_ plugin.ClaimsSupporter = (*Source)(nil)
	_ plugin.Initializer     = (*Source)(nil)
	_ plugin.HealthChecker   = (*Source)(nil)
)

// New checks cfg and returns a Source; it opens no connection (Init does).
func New(cfg Config) (*Source, error) {
	switch cfg.Driver {
	case DriverPostgres, DriverMySQL:
	case "":
		return nil, errors.New("sql claims source: driver is required (postgres or mysql)")
	default:
		return nil, fmt.Errorf("sql claims source: driver %q must be postgres or mysql", cfg.Driver)
	}
	dsn := cfg.DSN
	switch {
	case cfg.DSN != "" && cfg.DSNFile != "":
		return nil, errors.New("sql claims source: set dsn or dsn_file, not both")
	case cfg.DSNFile != "":
		b, err := os.ReadFile(cfg.DSNFile)
		if err != nil {
			return nil, fmt.Errorf("sql claims source: dsn_file: %w", err)
		}
		dsn = strings.TrimSpace(string(b))
		if dsn == "" {
			return nil, fmt.Errorf("sql claims source: dsn_file %s is empty", cfg.DSNFile)
		}
	case cfg.DSN == "":
		return nil, errors.New("sql claims source: dsn or dsn_file is required")
	}
	if err := checkDSN(cfg.Driver, dsn); err != nil {
		return nil, fmt.Errorf("sql claims source: dsn: %w", err)
	}
	if err := checkQuery(cfg.Driver, cfg.Query); err != nil {
		return nil, fmt.Errorf("sql claims source: %w", err)
	}
	if len(cfg.Claims) == 0 {
		return nil, errors.New("sql claims source: claims must map at least one claim to a column")
	}
	seen := map[string]bool{}
	for claim, col := range cfg.Claims {
		base, tag, tagged := strings.Cut(claim, "#")
		switch {
		case base == "" || strings.ContainsAny(base, "* ") || (tagged && tag == ""):
			return nil, fmt.Errorf("sql claims source: invalid claim name %q", claim)
		case base == "sub":
			// The subject is the request's; a source never supplies it.
			return nil, errors.New("sql claims source: claims must not map sub")
		case strings.TrimSpace(col) == "":
			return nil, fmt.Errorf("sql claims source: claim %q has no column", claim)
		}
		seen[base] = true
	}
	if cfg.Timeout < 0 || cfg.MaxOpenConns < 0 {
		return nil, errors.New("sql claims source: timeout and max_open_conns must not be negative")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxOpenConns == 0 {
		cfg.MaxOpenConns = DefaultMaxOpenConns
	}
	cfg.Claims = maps.Clone(cfg.Claims)
	cfg.DSN = ""
	jsonCols := map[string]bool{}
	for _, c := range cfg.JSONColumns {
		if !slices.ContainsFunc(slices.Collect(maps.Values(cfg.Claims)), func(col string) bool { return strings.EqualFold(col, c) }) {
			return nil, fmt.Errorf("sql claims source: json_columns names %q, which no claim maps", c)
		}
		jsonCols[strings.ToLower(c)] = true
	}
	return &Source{cfg: cfg, dsn: dsn, jsonCols: jsonCols, supported: slices.Sorted(maps.Keys(seen))}, nil
}

// checkDSN parses the DSN and refuses driver options that would have the
// driver build SQL text from parameters or run several statements.
func checkDSN(driver, dsn string) error {
	switch driver {
	case DriverPostgres:
		if _, err := pgx.ParseConfig(dsn); err != nil {
			return errors.New("not a valid PostgreSQL DSN") // the error may quote the password
		}
	case DriverMySQL:
		c, err := mysql.ParseDSN(dsn)
		if err != nil {
			return errors.New("not a valid MySQL DSN")
		}
		if c.InterpolateParams {
			return errors.New("interpolateParams=true builds SQL text from the subject; remove it")
		}
		if c.MultiStatements {
			return errors.New("multiStatements=true is not allowed")
		}
	}
	return nil
}

// open builds the connection pool; no connection is made yet.
func (s *Source) open() (*sql.DB, error) {
	var db *sql.DB
	switch s.cfg.Driver {
	case DriverPostgres:
		pc, err := pgx.ParseConfig(s.dsn)
		if err != nil {
			return nil, errors.New("not a valid PostgreSQL DSN")
		}
		if pc.ConnectTimeout == 0 {
			pc.ConnectTimeout = s.cfg.Timeout
		}
		// Defence in depth: the session cannot write, whatever the query.
		pc.RuntimeParams["default_transaction_read_only"] = "on"
		db = stdlib.OpenDB(*pc)
	case DriverMySQL:
		mc, err := mysql.ParseDSN(s.dsn)
		if err != nil {
			return nil, errors.New("not a valid MySQL DSN")
		}
		if mc.Timeout == 0 {
			mc.Timeout = s.cfg.Timeout
		}
		conn, err := mysql.NewConnector(mc)
		if err != nil {
			return nil, fmt.Errorf("mysql connector: %w", err)
		}
		db = sql.OpenDB(conn)
	}
	db.SetMaxOpenConns(s.cfg.MaxOpenConns)
	db.SetMaxIdleConns(s.cfg.MaxOpenConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	db.SetConnMaxLifetime(30 * time.Minute)
	return db, nil
}

// Init opens the pool. When the database answers, it also runs the query
// once (for the empty subject) and checks that every mapped column is in
// its result, so that a typo fails start-up. When the database does not
// answer, Init logs and succeeds: the server starts, readiness (Healthy)
// reports the outage and lookups fail until the database is back.
func (s *Source) Init(ctx context.Context, env plugin.Env) error {
	log := env.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db, err := s.open()
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.db != nil {
		s.mu.Unlock()
		_ = db.Close()
		return errors.New("sql claims source: Init called twice")
	}
	s.db, s.log = db, log
	s.mu.Unlock()

	cctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	rows, err := db.QueryContext(cctx, s.cfg.Query, "")
	if err != nil {
		if isQueryError(err) {
			return fmt.Errorf("sql claims source: query: %w", err)
		}
		log.WarnContext(ctx, "sql claims source: database not reachable at start-up; lookups fail until it is", "driver", s.cfg.Driver, "err", err)
		return nil
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return fmt.Errorf("sql claims source: query columns: %w", err)
	}
	if _, err := s.columnIndex(cols); err != nil {
		return err
	}
	return nil
}

// isQueryError tells a query the database refused (syntax, unknown table or
// column, permissions) from a database that could not be reached.
func isQueryError(err error) bool {
	var pgErr interface{ SQLState() string }
	if errors.As(err, &pgErr) {
		// Class 08 is connection exception; 57P is operator intervention
		// (shutdown); everything else is about the query.
		st := pgErr.SQLState()
		return !strings.HasPrefix(st, "08") && !strings.HasPrefix(st, "57P")
	}
	var myErr *mysql.MySQLError
	if errors.As(err, &myErr) {
		// 1045 access denied and 1049 unknown database are start-up
		// misconfigurations too; connection errors are not MySQLError.
		return true
	}
	return false
}

// columnIndex maps each claim to the index of its column in cols. Column
// names compare case-insensitively (PostgreSQL folds unquoted names to
// lower case, MySQL keeps them as written).
func (s *Source) columnIndex(cols []string) (map[string]int, error) {
	byName := map[string]int{}
	for i, c := range cols {
		k := strings.ToLower(c)
		if _, dup := byName[k]; dup {
			return nil, fmt.Errorf("sql claims source: query returns column %q twice", c)
		}
		byName[k] = i
	}
	out := make(map[string]int, len(s.cfg.Claims))
	for claim, col := range s.cfg.Claims {
		i, ok := byName[strings.ToLower(col)]
		if !ok {
			return nil, fmt.Errorf("sql claims source: claim %q: query returns no column %q (it returns %s)", claim, col, strings.Join(cols, ", "))
		}
		out[claim] = i
	}
	return out, nil
}

// SupportedClaims implements plugin.ClaimsSupporter: the mapped claim names
// without language tags.
func (s *Source) SupportedClaims() []string { return slices.Clone(s.supported) }

// Claims implements plugin.ClaimsSource. The subject is bound as the
// query's parameter; a subject no text column can hold (invalid UTF-8, a
// NUL byte, longer than 1024 bytes) matches nothing and is not sent.
func (s *Source) Claims(ctx context.Context, req plugin.ClaimsRequest) (map[string]any, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sql claims: %w", err)
	}
	want := map[string]bool{}
	for _, c := range req.Claims {
		if _, ok := s.cfg.Claims[c]; ok {
			want[c] = true
		}
	}
	out := map[string]any{}
	if len(want) == 0 || req.Subject == "" || len(req.Subject) > maxSubjectLen ||
		!utf8.ValidString(req.Subject) || strings.ContainsRune(req.Subject, 0) {
		return out, nil
	}
	s.mu.RLock()
	db := s.db
	s.mu.RUnlock()
	if db == nil {
		return nil, errors.New("sql claims: source not initialised")
	}
	qctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	rows, err := db.QueryContext(qctx, s.cfg.Query, req.Subject)
	if err != nil {
		return nil, fmt.Errorf("sql claims: query: %w", ctxErr(ctx, err))
	}
	defer rows.Close()
	cols, err := rows.ColumnTypes()
	if err != nil {
		return nil, fmt.Errorf("sql claims: columns: %w", err)
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name()
	}
	idx, err := s.columnIndex(names)
	if err != nil {
		return nil, err
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("sql claims: %w", ctxErr(ctx, err))
		}
		return out, nil
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, fmt.Errorf("sql claims: scan: %w", err)
	}
	if rows.Next() {
		// Two people under one subject is a directory error; guessing
		// which one is meant would hand out someone else's claims.
		return nil, errors.New("sql claims: query returned more than one row for the subject")
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sql claims: %w", ctxErr(ctx, err))
	}
	for claim := range want {
		i := idx[claim]
		dbType := cols[i].DatabaseTypeName()
		if s.jsonCols[strings.ToLower(names[i])] {
			dbType = "JSON"
		}
		v, err := convert(claim, dbType, vals[i])
		if err != nil {
			return nil, fmt.Errorf("sql claims: claim %q (column %q): %w", claim, names[i], err)
		}
		if v != nil {
			out[claim] = v
		}
	}
	return out, nil
}

// ctxErr prefers the caller's context error, so that a cancelled request
// reads as context.Canceled whatever the driver reported.
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return errors.Join(cerr, err)
	}
	return err
}

// booleanClaims are the OIDC Core §5.1 claims of type boolean; MySQL has
// no boolean type (BOOLEAN is TINYINT(1)), so 0/1 become false/true.
var booleanClaims = map[string]bool{"email_verified": true, "phone_number_verified": true}

// convert turns a scanned column value into a JSON claim value: text as
// string, numbers as JSON numbers, JSON columns decoded (for structured
// claims such as address and multi-valued ones), DATE as "YYYY-MM-DD"
// (birthdate, OIDC Core §5.1) and other times as seconds since the epoch
// (updated_at). NULL yields nil: the claim is left out.
func convert(claim, dbType string, v any) (any, error) {
	base, _, _ := strings.Cut(claim, "#")
	dbType = strings.ToUpper(dbType)
	isJSON := dbType == "JSON" || dbType == "JSONB"
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []byte:
		return convert(claim, dbType, string(x))
	case string:
		if isJSON {
			var out any
			if err := json.Unmarshal([]byte(x), &out); err != nil {
				return nil, fmt.Errorf("decode JSON: %w", err)
			}
			return out, nil
		}
		if booleanClaims[base] {
			switch x {
			case "0", "f", "false":
				return false, nil
			case "1", "t", "true":
				return true, nil
			}
		}
		if isNumericType(dbType) {
			var n json.Number = json.Number(x)
			if f, err := n.Float64(); err == nil && math.Abs(f) <= 1<<53 {
				return f, nil
			}
			return n, nil
		}
		return x, nil
	case bool:
		return x, nil
	case int64:
		if booleanClaims[base] {
			return x != 0, nil
		}
		if x > 1<<53 || x < -(1<<53) {
			return json.Number(fmt.Sprint(x)), nil
		}
		return float64(x), nil
	case int32:
		return convert(claim, dbType, int64(x))
	case int16:
		return convert(claim, dbType, int64(x))
	case int8:
		return convert(claim, dbType, int64(x))
	case uint64:
		if x > 1<<53 {
			return json.Number(fmt.Sprint(x)), nil
		}
		return convert(claim, dbType, int64(x))
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	case time.Time:
		if dbType == "DATE" {
			return x.Format(time.DateOnly), nil
		}
		return float64(x.Unix()), nil
	case map[string]any, []any:
		return x, nil
	default:
		return nil, fmt.Errorf("unsupported column type %s (%T); cast it to text or json in the query", dbType, v)
	}
}

func isNumericType(t string) bool {
	switch t {
	case "INT", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "MEDIUMINT", "INT2", "INT4", "INT8",
		"DECIMAL", "NUMERIC", "FLOAT", "DOUBLE", "FLOAT4", "FLOAT8", "REAL",
		"UNSIGNED INT", "UNSIGNED BIGINT", "UNSIGNED SMALLINT", "UNSIGNED TINYINT", "UNSIGNED MEDIUMINT":
		return true
	}
	return false
}

// Healthy implements plugin.HealthChecker: the database answers a ping.
func (s *Source) Healthy(ctx context.Context) error {
	s.mu.RLock()
	db := s.db
	s.mu.RUnlock()
	if db == nil {
		return errors.New("sql claims source not initialised")
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("sql claims database: %w", err)
	}
	return nil
}

// Close drains the pool.
func (s *Source) Close() error {
	s.mu.Lock()
	db := s.db
	s.db = nil
	s.mu.Unlock()
	if db == nil {
		return nil
	}
	return db.Close()
}
