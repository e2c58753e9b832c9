// Package sessionstore is the subject session store API (docs/api.md §15;
// Connect2id's /session-store/rest/v2,
// https://connect2id.com/products/server/docs/integration/session-store):
// reading, listing, changing and ending subject sessions by their SID, in
// Connect2id's JSON. It decodes the wire values strictly (unknown query
// parameters and members are refused by name) and leaves every decision
// to session.Service, whose Ended hook sends the logout notifications of
// a deleted session. This package must not import net/http, database/sql
// or any store backend.
package sessionstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"time"

	"github.com/keyward/keyward/internal/core/session"
	"github.com/keyward/keyward/oauth"
)

// Service is the API. Build it once; it is safe for concurrent use.
type Service struct {
	Sessions *session.Service
	// Margin is subtracted from now by Purge, as the purge loop does
	// (cluster.purge_margin): a node whose clock runs ahead must not end
	// sessions the others still treat as live.
	Margin time.Duration
	// Batch is the most sessions one store call of Purge takes.
	Batch int
	// IndexPurger, if set, is run by Purge with index=true (the
	// ephemeral store's purge, which also trims Redis subject indexes).
	IndexPurger func(ctx context.Context) (int, error)
}

// maxPurgeRounds bounds one Purge call: the purge loop does the rest.
const maxPurgeRounds = 100

var errNoSID = oauth.InvalidRequest("the SID header is required")

// key checks the SID's MAC and returns its key.
func (s *Service) key(sid string) (string, error) {
	if sid == "" {
		return "", errNoSID
	}
	key, ok := session.KeyForSID(s.Sessions.MACKey, sid)
	if !ok {
		return "", session.ErrNotFound
	}
	return key, nil
}

// checkParams refuses query parameters other than allowed, and repeated
// ones.
func checkParams(q url.Values, allowed ...string) error {
	for k, v := range q {
		if !slices.Contains(allowed, k) {
			return oauth.InvalidRequest("unsupported parameter: " + safe(k))
		}
		if len(v) > 1 {
			return oauth.InvalidRequest("repeated parameter: " + safe(k))
		}
	}
	return nil
}

