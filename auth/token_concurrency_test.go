package auth_test

import (
	"context"
	"errors"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/vroauth/vroauth/auth"
)

// TestSourceOneRequest has 1,000 goroutines find an expired token at once.
func TestSourceOneRequest(t *testing.T) {
	release := make(chan struct{})
	srv := MustTokenServer(t, func(n int, form url.Values) (int, any) {
		<-release
		return issue(n, form)
	})
	clock := newFakeClock()
	src := clientConfig(srv, clock).TokenSource(&auth.Token{AccessToken: "old", RefreshToken: "rt-0", Expiry: clock.Now()})

	const n = 1000
	var started, done sync.WaitGroup
	started.Add(n)
	done.Add(n)
	for range n {
		go func() {
			defer done.Done()
			started.Done()
			if tok, err := src.Token(context.Background()); err != nil || tok.AccessToken != "at-1" {
				t.Errorf("Token() = %v, %v; want at-1", tok, err)
			}
		}()
	}
	started.Wait()
	time.Sleep(20 * time.Millisecond) // let the goroutines pile up; the test holds either way
	close(release)
	done.Wait()
	checkGrants(t, srv, "refresh_token:rt-0")
}

// TestSourceCancelledCaller checks that a caller who gives up while its token request
// is in flight returns at once, and that the request goes on for the callers waiting
// for it: one request, whose token they get.
func TestSourceCancelledCaller(t *testing.T) {
	entered, leaderGone := make(chan struct{}), make(chan struct{})
	srv := MustTokenServer(t, func(n int, form url.Values) (int, any) {
		if n == 1 {
			close(entered)
			<-leaderGone
		}
		return issue(n, form)
	})
	src := clientConfig(srv, newFakeClock()).TokenSource(nil)

	ctx, cancel := context.WithCancel(context.Background())
	leader := make(chan error)
	go func() {
		_, err := src.Token(ctx)
		leader <- err
	}()
	MustReceive(t, entered)
	waiter := make(chan string)
	go func() {
		tok, err := src.Token(context.Background())
		if err != nil {
			t.Errorf("waiter: Token() error = %v; want a token", err)
			waiter <- ""
			return
		}
		waiter <- tok.AccessToken
	}()
	time.Sleep(20 * time.Millisecond) // let the waiter start waiting; the test holds either way
	cancel()
	if err := MustReceive(t, leader); !errors.Is(err, context.Canceled) {
		t.Errorf("leader: Token() error = %v; want context.Canceled", err)
	}
	close(leaderGone)
	if got := MustReceive(t, waiter); got != "at-1" {
		t.Errorf("waiter: Token() = %q; want at-1 (the request the leader started)", got)
	}
	checkGrants(t, srv, "client_credentials")
}

// TestSourceCancelledRefreshKeepsRotation checks that a refresh whose caller gives up
// still stores the rotated refresh token, so the next refresh never presents the spent
// one (which a server treats as theft, ending the session).
func TestSourceCancelledRefreshKeepsRotation(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	srv := MustTokenServer(t, func(n int, form url.Values) (int, any) {
		if n == 1 {
			close(entered)
			<-release
		}
		return issue(n, form)
	})
	clock := newFakeClock()
	src := clientConfig(srv, clock).TokenSource(&auth.Token{AccessToken: "old", RefreshToken: "rt-0", Expiry: clock.Now()})
	ctx, cancel := context.WithCancel(context.Background())
	leader := make(chan error)
	go func() {
		_, err := src.Token(ctx)
		leader <- err
	}()
	MustReceive(t, entered)
	cancel()
	if err := MustReceive(t, leader); !errors.Is(err, context.Canceled) {
		t.Errorf("Token() error = %v; want context.Canceled", err)
	}
	close(release) // the server rotates rt-0 into rt-1 after the caller left
	if got := MustToken(t, src).AccessToken; got != "at-1" {
		t.Fatalf("Token() after the cancelled refresh = %q; want at-1", got)
	}
	clock.Advance(time.Hour)
	MustToken(t, src)
	checkGrants(t, srv, "refresh_token:rt-0", "refresh_token:rt-1")
}

// TestSourceWaiters checks what callers get while another caller's request is in
// flight: the current token while it has not expired, or their own context's error.
func TestSourceWaiters(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	srv := MustTokenServer(t, func(n int, form url.Values) (int, any) {
		close(entered)
		<-release
		return issue(n, form)
	})
	clock := newFakeClock()
	src := clientConfig(srv, clock).TokenSource(&auth.Token{AccessToken: "old", RefreshToken: "rt-0", Expiry: clock.Now().Add(5 * time.Second)})
	clock.Advance(3 * time.Second) // due for renewal, not expired
	leader := make(chan string)
	go func() {
		tok, err := src.Token(context.Background())
		if err != nil {
			t.Errorf("leader: Token() error = %v", err)
			leader <- ""
			return
		}
		leader <- tok.AccessToken
	}()
	MustReceive(t, entered)

	cancelled, cancel := context.WithCancel(context.Background())
	cancel() // so that waiting would fail at once
	if tok, err := src.Token(cancelled); err != nil || tok.AccessToken != "old" {
		t.Errorf("Token() during the refresh = %v, %v; want the unexpired token old", tok, err)
	}
	clock.Advance(2 * time.Second) // now "old" has expired: the waiter must wait
	if tok, err := src.Token(cancelled); !errors.Is(err, context.Canceled) {
		t.Errorf("Token(cancelled ctx) during the refresh = %v, %v; want context.Canceled", tok, err)
	}
	close(release)
	if got := MustReceive(t, leader); got != "at-1" {
		t.Errorf("leader: Token() = %q; want at-1", got)
	}
	checkGrants(t, srv, "refresh_token:rt-0")
}

// MustReceive returns the next value from ch, failing the test if none comes soon:
// a hung test says less than a failed one.
func MustReceive[T any](tb testing.TB, ch <-chan T) T {
	tb.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		tb.Fatal("nothing received after 10 seconds")
		panic("unreachable")
	}
}
