// Package sqlclaims is a claims source that reads a subject's claims from a
// relational database (PostgreSQL through pgx, MariaDB/MySQL through
// go-sql-driver/mysql) with one configured SELECT query whose single
// placeholder is bound to the subject: the subject is never spliced into
// SQL text. A claim: column mapping turns the row into claims
// (docs/configuration.md, "SQL claims source").
//
// It imports only the standard library, package plugin and the two
// database drivers; it must not import internal/... packages, store or any
// other plug-in.
package sqlclaims
