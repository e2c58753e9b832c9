// Package outage tests what Keyward does when its backends fail under
// load (docs/operator-guide.md, "When PostgreSQL or Redis fails"). The
// test starts its own redis-server and its own PostgreSQL on free loopback
// ports, runs an in-process node on them and a load of authorisation-code
// flows, and then in turn kills Redis (SIGKILL), kills PostgreSQL
// (SIGKILL of the postmaster and its children) and stops Redis (SIGSTOP, a
// hung server). Each time it asserts that
//
//   - every failed request is a 503 temporarily_unavailable with
//     Retry-After, never a 500, and none waits past the request deadline;
//   - /readyz turns not-ready while the backend is gone and ready after;
//   - the flows succeed again once the backend is back, and the refresh
//     tokens and access tokens issued before the fault still work;
//   - the node logs no "internal error".
//
// PostgreSQL refuses to run as root: initdb and pg_ctl run as the postgres
// user (runuser -u postgres --) in a temporary directory that user owns,
// from /usr/lib/postgresql/<version>/bin (Debian). Without redis-server,
// PostgreSQL or root the test is skipped, unless CI or
// KEYWARD_TEST_REQUIRE_BACKENDS is set, in which case it fails.
package outage
