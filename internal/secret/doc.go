// Package secret holds the small cryptographic helpers every part of the
// server shares: random tokens, the SHA-256 digests under which tokens,
// codes and client secrets are stored, constant-time comparison, MACs for
// session IDs, and the AES-256-GCM sealer that encrypts values at rest
// under the master key. It composes standard-library primitives only.
package secret
