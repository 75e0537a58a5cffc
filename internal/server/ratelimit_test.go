package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vroauth/vroauth/internal/apitest"
	"github.com/vroauth/vroauth/internal/core"
	"github.com/vroauth/vroauth/internal/server"
)

// The limits these tests run with: the defaults, so that the tests also pin them.
const (
	burst   = server.DefaultAuthFailureBurst
	refill  = time.Minute / server.DefaultAuthFailuresPerMinute // one token every 10s
	retryIn = "10"                                              // Retry-After once the pair bucket is empty
)

// roundTripFunc is an http.RoundTripper made of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// caller sends requests to env's handler in process as if from address ip, through
// the contract-checking transport.
type caller struct {
	t    *testing.T
	env  *Env
	http *http.Client
}

func from(t *testing.T, env *Env, ip string) *caller {
	h := env.HTTP.Config.Handler
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r2 := r.Clone(r.Context())
		r2.RemoteAddr = hostPort(ip)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r2)
		return rec.Result(), nil
	})
	return &caller{t: t, env: env, http: apitest.Client(t, rt)}
}

// hostPort writes an address as RemoteAddr carries it.
func hostPort(ip string) string {
	if strings.Contains(ip, ":") {
		return "[" + ip + "]:40000"
	}
	return ip + ":40000"
}

// answer is what a limited endpoint said.
type answer struct {
	status     int
	retryAfter string
	cache      string
	pragma     string
	err        string
	desc       string
}

func (c *caller) post(path string, form url.Values, edit func(*http.Request)) answer {
	c.t.Helper()
	req, err := http.NewRequest("POST", "http://vroauth.test"+path, strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", formType)
	if edit != nil {
		edit(req)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"),
		cache: resp.Header.Get("Cache-Control"), pragma: resp.Header.Get("Pragma")}
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if resp.StatusCode != 200 {
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			c.t.Fatalf("POST %s: status %d with a body that is not JSON: %v", path, resp.StatusCode, err)
		}
	}
	a.err, a.desc = body.Error, body.Description
	return a
}

func (c *caller) login(name, password string) answer {
	c.t.Helper()
	return c.post("/api/token", url.Values{"grant_type": {"password"}, "username": {name}, "password": {password}}, nil)
}

