package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultProbeTimeout bounds the database check of /readyz and of the session gauge.
const DefaultProbeTimeout = 2 * time.Second

// errProbeTimeout is the error of a probe that did not finish in time.
var errProbeTimeout = errors.New("server: the database did not answer in time")

// health is the state of the readiness check.
type health struct {
	timeout time.Duration
	pings   bounded[struct{}]
	down    atomic.Bool // the last check failed: logged once per outage
}

// initOps sets up what operating the server needs: the request ID in every log line,
// the metrics, the readiness check and the outage fallback. s.log and s.now are set.
func (s *Server) initOps(cfg Config) error {
	s.log = slog.New(withRequestID(s.log.Handler()))
	s.health = &health{timeout: cmp(cfg.ProbeTimeout, DefaultProbeTimeout)}
	grace := cmp(cfg.OutageGrace, DefaultOutageGrace)
	s.known = newLastKnown(grace, s.now)
	s.routes = newRouteTable()
	s.serveMetrics = !cfg.NoMetricsEndpoint
	m, err := newMetrics(cfg.Registry, newSessionsGauge(s.store, s.now, s.health.timeout))
	if err != nil {
		return fmt.Errorf("server: register metrics: %w", err)
	}
	s.metrics = m
	return nil
}

// mountOps serves the health checks and, unless disabled, the metrics:
//
//	GET /healthz  200 while the process serves HTTP (liveness)
//	GET /readyz   200 when the database answers within the probe timeout, else 503
//	GET /metrics  the Prometheus metrics, unauthenticated: they reveal no secret
func (s *Server) mountOps(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	if s.serveMetrics {
		mux.Handle("GET /metrics", s.metrics.handler())
	}
}

// readyz answers 200 when the database answers a ping within the probe timeout, and
// 503 otherwise, at once: a ping that hangs is left to finish on its own, and the
// probes that come meanwhile wait for it rather than start another.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	_, err := s.health.pings.do(ctx, s.health.timeout, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, s.store.Ping(ctx)
	})
	if err != nil {
		if !s.health.down.Swap(true) {
			s.log.WarnContext(ctx, "not ready: the database is unreachable", "err", err)
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unreachable"})
		return
	}
	if s.health.down.Swap(false) {
		s.log.InfoContext(ctx, "ready again: the database answers")
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// bounded runs a function at most once at a time and waits for it at most a timeout.
// A caller that comes while a run is in flight shares that run's result. A run that
// outlasts the timeout keeps going in the background (a database driver may not
// honour its context), but no caller waits longer than the timeout, and no more than
// one run piles up.
type bounded[T any] struct {
	mu   sync.Mutex
	call *boundedCall[T]
}

type boundedCall[T any] struct {
	done  chan struct{}
	value T
	err   error
}

// do runs fn (or joins the run in flight) with a context that ends after timeout, and
// returns its result, or errProbeTimeout if it has not finished by then.
func (b *bounded[T]) do(ctx context.Context, timeout time.Duration, fn func(context.Context) (T, error)) (T, error) {
	b.mu.Lock()
	c := b.call
	if c == nil {
		c = &boundedCall[T]{done: make(chan struct{})}
		b.call = c
		runCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		go func() {
			defer cancel()
			c.value, c.err = fn(runCtx)
			b.mu.Lock()
			b.call = nil
			b.mu.Unlock()
			close(c.done)
		}()
	}
	b.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	var zero T
	select {
	case <-c.done:
		return c.value, c.err
	case <-t.C:
		return zero, errProbeTimeout
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}
