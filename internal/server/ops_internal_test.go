package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vroauth/vroauth/internal/core"
)

func TestBounded(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		var b bounded[int]
		v, err := b.do(context.Background(), time.Minute, func(context.Context) (int, error) { return 7, nil })
		if v != 7 || err != nil {
			t.Errorf("do(quick) = %d, %v; want 7, nil", v, err)
		}
	})
	t.Run("ErrTimeout", func(t *testing.T) {
		var (
			b       bounded[int]
			runs    atomic.Int32
			release = make(chan struct{})
		)
		hang := func(context.Context) (int, error) { // ignores its context, as a stuck driver may
			runs.Add(1)
			<-release
			return 1, nil
		}
		var wg sync.WaitGroup
		for range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := b.do(context.Background(), 10*time.Millisecond, hang); !errors.Is(err, errProbeTimeout) {
					t.Errorf("do(hanging) = %v; want errProbeTimeout", err)
				}
			}()
		}
		wg.Wait()
		if n := runs.Load(); n != 1 {
			t.Errorf("hanging runs started = %d; want 1 (the callers share the run in flight)", n)
		}
		close(release)
		v, err := b.do(context.Background(), time.Minute, hang)
		if v != 1 || err != nil {
			t.Errorf("do after the hang ended = %d, %v; want 1, nil", v, err)
		}
	})
	t.Run("ErrCanceled", func(t *testing.T) {
		var b bounded[int]
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		release := make(chan struct{})
		defer close(release)
		_, err := b.do(ctx, time.Minute, func(context.Context) (int, error) { <-release; return 0, nil })
		if !errors.Is(err, context.Canceled) {
			t.Errorf("do(canceled context) = %v; want context.Canceled", err)
		}
	})
}

func TestLastKnown(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	session := func(accessTTL time.Duration) *core.Session {
		return &core.Session{ID: core.NewID(), FamilyID: core.NewID(), ClientID: core.NewID(), AccessExpiresAt: now.Add(accessTTL)}
	}
	key := func(i int) [32]byte { return [32]byte(core.HashToken(string(rune(i)) + "token")) }

	t.Run("OK", func(t *testing.T) {
		k := newLastKnown(10*time.Second, clock)
		s := session(time.Minute)
		k.remember(key(1), s)
		now = now.Add(9 * time.Second)
		if got := k.recall(key(1)); got != s {
			t.Errorf("recall 9s after the check = %v; want the session", got)
		}
	})
	t.Run("ErrGraceOver", func(t *testing.T) {
		k := newLastKnown(10*time.Second, clock)
		k.remember(key(1), session(time.Minute))
		now = now.Add(10 * time.Second)
		if got := k.recall(key(1)); got != nil {
			t.Errorf("recall 10s after the check = %v; want nil", got)
		}
	})
	t.Run("ErrExpired", func(t *testing.T) {
		k := newLastKnown(10*time.Second, clock)
		k.remember(key(1), session(time.Second))
		now = now.Add(time.Second)
		if got := k.recall(key(1)); got != nil {
			t.Errorf("recall of an expired access token = %v; want nil", got)
		}
	})
	t.Run("ErrForgotten", func(t *testing.T) {
		k := newLastKnown(10*time.Second, clock)
		a, b := session(time.Minute), session(time.Minute)
		k.remember(key(1), a)
		k.remember(key(2), b)
		k.forgetFamily(a.FamilyID)
		k.forgetClient(b.ClientID)
		if k.recall(key(1)) != nil || k.recall(key(2)) != nil {
			t.Errorf("recall after forgetFamily and forgetClient found a session; want none")
		}
	})
	t.Run("Bounded", func(t *testing.T) {
		k := newLastKnown(10*time.Second, clock)
		for i := range maxKnown + 500 {
			k.remember(key(i), session(time.Minute))
		}
		if n := len(k.entries); n != maxKnown {
			t.Errorf("entries after %d insertions = %d; want %d", maxKnown+500, n, maxKnown)
		}
		if k.recall(key(maxKnown+499)) == nil {
			t.Errorf("the newest entry was evicted")
		}
	})
}

// BenchmarkLogRequests measures what the access log, the request ID and the request
// metrics add to a request, against the same handler bare.
func BenchmarkLogRequests(b *testing.B) {
	m, err := newMetrics(nil, prometheus.NewGauge(prometheus.GaugeOpts{Name: "bench_sessions"}))
	if err != nil {
		b.Fatal(err)
	}
	s := &Server{log: slog.New(withRequestID(slog.NewJSONHandler(io.Discard, nil))), routes: newRouteTable(), metrics: m}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("[]")) })
	req := httptest.NewRequest(http.MethodGet, "/api/v7.1/Clients", nil)
	req.RemoteAddr = "127.0.0.1:5555"
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"Bare", ok}, {"Logged", s.logRequests(ok)}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			w := &discardWriter{h: http.Header{}}
			for b.Loop() {
				clear(w.h)
				bc.h.ServeHTTP(w, req)
			}
		})
	}
}

type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}
