package api_test

import (
	"context"
	"slices"
	"sort"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/vroauth/vroauth/api"
)

// MustLoad loads and validates the embedded contract.
func MustLoad(tb testing.TB) *openapi3.T {
	tb.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.OpenAPIYAML)
	if err != nil {
		tb.Fatalf("load openapi.yaml: %v", err)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableExamplesValidation()); err != nil {
		tb.Fatalf("validate openapi.yaml: %v", err)
	}
	return doc
}

func TestSpecValid(t *testing.T) {
	doc := MustLoad(t)
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi = %q; want 3.0.3", doc.OpenAPI)
	}
	if len(doc.Servers) == 0 || doc.Servers[0].URL != "https://localhost:9898" {
		t.Errorf("first server must be https://localhost:9898 (the VRO default)")
	}
}

// TestOperations pins the wire facts: paths, methods, operation IDs, statuses, security.
func TestOperations(t *testing.T) {
	doc := MustLoad(t)
	tests := []struct {
		method, path, id string
		statuses         []string
		public           bool
	}{
		{"POST", "/api/token", "IssueToken", []string{"200", "400", "401", "429", "500"}, true},
		{"POST", "/api/logout", "Logout", []string{"204", "401", "500"}, false},
		{"POST", "/api/revoke", "RevokeToken", []string{"200", "400", "401", "429", "500"}, true},
		{"POST", "/api/v7.1/Clients", "CreateClient", []string{"200", "401", "403", "500"}, false},
		{"GET", "/api/v7.1/Clients", "ListClients", []string{"200", "401", "500"}, false},
		{"DELETE", "/api/v7.1/Clients", "DeleteClient", []string{"204", "400", "401", "403", "404", "500"}, false},
	}
	n := 0
	for _, item := range doc.Paths.Map() {
		n += len(item.Operations())
	}
	if n != len(tests) {
		t.Errorf("spec has %d operations; want %d", n, len(tests))
	}
	for _, tt := range tests {
		item := doc.Paths.Find(tt.path)
		if item == nil {
			t.Errorf("path %s missing", tt.path)
			continue
		}
		op := item.GetOperation(tt.method)
		if op == nil {
			t.Errorf("%s %s missing", tt.method, tt.path)
			continue
		}
		if op.OperationID != tt.id {
			t.Errorf("%s %s operationId = %q; want %q", tt.method, tt.path, op.OperationID, tt.id)
		}
		var got []string
		for code := range op.Responses.Map() {
			got = append(got, code)
		}
		sort.Strings(got)
		if !slices.Equal(got, tt.statuses) {
			t.Errorf("%s statuses = %v; want %v", tt.id, got, tt.statuses)
		}
		security := doc.Security
		if op.Security != nil {
			security = *op.Security
		}
		if public := len(security) == 0; public != tt.public {
			t.Errorf("%s public = %v; want %v", tt.id, public, tt.public)
		}
		if !tt.public && (len(security) != 1 || security[0]["bearerAuth"] == nil) {
			t.Errorf("%s security = %v; want bearerAuth", tt.id, security)
		}
	}
}

func TestTokenRequest(t *testing.T) {
	doc := MustLoad(t)
	body := doc.Paths.Find("/api/token").Post.RequestBody.Value
	if !body.Required {
		t.Error("token request body must be required")
	}
	for _, ct := range []string{"application/x-www-form-urlencoded", "multipart/form-data"} {
		mt := body.Content.Get(ct)
		if mt == nil {
			t.Errorf("token request must accept %s", ct)
			continue
		}
		props := propertyNames(mt.Schema.Value)
		want := []string{"client_id", "client_secret", "grant_type", "password", "refresh_token", "username"}
		if !slices.Equal(props, want) {
			t.Errorf("%s fields = %v; want %v", ct, props, want)
		}
		if !slices.Equal(mt.Schema.Value.Required, []string{"grant_type"}) {
			t.Errorf("%s required = %v; want [grant_type]", ct, mt.Schema.Value.Required)
		}
	}
	grants := doc.Components.Schemas["GrantType"].Value.Enum
	if want := []any{"password", "client_credentials", "refresh_token"}; !slices.Equal(grants, want) {
		t.Errorf("GrantType enum = %v; want %v", grants, want)
	}
}

func TestTokenResponse(t *testing.T) {
	doc := MustLoad(t)
	ok := doc.Paths.Find("/api/token").Post.Responses.Value("200").Value
	s := ok.Content.Get("application/json").Schema.Value
	want := []string{"access_token", "expires_in", "refresh_token", "token_type"}
	if got := propertyNames(s); !slices.Equal(got, want) {
		t.Errorf("token response fields = %v; want exactly %v", got, want)
	}
	required := slices.Sorted(slices.Values(s.Required))
	if !slices.Equal(required, want) {
		t.Errorf("token response required = %v; want %v", required, want)
	}
	if typ := s.Properties["expires_in"].Value.Type; !typ.Is("integer") {
		t.Errorf("expires_in type = %v; want integer", typ)
	}
	if enum := s.Properties["token_type"].Value.Enum; !slices.Equal(enum, []any{"bearer"}) {
		t.Errorf("token_type enum = %v; want [bearer] (lower-case)", enum)
	}
	for _, code := range []string{"200", "400", "401", "429"} {
		r := doc.Paths.Find("/api/token").Post.Responses.Value(code).Value
		for _, h := range []string{"Cache-Control", "Pragma"} {
			if r.Headers[h] == nil {
				t.Errorf("token %s lacks header %s", code, h)
			}
		}
	}
	if doc.Paths.Find("/api/token").Post.Responses.Value("401").Value.Headers["WWW-Authenticate"] == nil {
		t.Error("token 401 lacks WWW-Authenticate")
	}
	oauthErr := propertyNames(doc.Components.Schemas["OAuthError"].Value)
	if !slices.Equal(oauthErr, []string{"error", "error_description"}) {
		t.Errorf("OAuthError fields = %v", oauthErr)
	}
}

