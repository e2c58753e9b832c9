package server

import (
	"fmt"
	"slices"

	"github.com/keyward/keyward/plugin/users"
)

// ReloadUsers re-reads the users file (SIGHUP, docs/operator-guide.md
// "Signals") and swaps it in whole: the login UI, the users claims source
// and the password grant see the new set from their next request. A file
// that does not load leaves the current set in place. It logs how many
// subjects were added, removed and kept.
func (s *Server) ReloadUsers() error {
	if s.cfg.Users == "" {
		s.log.Info("reload: no users file configured; nothing to reload")
		return nil
	}
	next, err := users.Load(s.cfg.Users)
	if err != nil {
		s.log.Error("reload: users file not loaded; keeping the current users", "file", s.cfg.Users, "error", err.Error())
		return fmt.Errorf("users file: %w", err)
	}
	before, after := s.users.Subjects(), next.Subjects()
	added, removed := 0, 0
	for _, sub := range after {
		if _, found := slices.BinarySearch(before, sub); !found {
			added++
		}
	}
	for _, sub := range before {
		if _, found := slices.BinarySearch(after, sub); !found {
			removed++
		}
	}
	s.users.Replace(next)
	s.log.Info("reload: users file loaded", "file", s.cfg.Users, "users", len(after), "added", added,
		"removed", removed, "kept", len(after)-added)
	return nil
}
