package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"runtime"
	"syscall"
	"time"

	"github.com/keyward/keyward/internal/jose"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/store/memstore"
)

// signature is one JWT the server signs per operation.
type signature struct {
	alg  string
	bits int // RSA modulus size; 0 otherwise
}

func (s signature) String() string {
	if s.bits > 0 {
		return fmt.Sprintf("%s-%d", s.alg, s.bits)
	}
	return s.alg
}

// ceiling fills res.Ceiling and res.CeilingRatio: one operation costs at
// least the time of its signatures, so one core does at most
// 1 / Σ(1/rate(sig)) operations per second. Rates are measured once per
// run and kept in rates.
func (t *target) ceiling(ctx context.Context, res *Result, sigs []signature, rates map[string]float64) {
	var perOp float64 // seconds of signing per operation
	for _, s := range sigs {
		r, ok := rates[s.String()]
		if !ok {
			var err error
			if r, err = signingRate(ctx, s, t.cfg.CeilingDuration); err != nil {
				if t.cfg.Progress != nil {
					fmt.Fprintf(t.cfg.Progress, "signing ceiling %s: %v\n", s, err)
				}
				return
			}
			rates[s.String()] = r
			if t.cfg.Progress != nil {
				fmt.Fprintf(t.cfg.Progress, "signing ceiling %s: %.0f signatures/s on one core\n", s, r)
			}
		}
		perOp += 1 / r
	}
	if perOp == 0 {
		return
	}
	res.Ceiling = 1 / perOp
	got := res.PerServerCore
	if got == 0 {
		got = res.PerSecond
	}
	res.CeilingRatio = got / res.Ceiling
}

// signingRate signs access-token-sized claims on one OS thread for d with the server's own signing code (jose.KeyManager, a key
// of the same algorithm and size), and returns signatures per second of that thread's CPU time.
func signingRate(ctx context.Context, s signature, d time.Duration) (float64, error) {
	master := make([]byte, secret.MasterKeySize)
	rand.Read(master)
	keys, err := secret.DeriveKeys(master)
	if err != nil {
		return 0, err
	}
	ms, err := memstore.Open(ctx)
	if err != nil {
		return 0, err
	}
	defer ms.Close()
	km, err := jose.NewKeyManager(jose.KeyManagerConfig{Store: ms.Durable().Keys, Sealer: keys.Sealer, RSABits: max(s.bits, 2048)})
	if err != nil {
		return 0, err
	}
	if err := km.Init(ctx); err != nil {
		return 0, err
	}
	now := time.Now().Unix()
	claims := map[string]any{
		"iss": "https://op.example.com", "sub": "bench-client", "aud": "https://op.example.com",
		"client_id": "bench-client", "scope": "read write", "iat": now, "exp": now + 600,
		"jti": "0123456789abcdefghijkl",
	}
	if _, err := km.Sign(s.alg, "at+jwt", claims); err != nil {
		return 0, err
	}
	// Count the thread's CPU time, not wall time: on a busy machine the
	// goroutine does not have the core to itself, and the ceiling is per
	// core, like the server's throughput per core it is compared with.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0, err := threadCPU()
	if err != nil {
		return 0, err
	}
	n := 0
	start := time.Now()
	for time.Since(start) < d && ctx.Err() == nil {
		for range 8 {
			if _, err := km.Sign(s.alg, "at+jwt", claims); err != nil {
				return 0, err
			}
			n++
		}
	}
	cpu1, err := threadCPU()
	if err != nil {
		return 0, err
	}
	if cpu1 <= cpu0 {
		return 0, errors.New("no CPU time measured")
	}
	return float64(n) / (cpu1 - cpu0).Seconds(), nil
}

// rusageThread is RUSAGE_THREAD (getrusage(2)), which package syscall
// does not name.
const rusageThread = 1

// threadCPU is the user plus system CPU time of the calling OS thread.
func threadCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