func TestClients(t *testing.T) {
	doc := MustLoad(t)
	clients := doc.Paths.Find("/api/v7.1/Clients")
	if clients.Post.RequestBody != nil {
		t.Error("POST Clients must have no request body")
	}
	created := clients.Post.Responses.Value("200").Value.Content.Get("application/json").Schema.Value
	if got := propertyNames(created); !slices.Equal(got, []string{"client_id", "client_secret"}) {
		t.Errorf("POST Clients 200 fields = %v; want [client_id client_secret]", got)
	}
	list := clients.Get.Responses.Value("200").Value.Content.Get("application/json").Schema.Value
	if !list.Type.Is("array") || !list.Items.Value.Type.Is("string") {
		t.Errorf("GET Clients 200 must be a bare array of strings")
	}
	params := clients.Delete.Parameters
	if len(params) != 1 || params[0].Value.Name != "clientId" || params[0].Value.In != "query" || !params[0].Value.Required {
		t.Errorf("DELETE Clients must take exactly the required query parameter clientId")
	}
	e := propertyNames(doc.Components.Schemas["Error"].Value)
	if !slices.Equal(e, []string{"errorCode", "message", "resourceId"}) {
		t.Errorf("Error fields = %v; want [errorCode message resourceId]", e)
	}
}

func TestLogoutAndRevoke(t *testing.T) {
	doc := MustLoad(t)
	revoke := doc.Paths.Find("/api/revoke").Post.RequestBody.Value.Content.Get("application/x-www-form-urlencoded")
	if revoke == nil {
		t.Fatal("revoke must take a form body (RFC 7009)")
	}
	if !slices.Contains(propertyNames(revoke.Schema.Value), "token_type_hint") || !slices.Equal(revoke.Schema.Value.Required, []string{"token"}) {
		t.Error("revoke form must have token (required) and token_type_hint")
	}
	if doc.Paths.Find("/api/logout").Post.RequestBody != nil {
		t.Error("logout takes no body")
	}
}

// TestTooManyFailedAttempts pins the 429 of the endpoints that check passwords and
// client secrets: an RFC 6749 error body, Retry-After in seconds, and no caching.
func TestTooManyFailedAttempts(t *testing.T) {
	doc := MustLoad(t)
	for _, path := range []string{"/api/token", "/api/revoke"} {
		r := doc.Paths.Find(path).Post.Responses.Value("429")
		if r == nil {
			t.Errorf("POST %s has no 429", path)
			continue
		}
		for _, h := range []string{"Retry-After", "Cache-Control", "Pragma"} {
			if hdr := r.Value.Headers[h]; hdr == nil || !hdr.Value.Required {
				t.Errorf("POST %s 429 header %s missing or optional", path, h)
			}
		}
		if typ := r.Value.Headers["Retry-After"].Value.Schema.Value.Type; !typ.Is("integer") {
			t.Errorf("POST %s 429 Retry-After type = %v; want integer (seconds)", path, typ)
		}
		if ref := r.Value.Content.Get("application/json").Schema.Ref; ref != "#/components/schemas/OAuthError" {
			t.Errorf("POST %s 429 body = %q; want the OAuthError schema", path, ref)
		}
	}
}

func TestSecuritySchemes(t *testing.T) {
	doc := MustLoad(t)
	s := doc.Components.SecuritySchemes
	if b := s["bearerAuth"]; b == nil || b.Value.Type != "http" || b.Value.Scheme != "bearer" {
		t.Error("bearerAuth must be an http bearer scheme")
	}
	if p := s["oauthPassword"]; p == nil || p.Value.Flows.Password == nil || p.Value.Flows.Password.TokenURL != "/api/token" {
		t.Error("oauthPassword must be an OAuth2 password flow with tokenUrl /api/token")
	}
	if c := s["oauthClientCredentials"]; c == nil || c.Value.Flows.ClientCredentials == nil || c.Value.Flows.ClientCredentials.TokenURL != "/api/token" {
		t.Error("oauthClientCredentials must be an OAuth2 clientCredentials flow with tokenUrl /api/token")
	}
}

// TestExamples checks that every request and response body shows a realistic example,
// in its media type or its schema.
func TestExamples(t *testing.T) {
	doc := MustLoad(t)
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.RequestBody != nil {
				for ct, mt := range op.RequestBody.Value.Content {
					if !hasExample(mt) {
						t.Errorf("%s %s request %s has no example", method, path, ct)
					}
				}
			}
			for code, r := range op.Responses.Map() {
				for ct, mt := range r.Value.Content {
					if !hasExample(mt) {
						t.Errorf("%s %s %s %s has no example", method, path, code, ct)
					}
				}
			}
		}
	}
}

func hasExample(mt *openapi3.MediaType) bool {
	return mt.Example != nil || len(mt.Examples) > 0 || (mt.Schema != nil && mt.Schema.Value.Example != nil)
}

func propertyNames(s *openapi3.Schema) []string {
	var names []string
	for name := range s.Properties {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
