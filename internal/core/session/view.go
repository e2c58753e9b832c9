package session

import (
	"time"

	"github.com/keyward/keyward/store"
)

// SessionView is the wire form of a subject session (docs/openapi.yaml):
// times in Unix seconds, lifetimes in minutes with -1 for unlimited.
type SessionView struct {
	SID          string         `json:"sid,omitempty"`
	Sub          string         `json:"sub"`
	AuthTime     int64          `json:"auth_time"`
	ACR          string         `json:"acr,omitempty"`
	AMR          []string       `json:"amr,omitempty"`
	CreationTime int64          `json:"creation_time"`
	MaxLife      int64          `json:"max_life"`
	AuthLife     int64          `json:"auth_life"`
	MaxIdle      int64          `json:"max_idle"`
	RPs          []string       `json:"rps,omitempty"`
	Claims       map[string]any `json:"claims,omitempty"`
	Data         map[string]any `json:"data,omitempty"`
	Ctx          string         `json:"ctx,omitempty"`
}

func minutes(d time.Duration) int64 {
	if d < 0 {
		return -1
	}
	return int64(d / time.Minute)
}

// View returns the wire form of sess; sid is the UI's session ID (empty to
// omit it).
func (s *Service) View(sess *store.SubjectSession, sid string) SessionView {
	return SessionView{
		SID:          sid,
		Sub:          sess.Subject,
		AuthTime:     sess.AuthTime.Unix(),
		ACR:          sess.ACR,
		AMR:          sess.AMR,
		CreationTime: sess.CreatedAt.Unix(),
		MaxLife:      minutes(sess.MaxLife),
		AuthLife:     minutes(sess.AuthLife),
		MaxIdle:      minutes(sess.MaxIdle),
		RPs:          sess.RPs,
		Claims:       sess.Claims,
		Data:         sess.Data,
		Ctx:          sess.Ctx,
	}
}
