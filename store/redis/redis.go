package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/keyward/keyward/store"
)

// DefaultPrefix is prepended to every key and channel unless WithPrefix
// says otherwise.
const DefaultPrefix = "keyward:"

// maxUpdateTries bounds the WATCH/MULTI retries of Update before it gives
// up with store.ErrConflict.
const maxUpdateTries = 16

// Option configures Open.
type Option func(*Store)

// WithPrefix sets the prefix of every key and channel, so that several
// deployments (or tests) can share one Redis database.
func WithPrefix(p string) Option { return func(s *Store) { s.prefix = p } }

// WithExpiryGrace sets how long past its expiry Redis keeps a record
// (default DefaultExpiryGrace); the server passes cluster.purge_margin, the
// same margin the SQL backends' purges keep.
func WithExpiryGrace(d time.Duration) Option { return func(s *Store) { s.grace = max(d, 0) } }

// WithLogger sets the logger (default: discard); nil keeps the default.
func WithLogger(l *slog.Logger) Option {
	return func(s *Store) {
		if l != nil {
			s.log = l
		}
	}
}

// Store is an open Redis backend. It is safe for concurrent use.
type Store struct {
	rdb    *goredis.Client
	prefix string
	grace  time.Duration
	log    *slog.Logger

	mu         sync.Mutex
	scanCursor uint64 // where the next index cleanup resumes
}

// Open connects to url (redis://[user:password@]host:port/db or
// rediss://…) and checks the connection.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	o, err := goredis.ParseURL(url)
	if err != nil {
		// The URL may hold a password: never echo it.
		return nil, errors.New("redis: invalid URL")
	}
	s := &Store{prefix: DefaultPrefix, grace: DefaultExpiryGrace, log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(s)
	}
	applyTimeouts(o)
	routeDriverLog(s.log)
	s.rdb = goredis.NewClient(o)
	s.rdb.AddHook(unavailableHook{})
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		s.rdb.Close()
		return nil, fmt.Errorf("redis: ping: %w", err)
	}
	s.checkEvictionPolicy(ctx)
	return s, nil
}

// checkEvictionPolicy warns unless the server runs with maxmemory-policy
// noeviction. Every key Keyward writes is state it needs until the key
// expires: an evicted key logs a user out, forgets a pushed request, or
// drops a replay-cache entry so that a replayed client assertion is
// accepted once more. With noeviction a full Redis refuses writes instead,
// which fails requests visibly. Managed services often refuse CONFIG; then
// the policy cannot be checked and the operator is told so.
func (s *Store) checkEvictionPolicy(ctx context.Context) {
	res, err := s.rdb.ConfigGet(ctx, "maxmemory-policy").Result()
	if err != nil {
		s.log.InfoContext(ctx, "redis: cannot read maxmemory-policy (CONFIG refused); it must be noeviction", "error", err.Error())
		return
	}
	if p, ok := res["maxmemory-policy"]; ok && p != "noeviction" {
		s.log.WarnContext(ctx, "redis: maxmemory-policy must be noeviction: evicted keys lose logins, SSO sessions, "+
			"pushed requests and replay-cache entries (a replayed client assertion is then accepted)", "maxmemory_policy", p)
	}
}

// Close closes the connections; subscriptions end.
func (s *Store) Close() error { return s.rdb.Close() }

// Ephemeral returns the stores for short-lived objects.
func (s *Store) Ephemeral() store.Ephemeral {
	return store.Ephemeral{
		AuthzSessions:   authzSessions{s},
		SubjectSessions: subjectSessions{s},
		Codes:           codes{s},
		PAR:             pars{s},
		Replay:          replay{s},
		Purger:          purger{s},
	}
}

// Notifier returns the cluster notifier (pub/sub).
func (s *Store) Notifier() store.Notifier { return notifier{s} }

func (s *Store) key(kind, id string) string { return s.prefix + kind + ":" + id }

