package auth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/vroauth/vroauth/auth"
	"github.com/vroauth/vroauth/gen"
)

func ExampleMiddleware() {
	sessions := map[string]*auth.Principal{ // in a real server: a store of token hashes
		"kD8sV1qN4bZ7xC0m": {Kind: auth.KindUser, ID: "42", UserID: "42", Username: `CORP\jsmith`,
			Role: auth.RolePlanAuthor, SessionID: "s-1"},
	}
	verifier := auth.VerifierFunc(func(ctx context.Context, token string) (*auth.Principal, error) {
		if p, ok := sessions[token]; ok {
			return p, nil
		}
		return nil, auth.ErrInvalidToken
	})

	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v7.1/Clients", func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		fmt.Fprintf(w, "clients of %s (%s)", p.Username, p.Role)
	})
	mux.Handle("DELETE /api/v7.1/Clients", auth.RequireRole(auth.RoleAdministrator)(http.NotFoundHandler()))
	public := auth.WithPublic(func(r *http.Request) bool { return r.URL.Path == "/api/token" })
	handler := auth.Middleware(verifier, public)(mux)

	for _, call := range []struct{ method, authorization string }{
		{"GET", "Bearer kD8sV1qN4bZ7xC0m"},
		{"GET", ""},
		{"GET", "Bearer expired"},
		{"DELETE", "bearer kD8sV1qN4bZ7xC0m"},
	} {
		req := httptest.NewRequest(call.method, "/api/v7.1/Clients", nil)
		req.Header.Set("Authorization", call.authorization)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
		if c := rec.Header().Get("WWW-Authenticate"); c != "" {
			fmt.Println("  " + c)
		}
	}
	// Output:
	// 200 clients of CORP\jsmith (PlanAuthor)
	// 401 {"errorCode":"Unauthorized","message":"a bearer access token is required"}
	//   Bearer realm="vroauth"
	// 401 {"errorCode":"Unauthorized","message":"the access token is invalid or has expired"}
	//   Bearer realm="vroauth", error="invalid_token", error_description="the access token is invalid or has expired"
	// 403 {"errorCode":"Forbidden","message":"the caller's role does not allow this operation"}
	//   Bearer realm="vroauth", error="insufficient_scope"
}

func ExampleTransport() {
	orchestrator := newOrchestrator() // an httptest stand-in for a VRO server
	defer orchestrator.Close()

	source := (&auth.Config{
		TokenURL:     orchestrator.URL + "/api/token",
		ClientID:     "0b5a4f0e-6c1d-4e0b-9d0c-3f6c1c2b7a11",
		ClientSecret: "9pQ3xJ0tqS2Kc1mB4wV7yZ8aR5dF6gH0jL3nP2sT4uW",
	}).TokenSource(nil)
	httpClient := &http.Client{Transport: &auth.Transport{Source: source}}
	client, err := gen.NewClientWithResponses(orchestrator.URL, gen.WithHTTPClient(httpClient))
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	resp, err := client.ListClientsWithResponse(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.StatusCode(), *resp.JSON200)

	orchestrator.forget()                           // every session ends, as if revoked
	resp, err = client.ListClientsWithResponse(ctx) // 401, new token, retried
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.StatusCode(), *resp.JSON200)
	// Output:
	// 200 [0b5a4f0e-6c1d-4e0b-9d0c-3f6c1c2b7a11]
	// 200 [0b5a4f0e-6c1d-4e0b-9d0c-3f6c1c2b7a11]
}

func ExampleConfig_TokenSource() {
	orchestrator := newOrchestrator()
	defer orchestrator.Close()

	var saved []byte // in a CLI: a file only the user can read
	cfg := &auth.Config{
		TokenURL:     orchestrator.URL + "/api/token",
		ClientID:     "0b5a4f0e-6c1d-4e0b-9d0c-3f6c1c2b7a11",
		ClientSecret: "9pQ3xJ0tqS2Kc1mB4wV7yZ8aR5dF6gH0jL3nP2sT4uW",
		OnToken:      func(t *auth.Token) { saved, _ = json.Marshal(t) },
	}
	if _, err := cfg.TokenSource(nil).Token(context.Background()); err != nil {
		log.Fatal(err)
	}

	// Later, another run resumes the session without the secret.
	var tok auth.Token
	if err := json.Unmarshal(saved, &tok); err != nil {
		log.Fatal(err)
	}
	resumed := (&auth.Config{TokenURL: cfg.TokenURL}).TokenSource(&tok)
	t, err := resumed.Token(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(t.AccessToken)
	// Output: token-1
}

// fakeOrchestrator implements just enough of a VRO server for the examples: the
// client_credentials grant of POST /api/token for one client account, and
// GET /api/v7.1/Clients behind auth.Middleware.
type fakeOrchestrator struct {
	*httptest.Server
	handler  http.Handler
	mu       sync.Mutex
	issued   int
	sessions map[string]*auth.Principal
}

func newOrchestrator() *fakeOrchestrator {
	o := &fakeOrchestrator{sessions: map[string]*auth.Principal{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/token", o.token)
	mux.HandleFunc("GET /api/v7.1/Clients", func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode([]string{p.ID})
	})
	public := auth.WithPublic(func(r *http.Request) bool { return r.URL.Path == "/api/token" })
	o.handler = auth.Middleware(auth.VerifierFunc(o.verify), public)(mux)
	o.Server = httptest.NewServer(o.handler)
	return o
}

func (o *fakeOrchestrator) token(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if r.PostFormValue("grant_type") != "client_credentials" ||
		r.PostFormValue("client_id") != "0b5a4f0e-6c1d-4e0b-9d0c-3f6c1c2b7a11" ||
		r.PostFormValue("client_secret") != "9pQ3xJ0tqS2Kc1mB4wV7yZ8aR5dF6gH0jL3nP2sT4uW" {
		w.WriteHeader(http.StatusBadRequest) // refresh tokens are not implemented here
		_ = json.NewEncoder(w).Encode(gen.OAuthError{Error: "invalid_grant"})
		return
	}
	o.mu.Lock()
	o.issued++
	access := fmt.Sprintf("token-%d", o.issued)
	o.sessions[access] = &auth.Principal{Kind: auth.KindClient, ID: r.PostFormValue("client_id"),
		UserID: "42", Username: `CORP\jsmith`, Role: auth.RoleAdministrator, SessionID: access}
	o.mu.Unlock()
	_ = json.NewEncoder(w).Encode(gen.TokenResponse{AccessToken: access, TokenType: "bearer",
		ExpiresIn: 899, RefreshToken: "refresh-" + access})
}

func (o *fakeOrchestrator) verify(_ context.Context, token string) (*auth.Principal, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if p, ok := o.sessions[token]; ok {
		return p, nil
	}
	return nil, auth.ErrInvalidToken
}

// forget ends every session.
func (o *fakeOrchestrator) forget() {
	o.mu.Lock()
	defer o.mu.Unlock()
	clear(o.sessions)
}
