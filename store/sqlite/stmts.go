package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// maxCachedStatements bounds the statement cache of one pool. The store's
// statements are a fixed set (a few dozen, counting each table of the
// generic helpers and each filter combination of the list queries); the
// bound only guards against a query built from unbounded input, which then
// runs unprepared.
const maxCachedStatements = 256

// pool is a *sql.DB whose statements are prepared once and reused. SQLite
// spends as long parsing a short statement as running it, and the driver
// keeps a prepared single statement's handle for reuse, resetting it
// between runs; database/sql prepares a *sql.Stmt again on each connection
// it meets, so the cache is per pool and holds no connection.
type pool struct {
	*sql.DB

	mu    sync.RWMutex
	stmts map[string]*sql.Stmt
	// missed are statements first seen inside a transaction, where the
	// only writer connection is taken and cannot prepare for the pool:
	// they are prepared once the transaction is over.
	missed map[string]struct{}
}

func newPool(db *sql.DB) *pool {
	return &pool{DB: db, stmts: map[string]*sql.Stmt{}, missed: map[string]struct{}{}}
}

// cached returns the prepared statement for query, or nil.
func (p *pool) cached(query string) *sql.Stmt {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.stmts[query]
}

// stmt returns the prepared statement for query, preparing it on a miss;
// nil (with no error) when the cache is full. It needs a free connection
// of the pool on a miss: never call it inside a transaction of the writer.
// The lock is not held while preparing, which waits for a connection that
// a transaction may hold, and that transaction reads the cache.
func (p *pool) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	p.mu.RLock()
	st, full := p.stmts[query], len(p.stmts) >= maxCachedStatements
	p.mu.RUnlock()
	if st != nil || full {
		return st, nil
	}
	st, err := p.DB.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if had := p.stmts[query]; had != nil {
		// Another caller prepared it meanwhile.
		st.Close()
		return had, nil
	}
	if p.stmts == nil || len(p.stmts) >= maxCachedStatements {
		// Closed meanwhile, or full: run it once, unprepared.
		st.Close()
		return nil, nil
	}
	p.stmts[query] = st
	return st, nil
}

// ExecContext runs query through its prepared statement.
func (p *pool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return p.DB.ExecContext(ctx, query, args...)
	}
	return st.ExecContext(ctx, args...)
}

// QueryContext runs query through its prepared statement.
func (p *pool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return p.DB.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

// QueryRowContext runs query through its prepared statement. A failed
// prepare is reported by the Row's Scan, as database/sql does.
func (p *pool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := p.stmt(ctx, query)
	if err != nil || st == nil {
		// The unprepared path reports the same error from Scan.
		return p.DB.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// begin starts a write transaction whose statements use the pool's
// prepared ones.
func (p *pool) begin(ctx context.Context) (*txn, error) {
	tx, err := p.DB.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &txn{Tx: tx, pool: p}, nil
}

// prepareMissed prepares the statements transactions ran unprepared. It
// runs after a transaction, when the writer connection is free again; a
// statement that fails to prepare stays unprepared.
func (p *pool) prepareMissed(ctx context.Context) {
	p.mu.Lock()
	missed := p.missed
	p.missed = map[string]struct{}{}
	p.mu.Unlock()
	for query := range missed {
		_, _ = p.stmt(ctx, query)
	}
}

// Close closes the prepared statements, then the pool.
func (p *pool) Close() error {
	p.mu.Lock()
	var errs []error
	for _, st := range p.stmts {
		errs = append(errs, st.Close())
	}
	p.stmts = nil
	p.mu.Unlock()
	return errors.Join(append(errs, p.DB.Close())...)
}

// txn is a write transaction that runs the statements the pool has
// prepared through them (on the transaction's connection), and notes the
// others for preparing once it is over.
type txn struct {
	*sql.Tx
	pool *pool
}

// stmt returns the transaction's form of query's prepared statement, or
// nil after noting the miss.
func (t *txn) stmt(ctx context.Context, query string) *sql.Stmt {
	if st := t.pool.cached(query); st != nil {
		return t.Tx.StmtContext(ctx, st)
	}
	t.pool.mu.Lock()
	if len(t.pool.missed) < maxCachedStatements {
		t.pool.missed[query] = struct{}{}
	}
	t.pool.mu.Unlock()
	return nil
}

// ExecContext runs query in the transaction.
func (t *txn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.Tx.ExecContext(ctx, query, args...)
}

// QueryContext runs query in the transaction.
func (t *txn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.Tx.QueryContext(ctx, query, args...)
}

// QueryRowContext runs query in the transaction.
func (t *txn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.Tx.QueryRowContext(ctx, query, args...)
}
