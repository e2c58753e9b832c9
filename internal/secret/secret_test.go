package secret

import (
	"bytes"
	"errors"
	"testing"
)

func TestSealRoundTripAndTamper(t *testing.T) {
	keys, err := DeriveKeys(bytes.Repeat([]byte{7}, MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := keys.Sealer.Seal([]byte("private key"), []byte("kid-1"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := keys.Sealer.Open(sealed, []byte("kid-1"))
	if err != nil || string(got) != "private key" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := keys.Sealer.Open(sealed, []byte("kid-2")); !errors.Is(err, ErrOpen) {
		t.Errorf("Open with other additional data: err = %v, want ErrOpen", err)
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := keys.Sealer.Open(sealed, []byte("kid-1")); !errors.Is(err, ErrOpen) {
		t.Errorf("Open of tampered value: err = %v, want ErrOpen", err)
	}
	other, _ := DeriveKeys(bytes.Repeat([]byte{8}, MasterKeySize))
	if _, err := other.Sealer.Open(sealed, []byte("kid-1")); !errors.Is(err, ErrOpen) {
		t.Errorf("Open under another master key: err = %v, want ErrOpen", err)
	}
}

func TestDeriveKeysRejectsShortKey(t *testing.T) {
	if _, err := DeriveKeys([]byte("short")); err == nil {
		t.Fatal("DeriveKeys accepted a 5-byte master key")
	}
}

func TestMatchesHash(t *testing.T) {
	sum := HashBytes("s3cret")
	if !MatchesHash("s3cret", sum) {
		t.Error("MatchesHash rejected the right secret")
	}
	if MatchesHash("s3cre", sum) || MatchesHash("s3cret", sum[:10]) {
		t.Error("MatchesHash accepted a wrong secret or a short digest")
	}
}

func TestTokenEntropyAndUniqueness(t *testing.T) {
	a, _ := Token(nil, 32)
	b, _ := Token(nil, 32)
	if a == b || len(a) != 43 {
		t.Fatalf("Token() = %q, %q", a, b)
	}
}

func TestPairwise(t *testing.T) {
	salt := []byte("salt-salt-salt-salt-salt-salt-32")
	a := Pairwise(salt, "rp.example", "alice")
	if a != Pairwise(salt, "rp.example", "alice") || a == "alice" || len(a) != 43 {
		t.Errorf("Pairwise not stable or malformed: %q", a)
	}
	for _, other := range []string{
		Pairwise(salt, "other.example", "alice"),
		Pairwise(salt, "rp.example", "bob"),
		Pairwise([]byte("another salt"), "rp.example", "alice"),
		// The separator keeps sector and subject apart.
		Pairwise(salt, "rp.examplea", "lice"),
	} {
		if other == a {
			t.Errorf("collision: %q", other)
		}
	}
}
