package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestServeValidateRequests: --validate-requests (or VROAUTH_VALIDATE_REQUESTS) turns
// the contract check on. A client ID in braces passes the handlers' GUID parser (an
// unknown client: 404) but not the contract's format (400).
func TestServeValidateRequests(t *testing.T) {
	tests := []struct {
		name   string
		vars   map[string]string
		args   []string
		status int
	}{
		{"OKOff", nil, nil, 404},
		{"OKFlag", nil, []string{"--validate-requests"}, 400},
		{"OKEnv", map[string]string{"VROAUTH_VALIDATE_REQUESTS": "true"}, nil, 400},
		{"OKFlagWins", map[string]string{"VROAUTH_VALIDATE_REQUESTS": "true"}, []string{"--validate-requests=false"}, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := map[string]string{}
			for k, v := range admin {
				vars[k] = v
			}
			for k, v := range tt.vars {
				vars[k] = v
			}
			srv := MustServe(t, vars, tt.args...)
			resp, err := http.PostForm(srv.URL+"/api/token", map[string][]string{
				"grant_type": {"password"}, "username": {`CORP\admin`}, "password": {"change-me-now"},
			})
			if err != nil {
				t.Fatal(err)
			}
			var tok struct {
				AccessToken string `json:"access_token"`
			}
			json.NewDecoder(resp.Body).Decode(&tok)
			resp.Body.Close()
			req, _ := http.NewRequest("DELETE", srv.URL+"/api/v7.1/Clients?clientId={0b5a4f0e-6c1d-4e0b-9d0c-3f6c1c2b7a11}", nil)
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			resp, err = http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var body map[string]any
			json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("DELETE Clients?clientId={guid} = %d %v; want %d", resp.StatusCode, body, tt.status)
			}
			if msg, _ := body["message"].(string); tt.status == 400 && !strings.Contains(msg, "clientId must be a GUID") {
				t.Errorf("message = %q; want clientId must be a GUID", msg)
			}
		})
	}
}

func TestServeValidateRequestsErrBadValue(t *testing.T) {
	_, err := run(t, "", "serve", "--validate-requests=maybe")
	if err == nil || !strings.Contains(err.Error(), "invalid") {
		t.Errorf("serve --validate-requests=maybe = %v; want an invalid value error", err)
	}
}
