package server

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/vroauth/vroauth/internal/storetest"
)

func newTestLimiter() (*authLimiter, *storetest.Clock) {
	c := storetest.NewClock(time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC))
	return newAuthLimiter(0, 0, c.Now), c
}

// TestLimiterInFlight checks that attempts in flight count against the buckets: many
// guesses sent at once get no more password checks than the bucket holds.
func TestLimiterInFlight(t *testing.T) {
	l, _ := newTestLimiter()
	var admitted []*attempt
	for range DefaultAuthFailureBurst {
		a, wait := l.admit("u:alice", "192.0.2.1", true)
		if wait != 0 {
			t.Fatalf("admit %d = wait %v; want admitted", len(admitted)+1, wait)
		}
		admitted = append(admitted, a)
	}
	if _, wait := l.admit("u:alice", "192.0.2.1", true); wait <= 0 {
		t.Fatalf("admit with the burst in flight = wait %v; want a wait", wait)
	}
	admitted[0].settle(true, false)
	if _, wait := l.admit("u:alice", "192.0.2.1", true); wait != 0 {
		t.Fatalf("admit after a success = wait %v; want admitted", wait)
	}
}

// TestLimiterConcurrentFailures hammers one account from one address at one instant:
// exactly the burst is admitted, whatever the interleaving.
func TestLimiterConcurrentFailures(t *testing.T) {
	l, _ := newTestLimiter()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		admitted int
	)
	for range 64 {
		wg.Go(func() {
			for range 10 {
				a, wait := l.admit("u:alice", "192.0.2.1", true)
				if wait > 0 {
					continue
				}
				mu.Lock()
				admitted++
				mu.Unlock()
				a.settle(false, true)
			}
		})
	}
	wg.Wait()
	if admitted != DefaultAuthFailureBurst {
		t.Errorf("admitted = %d; want %d", admitted, DefaultAuthFailureBurst)
	}
}

// TestLimiterMemoryBound checks that neither map grows beyond maxLimiterEntries, and
// that idle entries are dropped.
func TestLimiterMemoryBound(t *testing.T) {
	l, clock := newTestLimiter()
	for i := range maxLimiterEntries + maxLimiterEntries/2 {
		ip := fmt.Sprintf("10.%d.%d.%d", i>>16&0xff, i>>8&0xff, i&0xff)
		a, wait := l.admit(fmt.Sprintf("u:user%d", i), ip, true)
		if wait > 0 {
			t.Fatalf("admit %d: wait %v; want admitted (every key is new)", i, wait)
		}
		a.settle(i%2 == 0, i%2 == 1)
		if len(l.buckets) > maxLimiterEntries || len(l.trusted) > maxLimiterEntries {
			t.Fatalf("after %d attempts: %d buckets, %d trust marks; want at most %d each",
				i+1, len(l.buckets), len(l.trusted), maxLimiterEntries)
		}
	}
	if len(l.inflight) != 0 {
		t.Errorf("in flight after every attempt settled = %d; want 0", len(l.inflight))
	}

	// Every bucket is full again after burst/rate (the same for all three scopes), and
	// the next attempt after a sweep interval drops them.
	clock.Add(time.Duration(DefaultAuthFailureBurst) * time.Minute / DefaultAuthFailuresPerMinute)
	clock.Add(sweepEvery)
	a, _ := l.admit("u:someone", "192.0.2.1", true)
	a.settle(false, false)
	if len(l.buckets) != 0 {
		t.Errorf("buckets after they refilled = %d; want 0", len(l.buckets))
	}
	if len(l.trusted) == 0 {
		t.Error("trust marks were dropped before trustTTL")
	}
	clock.Add(trustTTL)
	a, _ = l.admit("u:someone", "192.0.2.1", true)
	a.settle(false, false)
	if len(l.trusted) != 0 {
		t.Errorf("trust marks after trustTTL = %d; want 0", len(l.trusted))
	}
}

func TestSourceKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"192.0.2.1", "192.0.2.1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2::1%eth0", "2001:db8:1:2::/64"},
		{"not-an-ip", "not-an-ip"},
	}
	for _, tt := range tests {
		if got := sourceKey(tt.in); got != tt.want {
			t.Errorf("sourceKey(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestTooManyFailures(t *testing.T) {
	tests := []struct {
		wait time.Duration
		want int
	}{
		{time.Nanosecond, 1},
		{time.Second, 1},
		{9*time.Second + time.Millisecond, 10},
		{time.Minute, 60},
	}
	for _, tt := range tests {
		if got := tooManyFailures(tt.wait).retryAfter; got != tt.want {
			t.Errorf("tooManyFailures(%v).retryAfter = %d; want %d", tt.wait, got, tt.want)
		}
	}
}

// TestLimiterConcurrentClients: many client-secret attempts in flight at once, as a
// program opening 64 sessions on start makes, are all admitted; in-flight counting is
// for password guesses only.
func TestLimiterConcurrentClients(t *testing.T) {
	l, _ := newTestLimiter()
	var held []*attempt
	for i := range 64 {
		a, wait := l.admit("c:0b5a4f0e-6c1d-4e0b-9d0c-3f6c1c2b7a11", "192.0.2.1", false)
		if wait > 0 {
			t.Fatalf("attempt %d in flight refused for %v; want admitted", i, wait)
		}
		held = append(held, a)
	}
	for _, a := range held {
		a.settle(true, false)
	}
}

// BenchmarkLimiterSuccess measures what the limiter adds to a successful
// authentication: one admit and one settle.
func BenchmarkLimiterSuccess(b *testing.B) {
	l, _ := newTestLimiter()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			a, _ := l.admit("c:0b5a4f0e-6c1d-4e0b-9d0c-3f6c1c2b7a11", "192.0.2.1", false)
			a.settle(true, false)
		}
	})
}
