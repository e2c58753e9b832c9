package loginui

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
)

// usernameHash is the hex SHA-256 of a username as typed, for the audit
// log of failed sign-ins: an operator can match it against
// `printf %s NAME | sha256sum`, while a password typed into the username
// field stays out of the logs (docs/operator-guide.md, "Logs").
func usernameHash(username string) string {
	sum := sha256.Sum256([]byte(username))
	return hex.EncodeToString(sum[:])
}

// clientAddress is the peer's IP address. Behind a reverse proxy that is
// the proxy's, unless the node is told to trust it (trusted_proxies).
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
