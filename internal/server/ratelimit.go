package server

import (
	"fmt"
	"hash/maphash"
	"math"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/vroauth/vroauth/internal/core"
)

// Failed authentications are limited with token buckets (golang.org/x/time/rate), of
// three scopes:
//
//   - pair: one account from one source address, AuthFailureBurst failures refilled at
//     AuthFailuresPerMinute. This is the bucket a guesser empties first, and emptying it
//     holds back nobody but that address for that account.
//   - address: one source address, every account, addressFactor times larger. It stops
//     one address from spraying guesses over many accounts, while a few people behind
//     one NAT who mistype at the same time are not held back.
//   - account: one account, every address, accountFactor times larger. It bounds a
//     guess spread over many addresses, which the pair buckets alone would not.
//
// Only failures take tokens: a wrong password or secret, an unknown account (charged
// exactly like a known one, so that a 429 does not tell them apart). A success is never
// charged, and it refills the pair bucket, since it proves the caller knows the secret.
// Before the credentials are checked, an attempt is refused (429, Retry-After) if one of
// its buckets has no token left for it, so a refused guess costs no password hash.
// Password attempts in flight from an address the account is not trusted at count
// against the buckets, so that many guesses sent at once get no more (slow) password
// checks than the buckets hold. Client-secret attempts never count in flight: a secret
// carries 256 random bits and costs one HMAC to check, so a burst of guesses gains
// nothing, while a program legitimately opening many sessions at once (64 concurrent
// client_credentials grants on first start) must never be refused for it.
//
// The wide buckets could let a distributed guesser lock an account out everywhere, or
// a guesser lock out its neighbours behind the same address. So an address where the
// account authenticated in the last trustTTL is "trusted" for that account: its
// attempts are held back only by their own pair bucket, never by the address or account
// buckets (and their failures are charged to the pair bucket only). A guesser cannot
// earn that trust without the secret. What remains is inherent: a legitimate caller at
// a new address while its account is under a distributed attack, or behind the very
// address the guesser uses, waits like the guesser does.
//
// Memory is bounded: buckets that have refilled completely and trust marks older than
// trustTTL are dropped every sweepEvery, and each map holds at most maxLimiterEntries
// entries (beyond that, arbitrary entries are dropped). Keys are seeded 64-bit
// hashes, so no user name or address is kept, and an entry costs the same for any key.

// Defaults of the limits on failed authentications: a person who mistypes a password
// ten times in a row is not slowed; a program that guesses gets one guess every ten
// seconds per account and address once the first ten are spent.
const (
	DefaultAuthFailuresPerMinute = 6
	DefaultAuthFailureBurst      = 10
)

const (
	addressFactor     = 5  // the address bucket is this many pair buckets
	accountFactor     = 10 // the account bucket is this many pair buckets
	trustTTL          = 24 * time.Hour
	sweepEvery        = time.Minute
	maxLimiterEntries = 1 << 16 // per map; both maps full take about 15 MB
)

// limit is the size and refill rate of one scope of buckets.
type limit struct {
	rate  rate.Limit // tokens per second
	burst int
}

// authLimiter limits failed authentications; a nil *authLimiter limits nothing.
type authLimiter struct {
	now                    core.Clock
	seed                   maphash.Seed
	pair, address, account limit

	mu        sync.Mutex
	buckets   map[uint64]*rate.Limiter // failures by key; absent means full
	inflight  map[uint64]int           // attempts admitted and not settled yet
	trusted   map[uint64]time.Time     // pair key → last success
	nextSweep time.Time
}

// newAuthLimiter returns a limiter of perMinute failures per account and address with
// the given burst (zero values take the defaults), or nil if perMinute is negative.
func newAuthLimiter(perMinute float64, burst int, now core.Clock) *authLimiter {
	if perMinute < 0 {
		return nil
	}
	if perMinute == 0 {
		perMinute = DefaultAuthFailuresPerMinute
	}
	if burst <= 0 {
		burst = DefaultAuthFailureBurst
	}
	r := rate.Limit(perMinute / 60)
	return &authLimiter{
		now:      now,
		seed:     maphash.MakeSeed(),
		pair:     limit{r, burst},
		address:  limit{r * addressFactor, burst * addressFactor},
		account:  limit{r * accountFactor, burst * accountFactor},
		buckets:  map[uint64]*rate.Limiter{},
		inflight: map[uint64]int{},
		trusted:  map[uint64]time.Time{},
	}
}

// Key scopes.
const (
	scopePair    = 'p'
	scopeAddress = 'i'
	scopeAccount = 'a'
)

func (l *authLimiter) key(scope byte, account, addr string) uint64 {
	var h maphash.Hash
	h.SetSeed(l.seed)
	h.WriteByte(scope)
	h.WriteString(account)
	h.WriteByte(0)
	h.WriteString(addr)
	return h.Sum64()
}

// sourceKey is the part of a caller's address that identifies it: the address for
// IPv4, the /64 network for IPv6 (one host usually holds a whole /64).
func sourceKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// attempt is an admitted authentication, to be settled once its outcome is known.
type attempt struct {
	l        *authLimiter
	pair     uint64
	wide     [2]uint64 // the address and account keys
	trusted  bool      // the wide buckets were not consulted
	reserved bool      // the attempt counts in flight until settled
}

