package server_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/vroauth/vroauth/gen"
	"github.com/vroauth/vroauth/internal/core"
)

// These tests show that a standard OAuth 2 client, golang.org/x/oauth2 as it is, works
// against the server unchanged: every grant, every way of client authentication, and a
// client secret full of the characters that form and Basic encodings treat specially.
// All their traffic, token requests included, goes through the validating transport.

var authStyles = []struct {
	name  string
	style oauth2.AuthStyle
}{
	{"AutoDetect", oauth2.AuthStyleAutoDetect},
	{"InParams", oauth2.AuthStyleInParams},
	{"InHeader", oauth2.AuthStyleInHeader},
}

// oauthContext makes x/oauth2 send its token requests with the validating client.
func oauthContext(env *Env) context.Context {
	return context.WithValue(context.Background(), oauth2.HTTPClient, env.HTTPClient)
}

// apiClient returns the generated client over an *http.Client of x/oauth2.
func apiClient(t *testing.T, env *Env, hc *http.Client) *gen.ClientWithResponses {
	t.Helper()
	c, err := gen.NewClientWithResponses(env.HTTP.URL, gen.WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// retrieveError returns the RFC 6749 error code of a failed token request.
func retrieveError(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

func TestOAuth2PasswordGrant(t *testing.T) {
	env := MustServe(t, Options{})
	env.MustUser(`CORP\alice`, "alice-password", core.RoleAdministrator)
	for _, as := range authStyles {
		t.Run("OK"+as.name, func(t *testing.T) {
			ctx := oauthContext(env)
			cfg := &oauth2.Config{Endpoint: oauth2.Endpoint{TokenURL: env.HTTP.URL + "/api/token", AuthStyle: as.style}}
			tok, err := cfg.PasswordCredentialsToken(ctx, `corp\ALICE`, "alice-password")
			if err != nil {
				t.Fatalf("PasswordCredentialsToken = %v; want a token", err)
			}
			if tok.AccessToken == "" || tok.RefreshToken == "" || tok.Type() != "Bearer" || time.Until(tok.Expiry) < 14*time.Minute {
				t.Errorf("token = type %q, expiry in %v, refresh %t; want Bearer, ~15m, a refresh token",
					tok.Type(), time.Until(tok.Expiry).Round(time.Minute), tok.RefreshToken != "")
			}
			api := apiClient(t, env, cfg.Client(ctx, tok))
			created, err := api.CreateClientWithResponse(context.Background())
			if err != nil || created.JSON200 == nil {
				t.Fatalf("CreateClient = %v %d %s; want 200", err, created.StatusCode(), created.Body)
			}
			list, err := api.ListClientsWithResponse(context.Background())
			if err != nil || list.JSON200 == nil || !slices.Contains(*list.JSON200, created.JSON200.ClientId) {
				t.Fatalf("ListClients = %v %d %s; want the new client", err, list.StatusCode(), list.Body)
			}
		})
	}
	t.Run("OKRefresh", func(t *testing.T) {
		ctx := oauthContext(env)
		cfg := &oauth2.Config{Endpoint: oauth2.Endpoint{TokenURL: env.HTTP.URL + "/api/token"}}
		first, err := cfg.PasswordCredentialsToken(ctx, `CORP\alice`, "alice-password")
		if err != nil {
			t.Fatal(err)
		}
		// An expired token: x/oauth2 refreshes it before the call.
		stale := &oauth2.Token{AccessToken: first.AccessToken, RefreshToken: first.RefreshToken, Expiry: time.Now().Add(-time.Minute)}
		src := cfg.TokenSource(ctx, stale)
		api := apiClient(t, env, oauth2.NewClient(ctx, src))
		if r, err := api.ListClientsWithResponse(context.Background()); err != nil || r.StatusCode() != 200 {
			t.Fatalf("ListClients after refresh = %v %d; want 200", err, r.StatusCode())
		}
		next, err := src.Token()
		if err != nil || next.AccessToken == first.AccessToken || next.RefreshToken == first.RefreshToken {
			t.Errorf("refreshed token: %v, new access %t, new refresh %t; want a new pair", err,
				next.AccessToken != first.AccessToken, next.RefreshToken != first.RefreshToken)
		}
	})
	t.Run("ErrWrongPassword", func(t *testing.T) {
		cfg := &oauth2.Config{Endpoint: oauth2.Endpoint{TokenURL: env.HTTP.URL + "/api/token"}}
		_, err := cfg.PasswordCredentialsToken(oauthContext(env), `CORP\alice`, "wrong")
		if got := retrieveError(err); got != "invalid_grant" {
			t.Errorf("PasswordCredentialsToken(wrong password) = %v; want invalid_grant", err)
		}
	})
}

// awkwardSecret has every character that form encoding, HTTP Basic (RFC 6749 §2.3.1
// encodes both parts) or a careless decoder could change.
const awkwardSecret = "pl+us/sl=ash%pct%2Bnot-a-plus&amp ;=="

func TestOAuth2ClientCredentials(t *testing.T) {
	env := MustServe(t, Options{})
	alice := env.MustUser("alice", "alice-password", core.RoleAdministrator)
	generated := env.MustCreateClient(env.MustLogin("alice", "alice-password").AccessToken)

	// Secrets the server generates are base64url; one with awkward characters is put
	// in the store directly, hashed as the server hashes secrets.
	awkward := &core.Client{ID: core.NewID(), UserID: alice.ID, SecretHash: env.Secrets.Hash(awkwardSecret)}
	if err := env.Store.CreateClient(context.Background(), awkward); err != nil {
		t.Fatal(err)
	}
	clients := []struct{ name, id, secret string }{
		{"Generated", generated.ClientId.String(), generated.ClientSecret},
		{"AwkwardSecret", awkward.ID, awkwardSecret},
	}
	for _, c := range clients {
		for _, as := range authStyles {
			t.Run("OK"+c.name+"/"+as.name, func(t *testing.T) {
				cfg := &clientcredentials.Config{ClientID: c.id, ClientSecret: c.secret,
					TokenURL: env.HTTP.URL + "/api/token", AuthStyle: as.style}
				api := apiClient(t, env, cfg.Client(oauthContext(env)))
				list, err := api.ListClientsWithResponse(context.Background())
				if err != nil || list.JSON200 == nil {
					t.Fatalf("ListClients = %v %d %s; want 200", err, list.StatusCode(), list.Body)
				}
				if got := idStrings(*list.JSON200); !slices.Equal(got, []string{c.id}) {
					t.Errorf("ListClients = %v; want only %s", got, c.id)
				}
				// A client may not create clients: 403, in the contract's shape.
				created, err := api.CreateClientWithResponse(context.Background())
				if err != nil || created.StatusCode() != 403 {
					t.Errorf("CreateClient as a client = %v %d; want 403", err, created.StatusCode())
				}
			})
			t.Run("ErrWrongSecret"+c.name+"/"+as.name, func(t *testing.T) {
				cfg := &clientcredentials.Config{ClientID: c.id, ClientSecret: c.secret + "x",
					TokenURL: env.HTTP.URL + "/api/token", AuthStyle: as.style}
				_, err := cfg.Token(oauthContext(env))
				if got := retrieveError(err); got != "invalid_client" {
					t.Errorf("Token(wrong secret) = %v; want invalid_client", err)
				}
			})
		}
	}
}
