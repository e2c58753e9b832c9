// Package sqlstore holds the small helpers SQL store backends share: time
// columns as nullable Unix milliseconds and JSON body columns whose times
// come back in UTC. It holds no SQL text; each backend writes its own
// dialect. Using it is optional.
//
// This package imports the standard library and package store only; it
// must not import a database driver or a backend.
package sqlstore