// DefaultExpiryGrace is added to every key's expiry time unless
// WithExpiryGrace says otherwise. The TTL is a memory backstop, not the
// judge of validity (that is the caller's now against ExpiresAt), so it
// may run late; the grace absorbs clock skew between the nodes and the
// Redis server, which would otherwise let Redis drop a record a node still
// considers live.
const DefaultExpiryGrace = 5 * time.Second

// expireAt is the Unix millisecond at which Redis should drop a record
// expiring at exp, or 0 for a record without expiry (PERSIST).
func (s *Store) expireAt(exp time.Time) int64 {
	if exp.IsZero() {
		return 0
	}
	return exp.Add(s.grace).UnixMilli()
}

// live reports whether a record expiring at exp is still valid at now.
func live(exp, now time.Time) bool { return exp.IsZero() || exp.After(now) }

func micros(t time.Time) string { return strconv.FormatInt(t.UnixMicro(), 10) }

// errAbort carries an updater's error out of Watch untouched.
type errAbort struct{ err error }

func (e errAbort) Error() string { return e.err.Error() }

// update is the WATCH/MULTI read-modify-write shared by the session
// stores. get decodes and checks the record; write queues the new state.
func update[T any](ctx context.Context, s *Store, key string, now time.Time,
	decode func([]byte) (*T, error), expires func(*T) time.Time,
	fn func(*T) error, write func(p goredis.Pipeliner, old, cur *T, body []byte, at int64)) (*T, error) {
	for range maxUpdateTries {
		var out *T
		err := s.rdb.Watch(ctx, func(tx *goredis.Tx) error {
			b, err := tx.Get(ctx, key).Bytes()
			if errors.Is(err, goredis.Nil) {
				return store.ErrNotFound
			}
			if err != nil {
				return err
			}
			old, err := decode(b)
			if err != nil {
				return err
			}
			if !live(expires(old), now) {
				return store.ErrNotFound
			}
			cur, err := decode(b)
			if err != nil {
				return err
			}
			if err := fn(cur); err != nil {
				return errAbort{err}
			}
			nb, err := json.Marshal(cur)
			if err != nil {
				return fmt.Errorf("encode: %w", err)
			}
			_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
				write(p, old, cur, nb, s.expireAt(expires(cur)))
				return nil
			})
			if err != nil {
				return err
			}
			out, err = decode(nb)
			return err
		}, key)
		var abort errAbort
		switch {
		case err == nil:
			return out, nil
		case errors.As(err, &abort):
			return nil, abort.err
		case errors.Is(err, goredis.TxFailedErr):
			continue // someone wrote the key meanwhile: run fn again
		default:
			return nil, err
		}
	}
	return nil, store.ErrConflict
}

// setExpiring queues SET key body, expiring at the Unix millisecond at, or
// never when at is 0.
func setExpiring(ctx context.Context, p goredis.Pipeliner, key string, body []byte, at int64) {
	p.Set(ctx, key, body, 0)
	if at > 0 {
		p.PExpireAt(ctx, key, time.UnixMilli(at))
	}
}

