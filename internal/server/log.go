package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/vroauth/vroauth/auth"
	"github.com/vroauth/vroauth/internal/core"
)

// RequestIDHeader is the header that carries a request's ID, in and out.
const RequestIDHeader = "X-Request-ID"

// maxRequestIDLen bounds an incoming request ID; a longer one is replaced.
const maxRequestIDLen = 64

// maxLoggedPath bounds the path written to the access log.
const maxLoggedPath = 256

// requestInfo is what the access log learns of a request while it passes through the
// stack. The log middleware puts it in the request's context; the handlers inside fill
// it in on the same goroutine, and the middleware reads it once they have returned.
type requestInfo struct {
	id        string
	principal *auth.Principal // set once the bearer middleware admitted the request
}

type requestInfoKey struct{}

func requestInfoFrom(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	return info
}

// RequestID returns the ID of the request ctx belongs to, or "" outside a request.
func RequestID(ctx context.Context) string {
	if info := requestInfoFrom(ctx); info != nil {
		return info.id
	}
	return ""
}

// requestID returns the caller's X-Request-ID when it is short and printable, so that
// a request can be followed across services, and a new random ID otherwise.
func requestID(r *http.Request) string {
	if v := r.Header["X-Request-Id"]; len(v) == 1 && validRequestID(v[0]) { // RequestIDHeader, canonical
		return v[0]
	}
	return core.NewID()
}

// validRequestID reports whether id has 1 to maxRequestIDLen printable ASCII
// characters and no space, so that it cannot break a log line or a header.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] >= 0x7f {
			return false
		}
	}
	return true
}

// contextHandler is a slog.Handler that adds the request ID found in the context of
// each record, so that every line a request logs carries it.
type contextHandler struct {
	slog.Handler
}

// withRequestID wraps h so that records logged with a request's context carry its ID.
func withRequestID(h slog.Handler) slog.Handler {
	if _, ok := h.(contextHandler); ok {
		return h
	}
	return contextHandler{h}
}

func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if info := requestInfoFrom(ctx); info != nil {
		r.AddAttrs(slog.String("request_id", info.id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return contextHandler{h.Handler.WithAttrs(attrs)}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.Handler.WithGroup(name)}
}

// statusWriter records the status and the size of a response for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests gives each request an ID (returned in X-Request-ID and carried by every
// log line of the request), counts it in the metrics, and writes one access-log line
// when it ends: at INFO, or at DEBUG for health checks and metric scrapes. The line
// holds the method, the path without its query, the status, the duration, the size of
// the body sent, the caller's address and, once authenticated, the principal's kind
// and ID; never a header value (but the request ID), a query or a body, any of which
// may carry a secret.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &requestInfo{id: requestID(r)}
		w.Header().Set(RequestIDHeader, info.id)
		ctx := context.WithValue(r.Context(), requestInfoKey{}, info)
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(ctx))
		elapsed := time.Since(start)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		route := s.routes.of(r)
		s.metrics.request(route, sw.status, elapsed)
		level := slog.LevelInfo
		if route.quiet {
			level = slog.LevelDebug
		}
		if !s.log.Enabled(ctx, level) {
			return
		}
		attrs := make([]slog.Attr, 0, 10)
		attrs = append(attrs,
			slog.String("method", r.Method),
			slog.String("path", truncate(r.URL.Path, maxLoggedPath)),
			slog.String("route", route.name),
			slog.Int("status", sw.status),
			slog.Duration("duration", elapsed),
			slog.Int64("bytes", sw.bytes),
			slog.String("remote_ip", remoteIP(r)),
		)
		if p := info.principal; p != nil {
			attrs = append(attrs, slog.String("principal_kind", string(p.Kind)), slog.String("principal_id", p.ID))
		}
		s.log.LogAttrs(ctx, level, "request", attrs...)
	})
}

// notePrincipal records the principal the bearer middleware admitted for the access
// log. It runs inside the middleware.
func notePrincipal(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if info := requestInfoFrom(r.Context()); info != nil {
			info.principal, _ = auth.FromContext(r.Context())
		}
		next.ServeHTTP(w, r)
	})
}

// truncate returns s cut to at most n bytes.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