// boolParam reads an optional true/false parameter.
func boolParam(q url.Values, name string) (bool, error) {
	switch q.Get(name) {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, oauth.InvalidRequest(name + " must be true or false")
}

// Get returns the session a SID names: GET /sessions with the SID header.
// It counts as a use (the idle timer restarts) unless
// skip_last_used_update=true.
func (s *Service) Get(ctx context.Context, sid string, q url.Values) (*session.SessionView, error) {
	if err := checkParams(q, "skip_last_used_update"); err != nil {
		return nil, err
	}
	skip, err := boolParam(q, "skip_last_used_update")
	if err != nil {
		return nil, err
	}
	key, err := s.key(sid)
	if err != nil {
		return nil, err
	}
	get := s.Sessions.GetByKey
	if skip {
		get = s.Sessions.Peek
	}
	sess, err := get(ctx, key)
	if err != nil {
		return nil, err
	}
	v := s.Sessions.View(sess, sid)
	return &v, nil
}

// List answers GET /sessions?subject=…[&ctx=…][&ids=true]: an object of
// the subject's live sessions keyed by SID, or with ids=true an array of
// their SIDs, oldest first.
func (s *Service) List(ctx context.Context, q url.Values) (any, error) {
	if err := checkParams(q, "subject", "ctx", "ids"); err != nil {
		return nil, err
	}
	sub := q.Get("subject")
	if sub == "" {
		return nil, oauth.InvalidRequest("give the SID header or the subject parameter")
	}
	idsOnly, err := boolParam(q, "ids")
	if err != nil {
		return nil, err
	}
	list, err := s.Sessions.List(ctx, sub)
	if err != nil {
		return nil, err
	}
	ids := []string{}
	views := map[string]session.SessionView{}
	for _, sess := range list {
		if c := q.Get("ctx"); c != "" && sess.Ctx != c {
			continue
		}
		sid := session.SIDForKey(s.Sessions.MACKey, sess.ID)
		ids = append(ids, sid)
		views[sid] = s.Sessions.View(sess, sid)
	}
	if idsOnly {
		return ids, nil
	}
	return views, nil
}

// Members of the session object (docs/api.md §15) beside the ones Update
// applies (auth_life, max_life, max_idle, claims, data).
var (
	immutableMembers = []string{"sid", "sub", "auth_time", "acr", "amr", "creation_time", "rps", "ctx"}
	// Known to Connect2id, not implemented by Keyward: refused by name.
	unsupportedMembers = []string{"jkt", "fpt"}
)

// Update answers PUT /sessions with the SID header and a session object,
// whole (as GET returned it) or partial. auth_life, max_life, max_idle
// (minutes; -1 unlimited, 0 the configured value), claims and data are
// replaced; the other members may be sent only unchanged.
func (s *Service) Update(ctx context.Context, sid string, q url.Values, body []byte) (*session.SessionView, error) {
	if err := checkParams(q); err != nil {
		return nil, err
	}
	key, err := s.key(sid)
	if err != nil {
		return nil, err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return nil, oauth.InvalidRequest("the body must be a JSON session object")
	}
	var c session.Change
	var fixed []string
	for k, v := range raw {
		switch {
		case k == "auth_life":
			c.AuthLife, err = minutesMember(k, v)
		case k == "max_life":
			c.MaxLife, err = minutesMember(k, v)
		case k == "max_idle":
			c.MaxIdle, err = minutesMember(k, v)
		case k == "claims":
			c.Claims, err = objectMember(k, v)
		case k == "data":
			c.Data, err = objectMember(k, v)
		case slices.Contains(immutableMembers, k):
			fixed = append(fixed, k)
		case slices.Contains(unsupportedMembers, k):
			err = oauth.InvalidRequest(k + " is not supported")
		default:
			err = oauth.InvalidRequest("unknown member: " + safe(k))
		}
		if err != nil {
			return nil, err
		}
	}
	if len(fixed) > 0 {
		cur, err := s.Sessions.Peek(ctx, key)
		if err != nil {
			return nil, err
		}
		if err := sameMembers(s.Sessions.View(cur, sid), raw, fixed); err != nil {
			return nil, err
		}
	}
	sess, err := s.Sessions.Update(ctx, key, c)
	if err != nil {
		return nil, err
	}
	v := s.Sessions.View(sess, sid)
	return &v, nil
}

// sameMembers refuses a change to a member that cannot change.
func sameMembers(cur session.SessionView, raw map[string]json.RawMessage, names []string) error {
	b, err := json.Marshal(cur)
	if err != nil {
		return fmt.Errorf("encode session: %w", err)
	}
	var have map[string]any
	if err := json.Unmarshal(b, &have); err != nil {
		return fmt.Errorf("decode session: %w", err)
	}
	slices.Sort(names)
	for _, k := range names {
		var sent any
		if err := json.Unmarshal(raw[k], &sent); err != nil {
			return oauth.InvalidRequest("malformed " + k)
		}
		if sent == nil && have[k] == nil {
			continue
		}
		if !reflect.DeepEqual(sent, have[k]) {
			return oauth.InvalidRequest(k + " cannot be changed")
		}
	}
	return nil
}

// maxMinutes bounds a lifetime (about 100 years), so that no overflow
// turns it into something else.
const maxMinutes = 100 * 365 * 24 * 60

func minutesMember(name string, v json.RawMessage) (*int64, error) {
	var n int64
	if err := json.Unmarshal(v, &n); err != nil || n < -1 || n > maxMinutes {
		return nil, oauth.InvalidRequest(name + " must be a whole number of minutes, -1 (unlimited) or 0 (the default)")
	}
	return &n, nil
}

func objectMember(name string, v json.RawMessage) (*map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal(v, &m); err != nil {
		return nil, oauth.InvalidRequest(name + " must be a JSON object")
	}
	return &m, nil
}

// Delete answers DELETE /sessions with the SID header: the session ends
// (an IdP logout: its clients get back-channel logout notifications) and
// is returned as it was, unless quiet=true.
func (s *Service) Delete(ctx context.Context, sid string, q url.Values) (*session.SessionView, bool, error) {
	if err := checkParams(q, "quiet"); err != nil {
		return nil, false, err
	}
	quiet, err := boolParam(q, "quiet")
	if err != nil {
		return nil, false, err
	}
	key, err := s.key(sid)
	if err != nil {
		return nil, false, err
	}
	sess, err := s.Sessions.EndKey(ctx, key)
	if err != nil {
		return nil, false, err
	}
	v := s.Sessions.View(sess, sid)
	return &v, quiet, nil
}

// DeleteSubject answers DELETE /sessions?subject=…: every session of the
// subject ends, each notified as Delete's; the answer is the ended
// sessions keyed by SID, unless quiet=true.
func (s *Service) DeleteSubject(ctx context.Context, q url.Values) (map[string]session.SessionView, bool, error) {
	if err := checkParams(q, "subject", "quiet"); err != nil {
		return nil, false, err
	}
	quiet, err := boolParam(q, "quiet")
	if err != nil {
		return nil, false, err
	}
	sub := q.Get("subject")
	if sub == "" {
		return nil, false, oauth.InvalidRequest("give the SID header or the subject parameter")
	}
	list, err := s.Sessions.List(ctx, sub)
	if err != nil {
		return nil, false, err
	}
	out := map[string]session.SessionView{}
	for _, sess := range list {
		ended, err := s.Sessions.EndKey(ctx, sess.ID)
		if errors.Is(err, session.ErrNotFound) {
			continue // ended meanwhile, by someone who notified
		}
		if err != nil {
			return nil, false, err
		}
		sid := session.SIDForKey(s.Sessions.MACKey, ended.ID)
		out[sid] = s.Sessions.View(ended, sid)
	}
	return out, quiet, nil
}

// SetAuthLife answers PUT /sessions/subject-auth-life with the SID header
// and a body that is the new auth_life in minutes (-1 unlimited, 0 the
// configured value), as a JSON number or {"auth_life": n}.
func (s *Service) SetAuthLife(ctx context.Context, sid string, q url.Values, body []byte) error {
	if err := checkParams(q); err != nil {
		return err
	}
	key, err := s.key(sid)
	if err != nil {
		return err
	}
	var obj map[string]json.RawMessage
	raw := json.RawMessage(body)
	if json.Unmarshal(body, &obj) == nil && obj != nil {
		for k := range obj {
			if k != "auth_life" {
				return oauth.InvalidRequest("unknown member: " + safe(k))
			}
		}
		if raw = obj["auth_life"]; raw == nil {
			return oauth.InvalidRequest("auth_life is required")
		}
	}
	n, err := minutesMember("auth_life", raw)
	if err != nil {
		return err
	}
	_, err = s.Sessions.Update(ctx, key, session.Change{AuthLife: n})
	return err
}

// PurgeResult is what Purge removed.
type PurgeResult struct {
	Sessions int `json:"sessions"`
	Index    int `json:"index,omitempty"`
}

// Purge answers POST /purge (form: sessions, default true; index and
// orphaned_index_keys, default false; async, refused when true): the
// expired sessions are taken and their clients notified now rather than at
// the next purge tick.
func (s *Service) Purge(ctx context.Context, q, form url.Values) (*PurgeResult, error) {
	if err := checkParams(q); err != nil {
		return nil, err
	}
	if err := checkParams(form, "sessions", "index", "orphaned_index_keys", "async"); err != nil {
		return nil, err
	}
	sessions := true
	if form.Get("sessions") != "" {
		var err error
		if sessions, err = boolParam(form, "sessions"); err != nil {
			return nil, err
		}
	}
	index, err := boolParam(form, "index")
	if err != nil {
		return nil, err
	}
	orphans, err := boolParam(form, "orphaned_index_keys")
	if err != nil {
		return nil, err
	}
	async, err := boolParam(form, "async")
	if err != nil {
		return nil, err
	}
	if async {
		return nil, oauth.InvalidRequest("async purge is not supported")
	}
	res := &PurgeResult{}
	batch := s.Batch
	if batch <= 0 {
		batch = 1000
	}
	if sessions {
		cutoff := s.Sessions.Now().UTC().Add(-s.Margin)
		for range maxPurgeRounds {
			n, err := s.Sessions.TakeExpired(ctx, cutoff, batch)
			res.Sessions += n
			if err != nil {
				return nil, err
			}
			if n < batch {
				break
			}
		}
	}
	if (index || orphans) && s.IndexPurger != nil {
		n, err := s.IndexPurger(ctx)
		if err != nil {
			return nil, err
		}
		res.Index = n
	}
	return res, nil
}

// safe keeps a client-supplied name printable and short in an error
// description (RFC 6749 §5.2 character set).
func safe(s string) string {
	out := make([]byte, 0, min(len(s), 43))
	for i := 0; i < len(s); i++ {
		if len(out) >= 40 {
			return string(out) + "..."
		}
		if c := s[i]; c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' {
			out = append(out, c)
		} else {
			out = append(out, '?')
		}
	}
	return string(out)
}