// createExpiring stores KEYS[1] = ARGV[1] unless the key exists, expiring
// at ARGV[2] (Unix ms; 0: never); returns 1 if it stored it.
var createExpiring = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
if tonumber(ARGV[2]) > 0 then redis.call('PEXPIREAT', KEYS[1], ARGV[2]) end
return 1
`)

// ---- authorisation sessions ----

type authzSessions struct{ s *Store }

func decodeAuthz(b []byte) (*store.AuthzSession, error) {
	var a store.AuthzSession
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("decode authz session: %w", err)
	}
	store.NormalizeTimes(&a)
	return &a, nil
}

func (st authzSessions) Create(ctx context.Context, a *store.AuthzSession) error {
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode authz session: %w", err)
	}
	n, err := createExpiring.Run(ctx, st.s.rdb, []string{st.s.key("authz", a.ID)}, b, st.s.expireAt(a.ExpiresAt)).Int()
	if err != nil {
		return fmt.Errorf("create authz session: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("create authz session: %w", store.ErrExists)
	}
	return nil
}

func (st authzSessions) Get(ctx context.Context, id string, now time.Time) (*store.AuthzSession, error) {
	b, err := st.s.rdb.Get(ctx, st.s.key("authz", id)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("get authz session: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get authz session: %w", err)
	}
	a, err := decodeAuthz(b)
	if err != nil {
		return nil, err
	}
	if !live(a.ExpiresAt, now) {
		return nil, fmt.Errorf("get authz session: %w", store.ErrNotFound)
	}
	return a, nil
}

func (st authzSessions) Update(ctx context.Context, id string, now time.Time, fn func(*store.AuthzSession) error) (*store.AuthzSession, error) {
	key := st.s.key("authz", id)
	out, err := update(ctx, st.s, key, now, decodeAuthz,
		func(a *store.AuthzSession) time.Time { return a.ExpiresAt },
		func(a *store.AuthzSession) error {
			if err := fn(a); err != nil {
				return err
			}
			a.ID = id
			return nil
		},
		func(p goredis.Pipeliner, _, _ *store.AuthzSession, body []byte, at int64) {
			setExpiring(ctx, p, key, body, at)
		})
	if err != nil {
		if isSentinel(err) {
			return nil, fmt.Errorf("update authz session: %w", err)
		}
		return nil, err
	}
	return out, nil
}

func (st authzSessions) Delete(ctx context.Context, id string) error {
	n, err := st.s.rdb.Del(ctx, st.s.key("authz", id)).Result()
	if err != nil {
		return fmt.Errorf("delete authz session: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("delete authz session: %w", store.ErrNotFound)
	}
	return nil
}

// isSentinel reports whether err is one of the store's own errors, which
// update returns bare and the caller wraps with context.
func isSentinel(err error) bool {
	return errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict)
}

// ---- subject sessions ----

type subjectSessions struct{ s *Store }

func decodeSubject(b []byte) (*store.SubjectSession, error) {
	var ss store.SubjectSession
	if err := json.Unmarshal(b, &ss); err != nil {
		return nil, fmt.Errorf("decode subject session: %w", err)
	}
	store.NormalizeTimes(&ss)
	return &ss, nil
}

// createSubject stores the session (KEYS[1]) and indexes it under its
// subject (KEYS[2]) and by expiry (KEYS[3]) in one step; ARGV: body, key
// expiry (Unix ms, 0: never), score, ID, session expiry (Unix ms, 0:
// never). The subject index must outlive its members, so its expiry only
// ever moves later, and a member without expiry makes it persistent.
// PEXPIRETIME needs Redis 7.0.
var createSubject = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local at = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1])
if at > 0 then redis.call('PEXPIREAT', KEYS[1], at) end
if tonumber(ARGV[5]) > 0 then redis.call('ZADD', KEYS[3], ARGV[5], ARGV[4]) end
local fresh = redis.call('EXISTS', KEYS[2]) == 0
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
if at <= 0 then
  redis.call('PERSIST', KEYS[2])
elseif fresh then
  redis.call('PEXPIREAT', KEYS[2], at)
else
  local cur = redis.call('PEXPIRETIME', KEYS[2])
  if cur >= 0 and cur < at then redis.call('PEXPIREAT', KEYS[2], at) end
end
return 1
`)

// extendIndex applies createSubject's index expiry rule after an update:
// KEYS[1] index, ARGV[1] the member's expiry (Unix ms, 0: never).
var extendIndex = goredis.NewScript(`
local at = tonumber(ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if at <= 0 then
  redis.call('PERSIST', KEYS[1])
else
  local cur = redis.call('PEXPIRETIME', KEYS[1])
  if cur >= 0 and cur < at then redis.call('PEXPIREAT', KEYS[1], at) end
end
return 1
`)