// admit decides whether an authentication of account (a name that includes its kind,
// such as "u:corp\\jsmith") from address ip may be checked now. It returns the attempt
// to settle, or how long to wait before the next attempt would be admitted. With
// reserve, an admitted attempt from an untrusted address counts in flight until it is
// settled (for password checks; see the type comment).
func (l *authLimiter) admit(account, ip string, reserve bool) (*attempt, time.Duration) {
	if l == nil {
		return nil, 0
	}
	src := sourceKey(ip)
	a := &attempt{
		l:    l,
		pair: l.key(scopePair, account, src),
		wide: [2]uint64{l.key(scopeAddress, "", src), l.key(scopeAccount, account, "")},
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweepIfDue(now)
	last, ok := l.trusted[a.pair]
	a.trusted = ok && now.Sub(last) < trustTTL
	wait := l.wait(a.pair, l.pair, now)
	if !a.trusted {
		wait = max(wait, l.wait(a.wide[0], l.address, now), l.wait(a.wide[1], l.account, now))
	}
	if wait > 0 {
		return nil, wait
	}
	a.reserved = reserve && !a.trusted
	if a.reserved {
		l.inflight[a.pair]++
		l.inflight[a.wide[0]]++
		l.inflight[a.wide[1]]++
	}
	return a, 0
}

// wait returns how long until key's bucket holds a token for one more attempt beyond
// those in flight: zero if it does now.
func (l *authLimiter) wait(key uint64, lim limit, now time.Time) time.Duration {
	tokens := float64(lim.burst)
	if b := l.buckets[key]; b != nil {
		tokens = b.TokensAt(now)
	}
	missing := 1 + float64(l.inflight[key]) - tokens
	if missing <= 0 {
		return 0
	}
	return time.Duration(missing / float64(lim.rate) * float64(time.Second))
}

// settle records the outcome of an admitted attempt: ok when the credentials were
// right, failed when they were wrong; neither (a server error, a disabled account)
// charges nothing. A nil attempt is a no-op.
func (a *attempt) settle(ok, failed bool) {
	if a == nil {
		return
	}
	l := a.l
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if a.reserved {
		l.release(a.pair)
		l.release(a.wide[0])
		l.release(a.wide[1])
	}
	switch {
	case failed:
		l.charge(a.pair, l.pair, now)
		if !a.trusted {
			l.charge(a.wide[0], l.address, now)
			l.charge(a.wide[1], l.account, now)
		}
	case ok:
		delete(l.buckets, a.pair)
		if _, known := l.trusted[a.pair]; !known && len(l.trusted) >= maxLimiterEntries {
			l.sweep(now)
			shrinkFull(l.trusted)
		}
		l.trusted[a.pair] = now
	}
}

func (l *authLimiter) release(key uint64) {
	if n := l.inflight[key]; n > 1 {
		l.inflight[key] = n - 1
	} else {
		delete(l.inflight, key)
	}
}

// charge takes one token from key's bucket, creating it full if it does not exist.
func (l *authLimiter) charge(key uint64, lim limit, now time.Time) {
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxLimiterEntries {
			l.sweep(now)
			shrinkFull(l.buckets)
		}
		b = rate.NewLimiter(lim.rate, lim.burst)
		l.buckets[key] = b
	}
	b.ReserveN(now, 1) // may go below zero under concurrent failures: a longer wait
}

func (l *authLimiter) sweepIfDue(now time.Time) {
	if now.Before(l.nextSweep) {
		return
	}
	l.sweep(now)
}

// sweep drops the buckets that are full again and the trust marks that have expired:
// neither carries information any more.
func (l *authLimiter) sweep(now time.Time) {
	l.nextSweep = now.Add(sweepEvery)
	for k, b := range l.buckets {
		if b.TokensAt(now) >= float64(b.Burst()) && l.inflight[k] == 0 {
			delete(l.buckets, k)
		}
	}
	for k, t := range l.trusted {
		if now.Sub(t) >= trustTTL {
			delete(l.trusted, k)
		}
	}
}

// shrinkFull drops arbitrary entries of a map that is still full after a sweep, down to
// nine tenths of its bound, so that the next sweep is many insertions away.
func shrinkFull[V any](m map[uint64]V) {
	if len(m) < maxLimiterEntries {
		return
	}
	for k := range m {
		if len(m) <= maxLimiterEntries*9/10 {
			return
		}
		delete(m, k)
	}
}

// tooManyFailures is the answer to an attempt refused by the limiter.
func tooManyFailures(wait time.Duration) *oauthError {
	secs := int(math.Ceil(wait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	return &oauthError{
		code:        "temporarily_unavailable",
		description: fmt.Sprintf("too many failed attempts; retry after %d seconds", secs),
		retryAfter:  secs,
	}
}

// userAccount and clientAccount are the limiter's names of the account a password or
// client-secret attempt is for, the same for every spelling that finds the account.
func userAccount(name string) string { return "u:" + core.UserKey(name) }

func clientAccount(id string) string { return "c:" + strings.ToLower(id) }

// wrongCredentials reports whether err refuses an authentication because the
// credentials are wrong (or malformed, or name no account): the failures the limiter
// counts. A disabled account, whose credentials were right, and server failures are
// not counted.
func wrongCredentials(err error) bool {
	e, ok := err.(*oauthError)
	if !ok {
		return false
	}
	switch e.reason {
	case reasonMalformed, reasonUnknownUser, reasonBadPassword, reasonUnknownClient, reasonBadSecret:
		return true
	}
	return false
}
