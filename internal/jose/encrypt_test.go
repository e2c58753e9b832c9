package jose

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	gojose "github.com/go-jose/go-jose/v4"
)

func TestDirEncrypterRoundTrip(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 16)
	d, err := NewDirEncrypter(key)
	if err != nil {
		t.Fatal(err)
	}
	jws := "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln"
	v, err := d.Encrypt(jws)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(v, ".") != 4 {
		t.Fatalf("not a compact JWE: %s", v)
	}
	obj, err := gojose.ParseEncryptedCompact(v, []gojose.KeyAlgorithm{gojose.DIRECT}, []gojose.ContentEncryption{gojose.A128GCM})
	if err != nil || obj.Header.Algorithm != "dir" || obj.Header.ExtraHeaders["enc"] != "A128GCM" || obj.Header.ExtraHeaders["cty"] != "JWT" {
		t.Fatalf("header %+v, %v", obj, err)
	}
	got, err := d.Decrypt(v)
	if err != nil || got != jws {
		t.Fatalf("Decrypt = %q, %v", got, err)
	}
	// Another key (another deployment's master key) cannot open it.
	other, _ := NewDirEncrypter(bytes.Repeat([]byte{8}, 16))
	if _, err := other.Decrypt(v); !errors.Is(err, ErrNotOurs) {
		t.Errorf("other key: %v, want ErrNotOurs", err)
	}
	// A JWE with another algorithm is refused before any decryption.
	enc, _ := gojose.NewEncrypter(gojose.A256GCM, gojose.Recipient{Algorithm: gojose.DIRECT, Key: bytes.Repeat([]byte{7}, 32)}, nil)
	o, _ := enc.Encrypt([]byte(jws))
	s, _ := o.CompactSerialize()
	if _, err := d.Decrypt(s); !errors.Is(err, ErrNotOurs) {
		t.Errorf("A256GCM JWE: %v, want ErrNotOurs", err)
	}
	for _, bad := range []string{"", "a.b.c.d.e", strings.Repeat("a", maxTokenBytes+1)} {
		if _, err := d.Decrypt(bad); !errors.Is(err, ErrNotOurs) {
			t.Errorf("Decrypt(%.20q): %v", bad, err)
		}
	}
	if _, err := NewDirEncrypter(make([]byte, 32)); err == nil {
		t.Error("a 32-byte key was accepted for A128GCM")
	}
}

// FuzzDecrypt: access tokens come from anyone; Decrypt never panics and
// opens nothing but what Encrypt made.
func FuzzDecrypt(f *testing.F) {
	d, _ := NewDirEncrypter(bytes.Repeat([]byte{7}, 16))
	v, _ := d.Encrypt("a.b.c")
	f.Add(v)
	f.Add("eyJhbGciOiJkaXIiLCJlbmMiOiJBMTI4R0NNIn0..AAAA.AAAA.AAAA")
	f.Fuzz(func(t *testing.T, s string) {
		if pt, err := d.Decrypt(s); err == nil && s != v && pt != "a.b.c" {
			t.Fatalf("opened a forged token: %q", pt)
		}
	})
}