func (c *caller) clientToken(id, secret string) answer {
	c.t.Helper()
	return c.post("/api/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}, nil)
}

// want fails the test unless a has the given status (and, for 429, the whole answer
// the contract gives it).
func (a answer) want(t *testing.T, what string, status int) {
	t.Helper()
	if a.status != status {
		t.Fatalf("%s: status = %d (%s: %s); want %d", what, a.status, a.err, a.desc, status)
	}
	if status != http.StatusTooManyRequests {
		return
	}
	secs, err := strconv.Atoi(a.retryAfter)
	if err != nil || secs < 1 {
		t.Errorf("%s: Retry-After = %q; want a number of seconds", what, a.retryAfter)
	}
	if a.cache != "no-store" || a.pragma != "no-cache" {
		t.Errorf("%s: Cache-Control, Pragma = %q, %q; want no-store, no-cache", what, a.cache, a.pragma)
	}
	if wantDesc := fmt.Sprintf("too many failed attempts; retry after %d seconds", secs); a.err != "temporarily_unavailable" || a.desc != wantDesc {
		t.Errorf("%s: body = %s: %s; want temporarily_unavailable: %s", what, a.err, a.desc, wantDesc)
	}
}

const (
	addrA = "198.51.100.7"
	addrB = "203.0.113.9"
)

func TestAuthRateLimitPassword(t *testing.T) {
	t.Run("OKWithinLimit", func(t *testing.T) {
		env := MustServe(t, Options{})
		env.MustUser("alice", "alice-password", core.RolePlanAuthor)
		a := from(t, env, addrA)
		for i := range burst {
			a.login("alice", "wrong").want(t, fmt.Sprintf("failure %d of the burst", i+1), 400)
		}
		// From here on, one failure per refill period is always admitted.
		for i := range 3 * burst {
			env.Clock.Add(refill)
			a.login("alice", "wrong").want(t, fmt.Sprintf("failure %d at the refill rate", i+1), 400)
		}
		env.Clock.Add(refill)
		a.login("alice", "alice-password").want(t, "the right password at the refill rate", 200)
	})
	t.Run("ErrOverLimit", func(t *testing.T) {
		env := MustServe(t, Options{})
		env.MustUser("alice", "alice-password", core.RolePlanAuthor)
		a := from(t, env, addrA)
		for range burst {
			a.login("alice", "wrong").want(t, "a failure within the burst", 400)
		}
		got := a.login("alice", "wrong")
		got.want(t, "the failure after the burst", 429)
		if got.retryAfter != retryIn {
			t.Errorf("Retry-After = %s; want %s (one token at the default rate)", got.retryAfter, retryIn)
		}
		// Refused before the password is checked: the right one is refused too.
		a.login("alice", "alice-password").want(t, "the right password after the burst", 429)
	})
	t.Run("OKSuccessNotCharged", func(t *testing.T) {
		env := MustServe(t, Options{})
		env.MustUser("alice", "alice-password", core.RolePlanAuthor)
		a := from(t, env, addrA)
		for range 5 * burst {
			a.login("alice", "alice-password").want(t, "a success", 200)
		}
		for range burst - 1 {
			a.login("alice", "wrong").want(t, "a failure after many successes", 400)
		}
		// A success refills the pair: the whole burst is available again.
		a.login("alice", "alice-password").want(t, "a success after failures", 200)
		for range burst {
			a.login("alice", "wrong").want(t, "a failure after a success", 400)
		}
		a.login("alice", "wrong").want(t, "the failure after the burst", 429)
	})
	t.Run("OKOtherAddress", func(t *testing.T) {
		env := MustServe(t, Options{})
		env.MustUser("alice", "alice-password", core.RolePlanAuthor)
		attacker, user := from(t, env, addrA), from(t, env, addrB)
		for range 3 * burst {
			attacker.login("alice", "guess")
		}
		attacker.login("alice", "alice-password").want(t, "the attacker's address", 429)
		user.login("alice", "alice-password").want(t, "the user at another address", 200)
		for range burst {
			user.login("alice", "typo").want(t, "the user's own typos", 400)
		}
	})
	t.Run("OKTimeMovesOn", func(t *testing.T) {
		env := MustServe(t, Options{})
		env.MustUser("alice", "alice-password", core.RolePlanAuthor)
		a := from(t, env, addrA)
		for range burst {
			a.login("alice", "wrong")
		}
		got := a.login("alice", "alice-password")
		got.want(t, "after the burst", 429)
		secs, _ := strconv.Atoi(got.retryAfter)
		env.Clock.Add(time.Duration(secs)*time.Second - time.Second)
		a.login("alice", "alice-password").want(t, "a second before Retry-After", 429)
		env.Clock.Add(time.Second)
		a.login("alice", "alice-password").want(t, "at Retry-After", 200)
	})
	t.Run("OKUnknownUserLikeKnown", func(t *testing.T) {
		env := MustServe(t, Options{})
		env.MustUser("alice", "alice-password", core.RolePlanAuthor)
		a := from(t, env, addrA)
		for _, name := range []string{"alice", "nobody"} {
			for range burst {
				a.login(name, "wrong").want(t, name+" within the burst", 400)
			}
			a.login(name, "wrong").want(t, name+" after the burst", 429)
		}
	})
	t.Run("OKCaseInsensitiveAccount", func(t *testing.T) {
		env := MustServe(t, Options{})
		env.MustUser(`CORP\alice`, "alice-password", core.RolePlanAuthor)
		a := from(t, env, addrA)
		for i := range burst {
			a.login([]string{`CORP\alice`, `corp\ALICE`}[i%2], "wrong")
		}
		a.login(` Corp\Alice `, "alice-password").want(t, "another spelling after the burst", 429)
	})
	t.Run("OKDisabledNotCharged", func(t *testing.T) {
		env := MustServe(t, Options{})
		u := env.MustUser("alice", "alice-password", core.RolePlanAuthor)
		disable(t, env, u)
		a := from(t, env, addrA)
		for range 3 * burst {
			a.login("alice", "alice-password").want(t, "the right password of a disabled user", 400)
		}
		for range burst {
			a.login("alice", "wrong").want(t, "a wrong password after right ones", 400)
		}
	})
	t.Run("OKIPv6Network", func(t *testing.T) {
		env := MustServe(t, Options{})
		env.MustUser("alice", "alice-password", core.RolePlanAuthor)
		for i := range burst {
			from(t, env, fmt.Sprintf("2001:db8:1:2::%x", i+1)).login("alice", "wrong")
		}
		from(t, env, "2001:db8:1:2:ffff::1").login("alice", "alice-password").want(t, "the same /64", 429)
		from(t, env, "2001:db8:1:3::1").login("alice", "alice-password").want(t, "another /64", 200)
	})
	t.Run("OKOff", func(t *testing.T) {
		env := MustServe(t, Options{Configure: func(c *server.Config) { c.AuthFailuresPerMinute = -1 }})
		env.MustUser("alice", "alice-password", core.RolePlanAuthor)
		a := from(t, env, addrA)
		for range 5 * burst {
			a.login("alice", "wrong").want(t, "a failure with the limits off", 400)
		}
	})
	t.Run("OKConfigured", func(t *testing.T) {
		env := MustServe(t, Options{Configure: func(c *server.Config) { c.AuthFailuresPerMinute, c.AuthFailureBurst = 1, 2 }})
		env.MustUser("alice", "alice-password", core.RolePlanAuthor)
		a := from(t, env, addrA)
		a.login("alice", "wrong").want(t, "failure 1 of 2", 400)
		a.login("alice", "wrong").want(t, "failure 2 of 2", 400)
		if got := a.login("alice", "wrong"); got.status != 429 || got.retryAfter != "60" {
			t.Errorf("after a burst of 2 at 1/min: %d, Retry-After %s; want 429, 60", got.status, got.retryAfter)
		}
	})
}

// TestAuthRateLimitWide covers the address and account buckets, and the trust an
// address earns by a success.
func TestAuthRateLimitWide(t *testing.T) {
	t.Run("ErrSprayFromOneAddress", func(t *testing.T) {
		env := MustServe(t, Options{})
		env.MustUser("alice", "alice-password", core.RolePlanAuthor)
		a := from(t, env, addrA)
		for i := range 5 * burst { // the address bucket: 5 pair buckets
			a.login(fmt.Sprintf("user%d", i), "guess").want(t, "a spray within the address bucket", 400)
		}
		a.login("user-next", "guess").want(t, "a spray beyond the address bucket", 429)
		a.login("alice", "alice-password").want(t, "a new account at the sprayed address", 429)
		from(t, env, addrB).login("alice", "alice-password").want(t, "another address", 200)
	})
	t.Run("ErrDistributedGuess", func(t *testing.T) {
		env := MustServe(t, Options{})
		env.MustUser("alice", "alice-password", core.RolePlanAuthor)
		for i := range 10 { // the account bucket: 10 pair buckets, each from its own address
			c := from(t, env, fmt.Sprintf("192.0.2.%d", i+1))
			for range burst {
				c.login("alice", "guess").want(t, "a guess within the account bucket", 400)
			}
		}
		from(t, env, "192.0.2.100").login("alice", "alice-password").want(t, "a new address after a distributed guess", 429)
		env.Clock.Add(refill / 10) // the account bucket refills 10 times faster
		from(t, env, "192.0.2.100").login("alice", "alice-password").want(t, "a new address once a token is back", 200)
	})
	t.Run("OKTrustedAddress", func(t *testing.T) {
		env := MustServe(t, Options{})
		env.MustUser("alice", "alice-password", core.RolePlanAuthor)
		user := from(t, env, addrB)
		user.login("alice", "alice-password").want(t, "the user's first login", 200)
		// A guess spread over many addresses empties alice's account bucket...
		for i := range 12 {
			c := from(t, env, fmt.Sprintf("192.0.2.%d", i+1))
			for range burst {
				c.login("alice", "guess")
			}
		}
		// ...and the neighbour behind the user's address sprays other accounts.
		for i := range 6 * burst {
			user.login(fmt.Sprintf("user%d", i), "guess")
		}
		user.login("someone", "guess").want(t, "the sprayed address, another account", 429)
		from(t, env, "192.0.2.200").login("alice", "alice-password").want(t, "a new address for the attacked account", 429)
		user.login("alice", "alice-password").want(t, "the user at its trusted address", 200)
		for range burst {
			user.login("alice", "typo").want(t, "the user's own typos at its trusted address", 400)
		}
		user.login("alice", "alice-password").want(t, "the user's own pair bucket still counts", 429)
		env.Clock.Add(25 * time.Hour) // trust expires, buckets refill
		user.login("alice", "alice-password").want(t, "after a day", 200)
	})
}

func TestAuthRateLimitClient(t *testing.T) {
	env := MustServe(t, Options{})
	env.MustUser("alice", "alice-password", core.RolePlanAuthor)
	c := env.MustCreateClient(env.MustLogin("alice", "alice-password").AccessToken)
	id := c.ClientId.String()
	refresh := env.MustClientToken(c).RefreshToken
	a := from(t, env, addrA)

	t.Run("OKSuccessNotCharged", func(t *testing.T) {
		for range 3 * burst {
			a.clientToken(id, c.ClientSecret).want(t, "a client success", 200)
		}
	})
	t.Run("ErrTokenEndpoint", func(t *testing.T) {
		for range burst / 2 {
			a.clientToken(id, "wrong-secret").want(t, "a wrong secret (form)", 400)
			a.post("/api/token", url.Values{"grant_type": {"client_credentials"}}, func(r *http.Request) {
				r.SetBasicAuth(strings.ToUpper(id), "wrong-secret")
			}).want(t, "a wrong secret (Basic)", 401)
		}
		a.clientToken(id, c.ClientSecret).want(t, "the right secret after the burst", 429)
		a.post("/api/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "client_id": {id}, "client_secret": {c.ClientSecret}}, nil).
			want(t, "a refresh with client authentication after the burst", 429)
	})
	t.Run("ErrRevoke", func(t *testing.T) {
		a.post("/api/revoke", url.Values{"token": {refresh}, "client_id": {id}, "client_secret": {c.ClientSecret}}, nil).
			want(t, "a revocation with client authentication after the burst", 429)
		a.post("/api/revoke", url.Values{"token": {refresh}}, nil).want(t, "a revocation without client authentication", 200)
	})
	t.Run("OKOtherAddress", func(t *testing.T) {
		from(t, env, addrB).clientToken(id, c.ClientSecret).want(t, "the client at another address", 200)
	})
	t.Run("ErrRevokeFailuresCount", func(t *testing.T) {
		b := from(t, env, "192.0.2.50")
		for range burst {
			b.post("/api/revoke", url.Values{"token": {"x"}, "client_id": {id}, "client_secret": {"wrong"}}, nil).
				want(t, "a revocation with a wrong secret", 400)
		}
		b.clientToken(id, c.ClientSecret).want(t, "the token endpoint after failed revocations", 429)
	})
}

// disable disables u in env's store.
func disable(t *testing.T, env *Env, u *core.User) {
	t.Helper()
	yes := true
	if _, err := env.Store.UpdateUser(t.Context(), u.Name, core.UserUpdate{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
}
