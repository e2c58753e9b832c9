package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Header names of the web-hook protocol.
const (
	HeaderTimestamp = "X-Keyward-Timestamp"
	HeaderSignature = "X-Keyward-Signature"
	HeaderRequestID = "X-Request-Id"
)

// signatureVersion prefixes the signature so the scheme can evolve.
const signatureVersion = "v1="

// Sign returns the X-Keyward-Signature header value for a request:
// "v1=" + hex(HMAC-SHA256(secret, timestamp + "." + body)).
func Sign(secret []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte("."))
	m.Write(body)
	return signatureVersion + hex.EncodeToString(m.Sum(nil))
}

// SignatureValid reports whether header (an X-Keyward-Signature value)
// carries a valid v1 signature of timestamp and body under secret. Several
// comma-separated signatures are accepted so that a secret can be rotated;
// unknown versions are ignored. The comparison is constant-time. Checking
// that the timestamp is recent is the hook server's job.
func SignatureValid(secret []byte, timestamp, body, header string) bool {
	want := Sign(secret, timestamp, []byte(body))
	ok := false
	for sig := range strings.SplitSeq(header, ",") {
		sig = strings.TrimSpace(sig)
		if strings.HasPrefix(sig, signatureVersion) && hmac.Equal([]byte(sig), []byte(want)) {
			ok = true
		}
	}
	return ok
}
