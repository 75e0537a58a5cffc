package core_test

import (
	"testing"
	"time"

	"github.com/vroauth/vroauth/internal/core"
)

// BenchmarkMintSession measures what issuing a token pair costs before the store:
// two tokens, their keys, and a session ID (the server's newSession).
func BenchmarkMintSession(b *testing.B) {
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		access, refresh := core.NewSessionToken(now), core.NewSessionToken(now)
		core.TokenKey(access)
		core.TokenKey(refresh)
		core.NewOrderedID(now)
	}
}

// BenchmarkSecretEqual measures the check of a client secret: HMAC-SHA-256 under the
// server key and a constant-time comparison.
func BenchmarkSecretEqual(b *testing.B) {
	h, err := core.NewSecretHasher(make([]byte, 32))
	if err != nil {
		b.Fatal(err)
	}
	secret := core.NewToken()
	hash := h.Hash(secret)
	b.ReportAllocs()
	for b.Loop() {
		if !h.Equal(secret, hash) {
			b.Fatal("Equal = false")
		}
	}
}