// SubjectSessionKeep is how long past its expiry (and the expiry grace)
// Redis keeps a subject session's key, so that the purge loop of some node
// finds it through the expiry index and sends the logout notifications
// its expiry calls for (TakeExpired). A session no node takes within this
// window is dropped by Redis without notifications; the purge runs every
// cluster.purge_interval (1 min by default), far more often.
const SubjectSessionKeep = time.Hour

// sessionKeyExpiry is the Redis expiry of a subject session's key.
func (s *Store) sessionKeyExpiry(exp time.Time) int64 {
	if exp.IsZero() {
		return 0
	}
	return s.expireAt(exp.Add(SubjectSessionKeep))
}

// expiryIndex is the sorted set of every subject session by expiry (Unix
// ms score), which TakeExpired walks; members leave it with their session.
func (s *Store) expiryIndex() string { return s.prefix + "ssexp" }

func msOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func (st subjectSessions) Create(ctx context.Context, ss *store.SubjectSession) error {
	b, err := json.Marshal(ss)
	if err != nil {
		return fmt.Errorf("encode subject session: %w", err)
	}
	n, err := createSubject.Run(ctx, st.s.rdb,
		[]string{st.s.key("ss", ss.ID), st.s.key("ssub", ss.Subject), st.s.expiryIndex()},
		b, st.s.sessionKeyExpiry(ss.ExpiresAt), ss.CreatedAt.UnixMilli(), ss.ID, msOrZero(ss.ExpiresAt)).Int()
	if err != nil {
		return fmt.Errorf("create subject session: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("create subject session: %w", store.ErrExists)
	}
	return nil
}

func (st subjectSessions) Get(ctx context.Context, id string, now time.Time) (*store.SubjectSession, error) {
	b, err := st.s.rdb.Get(ctx, st.s.key("ss", id)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("get subject session: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get subject session: %w", err)
	}
	ss, err := decodeSubject(b)
	if err != nil {
		return nil, err
	}
	if !live(ss.ExpiresAt, now) {
		return nil, fmt.Errorf("get subject session: %w", store.ErrNotFound)
	}
	return ss, nil
}

// Update resets the key's expiry from the updated ExpiresAt, which the core
// keeps at the earlier of the max-life and max-idle deadlines: that is how
// the idle timer is honoured.
func (st subjectSessions) Update(ctx context.Context, id string, now time.Time, fn func(*store.SubjectSession) error) (*store.SubjectSession, error) {
	key := st.s.key("ss", id)
	out, err := update(ctx, st.s, key, now, decodeSubject,
		func(ss *store.SubjectSession) time.Time { return ss.ExpiresAt },
		func(ss *store.SubjectSession) error {
			if err := fn(ss); err != nil {
				return err
			}
			ss.ID = id
			return nil
		},
		func(p goredis.Pipeliner, old, cur *store.SubjectSession, body []byte, _ int64) {
			setExpiring(ctx, p, key, body, st.s.sessionKeyExpiry(cur.ExpiresAt))
			if old.Subject != cur.Subject {
				p.ZRem(ctx, st.s.key("ssub", old.Subject), id)
			}
			p.ZAdd(ctx, st.s.key("ssub", cur.Subject), goredis.Z{Score: float64(cur.CreatedAt.UnixMilli()), Member: id})
			if cur.ExpiresAt.IsZero() {
				p.ZRem(ctx, st.s.expiryIndex(), id)
			} else {
				p.ZAdd(ctx, st.s.expiryIndex(), goredis.Z{Score: float64(cur.ExpiresAt.UnixMilli()), Member: id})
			}
		})
	if err != nil {
		if isSentinel(err) {
			return nil, fmt.Errorf("update subject session: %w", err)
		}
		return nil, err
	}
	if err := extendIndex.Run(ctx, st.s.rdb, []string{st.s.key("ssub", out.Subject)}, st.s.sessionKeyExpiry(out.ExpiresAt)).Err(); err != nil {
		return nil, fmt.Errorf("update subject session index: %w", err)
	}
	return out, nil
}

// deleteSubject removes the session KEYS[1] with its members of the
// subject index (ARGV[1] prefix + "ssub:" + subject, read from the body)
// and of the expiry index KEYS[2]; ARGV[2] is the ID. It returns the body,
// or false when there was none. One script, so exactly one of concurrent
// callers gets the body.
var deleteSubject = goredis.NewScript(`
local b = redis.call('GET', KEYS[1])
if not b then
  redis.call('ZREM', KEYS[2], ARGV[2])
  return false
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
local ok, rec = pcall(cjson.decode, b)
if ok and type(rec) == 'table' and type(rec['subject']) == 'string' then
  redis.call('ZREM', ARGV[1] .. 'ssub:' .. rec['subject'], ARGV[2])
end
return b
`)

func (st subjectSessions) Delete(ctx context.Context, id string) (*store.SubjectSession, error) {
	b, err := deleteSubject.Run(ctx, st.s.rdb, []string{st.s.key("ss", id), st.s.expiryIndex()}, st.s.prefix, id).Text()
	if errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("delete subject session: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("delete subject session: %w", err)
	}
	return decodeSubject([]byte(b))
}

// takeExpired removes up to ARGV[3] sessions of the expiry index KEYS[1]
// whose score is at most ARGV[2] and returns their bodies; ARGV[1] is the
// key prefix. A member whose key Redis already dropped (no node took it
// within SubjectSessionKeep) only leaves the index.
var takeExpired = goredis.NewScript(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  local k = ARGV[1] .. 'ss:' .. id
  local b = redis.call('GET', k)
  if b then
    redis.call('DEL', k)
    local ok, rec = pcall(cjson.decode, b)
    if ok and type(rec) == 'table' and type(rec['subject']) == 'string' then
      redis.call('ZREM', ARGV[1] .. 'ssub:' .. rec['subject'], id)
    end
    table.insert(out, b)
  end
end
return out
`)

// TakeExpired walks the expiry index in one script, so that of nodes
// purging at the same time each session goes to exactly one.
func (st subjectSessions) TakeExpired(ctx context.Context, now time.Time, limit int) ([]*store.SubjectSession, error) {
	if limit <= 0 {
		return nil, nil
	}
	bodies, err := takeExpired.Run(ctx, st.s.rdb, []string{st.s.expiryIndex()}, st.s.prefix, now.UnixMilli(), limit).StringSlice()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("take expired subject sessions: %w", err)
	}
	out := make([]*store.SubjectSession, 0, len(bodies))
	for _, b := range bodies {
		ss, err := decodeSubject([]byte(b))
		if err != nil {
			return out, err
		}
		out = append(out, ss)
	}
	return out, nil
}

// ListBySubject reads the subject's index, drops members whose session
// key is gone (expired or deleted) and filters the rest by now.
func (st subjectSessions) ListBySubject(ctx context.Context, subject string, now time.Time) ([]*store.SubjectSession, error) {
	idx := st.s.key("ssub", subject)
	ids, err := st.s.rdb.ZRange(ctx, idx, 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("list subject sessions: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = st.s.key("ss", id)
	}
	vals, err := st.s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("list subject sessions: %w", err)
	}
	var out []*store.SubjectSession
	var gone []any
	for i, v := range vals {
		str, ok := v.(string)
		if !ok {
			gone = append(gone, ids[i])
			continue
		}
		ss, err := decodeSubject([]byte(str))
		if err != nil {
			return nil, err
		}
		if ss.Subject != subject {
			gone = append(gone, ids[i])
			continue
		}
		if live(ss.ExpiresAt, now) {
			out = append(out, ss)
		}
	}
	if len(gone) > 0 {
		// Best effort: a failure leaves stale members for the next read.
		if err := st.s.rdb.ZRem(ctx, idx, gone...).Err(); err != nil {
			st.s.log.WarnContext(ctx, "redis: subject index cleanup failed", "error", err)
		}
	}
	slices.SortStableFunc(out, func(a, b *store.SubjectSession) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return compareStrings(a.ID, b.ID)
	})
	return out, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ---- codes and pushed requests ----

// createOnce stores a single-use record: body, consumed flag, expiry.
var createOnce = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'b', ARGV[1], 'c', '0', 'e', ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return 1
`)

// consumeOnce returns false for an unknown or expired record (judged by
// the caller's now, ARGV[1]), else {wasConsumed, body}, marking it consumed.
// The record stays until its TTL so that a replay is recognised.
var consumeOnce = goredis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'b', 'c', 'e')
if not v[1] then return false end
if tonumber(v[3]) <= tonumber(ARGV[1]) then return false end
if v[2] == '1' then return {1, v[1]} end
redis.call('HSET', KEYS[1], 'c', '1')
return {0, v[1]}
`)

func createSingleUse(ctx context.Context, s *Store, kind, id string, rec any, expires time.Time) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode %s: %w", kind, err)
	}
	if expires.IsZero() {
		// Single-use records always expire; never keep one forever.
		return fmt.Errorf("create %s: expiry required", kind)
	}
	n, err := createOnce.Run(ctx, s.rdb, []string{s.key(kind, id)}, b, micros(expires), s.expireAt(expires)).Int()
	if err != nil {
		return fmt.Errorf("create %s: %w", kind, err)
	}
	if n == 0 {
		return fmt.Errorf("create %s: %w", kind, store.ErrExists)
	}
	return nil
}

// consumeSingleUse runs consumeOnce and returns the body and whether an
// earlier call had consumed it.
func consumeSingleUse(ctx context.Context, s *Store, kind, id string, now time.Time) ([]byte, bool, error) {
	res, err := consumeOnce.Run(ctx, s.rdb, []string{s.key(kind, id)}, micros(now)).Slice()
	if errors.Is(err, goredis.Nil) {
		return nil, false, fmt.Errorf("consume %s: %w", kind, store.ErrNotFound)
	}
	if err != nil {
		return nil, false, fmt.Errorf("consume %s: %w", kind, err)
	}
	if len(res) != 2 {
		return nil, false, fmt.Errorf("consume %s: unexpected reply", kind)
	}
	flag, _ := res[0].(int64)
	body, _ := res[1].(string)
	return []byte(body), flag == 1, nil
}

type codes struct{ s *Store }

func (st codes) Create(ctx context.Context, c *store.Code) error {
	return createSingleUse(ctx, st.s, "code", c.ID, c, c.ExpiresAt)
}

func (st codes) Consume(ctx context.Context, id string, now time.Time) (*store.Code, error) {
	b, consumed, err := consumeSingleUse(ctx, st.s, "code", id, now)
	if err != nil {
		return nil, err
	}
	var c store.Code
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("decode code: %w", err)
	}
	store.NormalizeTimes(&c)
	if consumed {
		return &c, fmt.Errorf("consume code: %w", store.ErrConsumed)
	}
	return &c, nil
}

type pars struct{ s *Store }

// createPAR is createOnce for a pushed request (KEYS[1]) that also
// indexes it under its client (KEYS[2], a sorted set scored by the key's
// expiry) so that deleting the client can find it. ARGV: body, expiry
// (micros), key expiry (Unix ms), ID, and a Unix ms before which index
// members have certainly expired. The index lives as long as its longest
// member. PEXPIRETIME needs Redis 7.0.
var createPAR = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'b', ARGV[1], 'c', '0', 'e', ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
if redis.call('PEXPIRETIME', KEYS[2]) < tonumber(ARGV[3]) then redis.call('PEXPIREAT', KEYS[2], ARGV[3]) end
return 1
`)

