package loginui

import (
	"crypto/sha256"
	"encoding/hex"
)

// usernameHash is the hex SHA-256 of a username as typed, for the audit
// log of failed sign-ins: an operator can match it against
// `printf %s NAME | sha256sum`, while a password typed into the username
// field stays out of the logs (docs/operator-guide.md, "Logs").
func usernameHash(username string) string {
	sum := sha256.Sum256([]byte(username))
	return hex.EncodeToString(sum[:])
}
