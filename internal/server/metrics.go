package server

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vroauth/vroauth/internal/core"
)

// The label values of vroauth_auth_failures_total{method}: how the caller tried to
// authenticate.
const (
	methodPassword          = "password"
	methodClientCredentials = "client_credentials"
	methodRefreshToken      = "refresh_token"
	methodRevoke            = "revoke" // client authentication at POST /api/revoke
	methodBearer            = "bearer" // an access token on a protected route
)

// sessionsEvery is how long a reading of the active-sessions gauge is reused, so that
// frequent scrapes do not count the sessions table each time.
const sessionsEvery = 15 * time.Second

// metrics are the server's Prometheus collectors. Every label takes a bounded set of
// values: routes are operation IDs, never raw paths.
type metrics struct {
	registry   *prometheus.Registry
	requests   *prometheus.CounterVec   // route, code
	latency    *prometheus.HistogramVec // route
	tokens     *prometheus.CounterVec   // grant_type
	authFailed *prometheus.CounterVec   // method, reason
	fallbacks  prometheus.Counter
}

// newMetrics registers the server's collectors on reg, or on a new registry that also
// holds the Go runtime and process collectors when reg is nil.
func newMetrics(reg *prometheus.Registry, sessions prometheus.Collector) (*metrics, error) {
	if reg == nil {
		reg = prometheus.NewRegistry()
		if err := reg.Register(collectors.NewGoCollector()); err != nil {
			return nil, err
		}
		if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
			return nil, err
		}
	}
	m := &metrics{
		registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vroauth_http_requests_total",
			Help: "HTTP requests answered, by route (operation ID or fixed name) and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "vroauth_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vroauth_tokens_issued_total",
			Help: "Token pairs issued by POST /api/token, by grant type.",
		}, []string{"grant_type"}),
		authFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vroauth_auth_failures_total",
			Help: "Failed authentications, by method (password, client_credentials, refresh_token, revoke, bearer) and reason.",
		}, []string{"method", "reason"}),
		fallbacks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vroauth_verify_fallbacks_total",
			Help: "Access tokens accepted from the recently-verified cache because the database was unavailable.",
		}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.tokens, m.authFailed, m.fallbacks, sessions} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, grant := range []string{methodPassword, methodClientCredentials, methodRefreshToken} {
		m.tokens.WithLabelValues(grant) // start each series at 0
	}
	return m, nil
}

func (m *metrics) request(rt route, status int, elapsed time.Duration) {
	m.requests.WithLabelValues(rt.name, statusCode(status)).Inc()
	m.latency.WithLabelValues(rt.name).Observe(elapsed.Seconds())
}

// statusCode returns status as a label value without allocating for the usual ones.
func statusCode(status int) string {
	switch status {
	case 200:
		return "200"
	case 204:
		return "204"
	case 400:
		return "400"
	case 401:
		return "401"
	case 403:
		return "403"
	case 404:
		return "404"
	case 429:
		return "429"
	case 500:
		return "500"
	case 503:
		return "503"
	}
	return strconv.Itoa(status)
}

// handler serves the registry in the Prometheus exposition format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// route is how a request is named in the metrics and the access log.
type route struct {
	name  string
	quiet bool // logged at DEBUG: health checks and scrapes
}

// Fixed routes beside the spec's operations.
var (
	routeHealthz          = route{name: "healthz", quiet: true}
	routeReadyz           = route{name: "readyz", quiet: true}
	routeMetrics          = route{name: "metrics", quiet: true}
	routeDocs             = route{name: "docs"}
	routeMethodNotAllowed = route{name: "method_not_allowed"}
	routeNotFound         = route{name: "not_found"}
)

// routeTable maps a request to its route: the operation ID of the spec's operation for
// its path and method, with the version aliases of Clients folded into v7.1.
type routeTable struct {
	ops map[string]map[string]route // path -> method -> route
}

func newRouteTable() *routeTable {
	t := &routeTable{ops: map[string]map[string]route{}}
	for path, item := range spec.Paths.Map() {
		methods := map[string]route{}
		for method, op := range item.Operations() {
			methods[method] = route{name: op.OperationID}
		}
		t.ops[path] = methods
	}
	if clients, ok := t.ops["/api/v7.1/Clients"]; ok {
		for _, v := range clientsVersions {
			t.ops["/api/"+v+"/Clients"] = clients
		}
	}
	return t
}

func (t *routeTable) of(r *http.Request) route {
	path := r.URL.Path
	if methods, ok := t.ops[path]; ok {
		if rt, ok := methods[r.Method]; ok {
			return rt
		}
		return routeMethodNotAllowed
	}
	switch {
	case path == "/healthz":
		return routeHealthz
	case path == "/readyz":
		return routeReadyz
	case path == "/metrics":
		return routeMetrics
	case path == "/openapi.yaml" || path == "/openapi.json" || path == "/swagger" || strings.HasPrefix(path, "/swagger/"):
		return routeDocs
	}
	return routeNotFound
}

// sessionsGauge is the vroauth_active_sessions gauge: the live sessions the store
// counts, read at most every sessionsEvery and within the probe timeout, so that a
// scrape is cheap and never hangs on a database that does not answer. When the count
// fails, the gauge is left out of the scrape.
type sessionsGauge struct {
	desc    *prometheus.Desc
	count   func(context.Context) (int, error)
	now     core.Clock
	timeout time.Duration

	mu    sync.Mutex
	at    time.Time
	value int
	ok    bool
	calls bounded[int]
}

func newSessionsGauge(store core.Store, now core.Clock, timeout time.Duration) *sessionsGauge {
	return &sessionsGauge{
		desc: prometheus.NewDesc("vroauth_active_sessions",
			"Live sessions (families whose newest refresh token is unspent and unexpired), as the database counts them; refreshed at most every 15s.",
			nil, nil),
		count:   store.CountSessions,
		now:     now,
		timeout: timeout,
	}
}

// Describe implements prometheus.Collector.
func (g *sessionsGauge) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

// Collect implements prometheus.Collector.
func (g *sessionsGauge) Collect(ch chan<- prometheus.Metric) {
	if n, ok := g.read(); ok {
		ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, float64(n))
	}
}

func (g *sessionsGauge) read() (int, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	if g.ok && now.Sub(g.at) < sessionsEvery && !now.Before(g.at) {
		return g.value, true
	}
	n, err := g.calls.do(context.Background(), g.timeout, g.count)
	g.value, g.ok, g.at = n, err == nil, now
	return n, g.ok
}