func (st pars) Create(ctx context.Context, r *store.PushedRequest) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode par: %w", err)
	}
	if r.ExpiresAt.IsZero() {
		// Single-use records always expire; never keep one forever.
		return fmt.Errorf("create par: expiry required")
	}
	n, err := createPAR.Run(ctx, st.s.rdb, []string{st.s.key("par", r.ID), st.s.key("parc", r.ClientID)},
		b, micros(r.ExpiresAt), st.s.expireAt(r.ExpiresAt), r.ID, r.CreatedAt.UnixMilli()).Int()
	if err != nil {
		return fmt.Errorf("create par: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("create par: %w", store.ErrExists)
	}
	return nil
}

// DeleteByClient deletes the requests in the client's index. It removes
// only the members it read, so a request indexed meanwhile keeps its entry.
func (st pars) DeleteByClient(ctx context.Context, clientID string) (int, error) {
	idx := st.s.key("parc", clientID)
	ids, err := st.s.rdb.ZRange(ctx, idx, 0, -1).Result()
	if err != nil {
		return 0, fmt.Errorf("delete pushed requests of client: %w", err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	keys := make([]string, len(ids))
	members := make([]any, len(ids))
	for i, id := range ids {
		keys[i], members[i] = st.s.key("par", id), id
	}
	var del *goredis.IntCmd
	if _, err := st.s.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		del = p.Del(ctx, keys...)
		p.ZRem(ctx, idx, members...)
		return nil
	}); err != nil {
		return 0, fmt.Errorf("delete pushed requests of client: %w", err)
	}
	return int(del.Val()), nil
}

