package store

import "errors"

// Sentinel errors. Backends wrap them with context (fmt.Errorf("…: %w", err));
// callers test with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	ErrConflict = errors.New("concurrent update")
	ErrConsumed = errors.New("already consumed")
	// ErrNoSchema: a backend opened without migrations (WithoutMigrations)
	// found no Keyward schema, or an older one than this build needs.
	ErrNoSchema = errors.New("no current Keyward schema")
)
