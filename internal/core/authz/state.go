package authz

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// submission kinds: the edges of the state machine in doc.go.
type submissionKind int

const (
	kindAuth submissionKind = iota
	kindConsent
	kindCancel
)

func (k submissionKind) String() string {
	switch k {
	case kindAuth:
		return "subject authentication"
	case kindConsent:
		return "consent"
	default:
		return "cancellation"
	}
}

func isFinal(st store.AuthzState) bool {
	return st == store.AuthzStateDone || st == store.AuthzStateFailed
}

// allowed reports whether a submission of kind may be applied in state st.
// Re-authentication while consent is pending is refused: the UI must start a
// new session to change the subject.
func allowed(st store.AuthzState, k submissionKind) bool {
	switch st {
	case store.AuthzStateAuthPending:
		return k == kindAuth || k == kindCancel
	case store.AuthzStateConsentPending:
		return k == kindConsent || k == kindCancel
	}
	return false
}

// errRaced aborts an update that lost to a concurrent submission.
var errRaced = errors.New("authorisation session changed concurrently")

// decisionHash identifies a submission for idempotent replay.
func decisionHash(kind string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// submissionHash is decisionHash of the JSON encoding of a decoded
// submission, not of the body it came from: a re-submission that differs
// only in whitespace, member order or ignored members is the same decision
// (encoding/json sorts map keys and writes struct fields in declaration
// order).
func submissionHash(kind string, v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", oauth.InvalidRequest("the submission holds a value that cannot be encoded as JSON").WithCause(err)
	}
	return decisionHash(kind, b), nil
}

// transition applies one submission: it checks the edge is legal, lets apply
// compute the next state and message on a copy, keeps the final message for
// replay, and stores the result only if nobody moved the session meanwhile
// (compare-and-set on the state).
func (s *Service) transition(ctx context.Context, a *store.AuthzSession, decision string, kind submissionKind,
	apply func(*store.AuthzSession) (*Message, error)) (*Message, error) {
	if isFinal(a.State) {
		return s.replay(a, decision)
	}
	if !allowed(a.State, kind) {
		return nil, oauth.InvalidRequest(fmt.Sprintf("unexpected %s: the authorisation session is %s", kind, a.State))
	}
	from := a.State
	next := *a
	msg, err := apply(&next)
	if err != nil {
		return nil, err
	}
	if isFinal(next.State) {
		if next.Final, err = s.keepFinal(next.ID, decision, next.State, msg); err != nil {
			return nil, err
		}
		next.CompletedAt = s.now()
	}
	_, err = s.Sessions.Update(ctx, a.ID, s.now(), func(cur *store.AuthzSession) error {
		if cur.State != from {
			return errRaced
		}
		*cur = next
		return nil
	})
	if errors.Is(err, errRaced) {
		cur, err := s.load(ctx, a.ID)
		if err != nil {
			return nil, err
		}
		if isFinal(cur.State) {
			return s.replay(cur, decision)
		}
		return nil, oauth.InvalidRequest("the authorisation session changed concurrently")
	}
	if err != nil {
		return nil, fmt.Errorf("update authorisation session: %w", err)
	}
	return msg, nil
}

type finalRecord struct {
	Decision string   `json:"decision"`
	Message  *Message `json:"message"`
}

const (
	finalPlain  = 'p'
	finalSealed = 's'
)

// keepFinal encodes the final message for replay. A successful response
// carries the code, so it is sealed (bound to the session ID) or, without a
// Sealer, not kept at all.
func (s *Service) keepFinal(id, decision string, st store.AuthzState, msg *Message) ([]byte, error) {
	b, err := json.Marshal(finalRecord{Decision: decision, Message: msg})
	if err != nil {
		return nil, fmt.Errorf("encode final message: %w", err)
	}
	if st == store.AuthzStateFailed {
		return append([]byte{finalPlain}, b...), nil
	}
	if s.Sealer == nil {
		return nil, nil
	}
	sealed, err := s.Sealer.Seal(b, []byte("authz-final:"+id))
	if err != nil {
		return nil, fmt.Errorf("seal final message: %w", err)
	}
	return append([]byte{finalSealed}, sealed...), nil
}

// DoubleSubmitWindow is how long after the final response an identical
// re-submission (a double-clicked button, a retried request) gets the same
// final message again.
const DoubleSubmitWindow = 5 * time.Second

// replay returns the kept final message when decision is the one that
// reached it (identical re-submission) within DoubleSubmitWindow. Any other
// submission finds no session (store.ErrNotFound, HTTP 404): after the
// final response the session is gone, as in Connect2id.
func (s *Service) replay(a *store.AuthzSession, decision string) (*Message, error) {
	done := fmt.Errorf("authorisation session complete: %w", store.ErrNotFound)
	if len(a.Final) < 2 || s.now().After(a.CompletedAt.Add(DoubleSubmitWindow)) {
		return nil, done
	}
	body := a.Final[1:]
	switch a.Final[0] {
	case finalPlain:
	case finalSealed:
		if s.Sealer == nil {
			return nil, done
		}
		var err error
		if body, err = s.Sealer.Open(body, []byte("authz-final:"+a.ID)); err != nil {
			return nil, fmt.Errorf("open final message: %w", err)
		}
	default:
		return nil, done
	}
	var rec finalRecord
	if err := json.Unmarshal(body, &rec); err != nil {
		return nil, fmt.Errorf("decode final message: %w", err)
	}
	if rec.Message == nil || !secret.Equal([]byte(rec.Decision), []byte(decision)) {
		return nil, done
	}
	return rec.Message, nil
}