func (st pars) Consume(ctx context.Context, id string, now time.Time) (*store.PushedRequest, error) {
	b, consumed, err := consumeSingleUse(ctx, st.s, "par", id, now)
	if err != nil {
		return nil, err
	}
	var r store.PushedRequest
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decode pushed request: %w", err)
	}
	store.NormalizeTimes(&r)
	if consumed {
		return &r, fmt.Errorf("consume pushed request: %w", store.ErrConsumed)
	}
	return &r, nil
}

// ---- replay cache ----

// markUsed: a live entry (expiry after the caller's now) means "already
// used"; otherwise (absent or expired by now) the entry is (re)written.
var markUsed = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and tonumber(v) > tonumber(ARGV[1]) then return 1 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return 0
`)

type replay struct{ s *Store }

func (r replay) MarkUsed(ctx context.Context, key string, until, now time.Time) (bool, error) {
	// key is already hashed by the caller (store.ReplayCache).
	n, err := markUsed.Run(ctx, r.s.rdb, []string{r.s.key("jti", key)}, micros(now), micros(until), r.s.expireAt(until)).Int()
	if err != nil {
		return false, fmt.Errorf("mark used: %w", err)
	}
	return n == 1, nil
}

// ---- purge ----

type purger struct{ s *Store }

// Purge removes nothing itself (Redis expires keys) and returns 0. It
// does trim subject-session indexes: each call visits about limit index
// keys, resuming where the last call stopped, and drops members whose
// session key is gone, so that a subject who never lists sessions again
// does not leave stale members behind.
func (p purger) Purge(ctx context.Context, _ time.Time, limit int) (int, error) {
	s := p.s
	s.mu.Lock()
	cursor := s.scanCursor
	s.mu.Unlock()
	keys, next, err := s.rdb.Scan(ctx, cursor, s.prefix+"ssub:*", int64(max(limit, 1))).Result()
	if err != nil {
		return 0, fmt.Errorf("purge: scan: %w", err)
	}
	s.mu.Lock()
	s.scanCursor = next
	s.mu.Unlock()
	for _, idx := range keys {
		ids, err := s.rdb.ZRange(ctx, idx, 0, -1).Result()
		if err != nil {
			return 0, fmt.Errorf("purge: %w", err)
		}
		var gone []any
		for _, id := range ids {
			n, err := s.rdb.Exists(ctx, s.key("ss", id)).Result()
			if err != nil {
				return 0, fmt.Errorf("purge: %w", err)
			}
			if n == 0 {
				gone = append(gone, id)
			}
		}
		if len(gone) > 0 {
			if err := s.rdb.ZRem(ctx, idx, gone...).Err(); err != nil {
				return 0, fmt.Errorf("purge: %w", err)
			}
		}
	}
	return 0, nil
}
