package core_test

import (
	"bytes"
	"crypto/sha256"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vroauth/vroauth/internal/core"
)

var t0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

func TestNewOrderedID(t *testing.T) {
	guid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	t.Run("OK", func(t *testing.T) {
		seen := map[string]bool{}
		for range 1000 {
			id := core.NewOrderedID(t0)
			if !guid.MatchString(id) || seen[id] {
				t.Fatalf("NewOrderedID(t0) = %q (seen before: %v); want a new lower-case version 7 GUID", id, seen[id])
			}
			seen[id] = true
		}
		if got, want := core.NewOrderedID(t0)[:13], "01a23b58-b900"; got != want { // t0 in Unix ms: 0x01a23b58b900
			t.Errorf("NewOrderedID(t0) starts with %q; want %q", got, want)
		}
	})
	t.Run("OKSortsByTime", func(t *testing.T) {
		prev := core.NewOrderedID(t0)
		for i := 1; i < 100; i++ {
			id := core.NewOrderedID(t0.Add(time.Duration(i) * time.Millisecond))
			if id <= prev {
				t.Fatalf("NewOrderedID(t0+%dms) = %q; want it after %q", i, id, prev)
			}
			prev = id
		}
	})
}

func TestNewSessionToken(t *testing.T) {
	a, b := core.NewSessionToken(t0), core.NewSessionToken(t0)
	if len(a) != 51 || a == b || !regexp.MustCompile(`^[A-Za-z0-9_-]+$`).MatchString(a) {
		t.Errorf("NewSessionToken(t0) = %q, %q; want distinct 51-character base64url strings", a, b)
	}
}

func TestTokenKey(t *testing.T) {
	t.Run("OKSortsByTime", func(t *testing.T) {
		prev := core.TokenKey(core.NewSessionToken(t0))
		for i := 1; i < 100; i++ {
			key := core.TokenKey(core.NewSessionToken(t0.Add(time.Duration(i) * time.Millisecond)))
			if bytes.Compare(key[:], prev[:]) <= 0 {
				t.Fatalf("TokenKey of a token issued at t0+%dms = %x; want it after %x", i, key, prev)
			}
			prev = key
		}
	})
	t.Run("OKDigest", func(t *testing.T) {
		token := core.NewSessionToken(t0)
		key := core.TokenKey(token)
		sum := sha256.Sum256([]byte(token))
		if !bytes.Equal(key[6:], sum[:26]) {
			t.Errorf("TokenKey(%q)[6:] = %x; want the first 26 bytes of its SHA-256, %x", token, key[6:], sum[:26])
		}
		if !bytes.Equal(core.HashToken(token), key[:]) {
			t.Errorf("HashToken(%q) = %x; want TokenKey's %x", token, core.HashToken(token), key)
		}
		other := core.NewSessionToken(t0)
		if ko := core.TokenKey(other); ko == key {
			t.Errorf("TokenKey(%q) = TokenKey(%q); want distinct keys", other, token)
		}
	})
	t.Run("OKOtherTokens", func(t *testing.T) {
		for _, token := range []string{core.NewToken(), "a", strings.Repeat("!", 51), strings.Repeat("x", 200)} {
			if got, want := core.TokenKey(token), sha256.Sum256([]byte(token)); got != want {
				t.Errorf("TokenKey(%q) = %x; want its SHA-256 %x", token, got, want)
			}
		}
	})
}

func BenchmarkTokenKey(b *testing.B) {
	token := core.NewSessionToken(t0)
	b.ReportAllocs()
	for b.Loop() {
		core.TokenKey(token)
	}
}
