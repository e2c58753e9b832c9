package store

import "errors"

// Sentinel errors. Backends wrap them with context (fmt.Errorf("…: %w", err));
// callers test with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	ErrConflict = errors.New("concurrent update")
	ErrConsumed = errors.New("already consumed")
)
