// Package cluster tests Keyward as a cluster: several processes of the real
// binary on loopback ports sharing one PostgreSQL database and one Redis,
// with authorisation flows spread over the nodes, a node killed mid-load,
// key rotation propagating between nodes, and nodes starting together on an
// empty database. It needs KEYWARD_TEST_POSTGRES_DSN and
// KEYWARD_TEST_REDIS_ADDR (skipped without them unless backends are
// required).
package cluster
