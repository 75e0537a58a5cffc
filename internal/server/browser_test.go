package server_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vroauth/vroauth/internal/core"
)

// chromium returns the path of a Chromium to drive, or skips the test; with
// VROAUTH_REQUIRE_BROWSER=1 (as in CI) a missing browser fails it instead.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("VROAUTH_REQUIRE_BROWSER") == "1" {
		t.Fatal("no Chromium found (install Debian's chromium), and VROAUTH_REQUIRE_BROWSER=1")
	}
	t.Skip("no Chromium found; install Debian's chromium to run the browser test")
	return ""
}

// TestSwaggerUI uses the Swagger UI as a person would: Authorize with the password
// flow, then Try it out on POST Clients, and sees a new client in the answer. The
// browser talks to the server through a proxy whose transport checks every request
// and response against the contract, so the UI's traffic is held to it too. The last
// page is saved as artifacts/swagger-ui.png.
func TestSwaggerUI(t *testing.T) {
	exe := chromium(t)
	env := MustServe(t, Options{})
	alice := env.MustUser(`CORP\alice`, "alice-password", core.RoleAdministrator)
	target, _ := url.Parse(env.HTTP.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = env.HTTPClient.Transport
	front := httptest.NewServer(proxy)
	t.Cleanup(front.Close)

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1600),
	}
	// The browser lives as long as ctx; each step has its own deadline.
	ctx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelTab := chromedp.NewContext(ctx, chromedp.WithLogf(t.Logf))
	defer cancelTab()

	const (
		op  = `#operations-Clients-CreateClient`
		box = `//div[contains(@class,"auth-container")][.//h4[contains(., "oauthPassword")]]`
	)
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	xpath := func(s string) chromedp.Search { return chromedp.Search(s) }
	var status, body string
	var shot []byte
	steps := []struct {
		name string
		do   chromedp.Action[chromedp.Void]
	}{
		{"open /swagger/", chromedp.Navigate(front.URL + "/swagger/")},
		{"click Authorize", chromedp.Steps(
			chromedp.WaitVisible(css(`.swagger-ui .auth-wrapper .authorize`)),
			chromedp.Click(css(`.swagger-ui .auth-wrapper .authorize`)),
		)},
		{"fill the password flow", chromedp.Steps(
			chromedp.WaitVisible(chromedp.ID("oauth_username")),
			chromedp.SendKeys(chromedp.ID("oauth_username"), `CORP\alice`),
			chromedp.SendKeys(chromedp.ID("oauth_password"), "alice-password"),
		)},
		{"authorize", chromedp.Steps(
			chromedp.Click(xpath(box+`//button[contains(@class,"authorize")]`)),
			chromedp.WaitVisible(xpath(box+`//button[normalize-space()="Logout"]`)),
		)},
		{"close the dialog", chromedp.Click(css(`.swagger-ui .dialog-ux .btn-done`))},
		{"expand POST Clients", chromedp.Steps(
			chromedp.WaitNotPresent(css(`.swagger-ui .dialog-ux`)),
			chromedp.Click(css(op+` .opblock-summary-control`)),
		)},
		{"click Try it out", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			// With tryItOutEnabled the form is open already and the button reads Cancel.
			if _, err := chromedp.WaitVisible(css(op+` .try-out__btn`))(ctx, tg); err != nil {
				return err
			}
			label, err := chromedp.Text(css(op+` .try-out__btn`))(ctx, tg)
			if err == nil && strings.Contains(label, "Try it out") {
				_, err = chromedp.Click(css(op+` .try-out__btn`))(ctx, tg)
			}
			return err
		})},
		{"click Execute", chromedp.Click(css(op + ` .execute`))},
		{"read the response", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			var err error
			if _, err = chromedp.WaitVisible(css(op+` .live-responses-table tbody .response-col_status`))(ctx, tg); err != nil {
				return err
			}
			if status, err = chromedp.Text(css(op+` .live-responses-table tbody .response-col_status`))(ctx, tg); err != nil {
				return err
			}
			if body, err = chromedp.Text(css(op+` .live-responses-table .response-col_description pre`))(ctx, tg); err != nil {
				return err
			}
			if _, err = chromedp.ScrollIntoView(css(op+` .live-responses-table`))(ctx, tg); err != nil {
				return err
			}
			shot, err = chromedp.FullScreenshot(100)(ctx, tg)
			return err
		})},
	}
	if err := chromedp.Do(ctx); err != nil { // starts the browser, for the life of ctx
		t.Fatalf("start Chromium: %v", err)
	}
	for _, s := range steps {
		stepCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := chromedp.Do(stepCtx, s.do)
		cancel()
		if err != nil {
			shotCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			page, _ := chromedp.Run(shotCtx, chromedp.FullScreenshot(100))
			cancel()
			saveArtifact(t, "swagger-ui.png", page)
			t.Fatalf("Swagger UI: %s: %v", s.name, err)
		}
	}
	saveArtifact(t, "swagger-ui.png", shot)
	if !strings.HasPrefix(strings.TrimSpace(status), "200") || !strings.Contains(body, `"client_id"`) {
		t.Errorf("Swagger UI: POST Clients = %q %q; want 200 with a client_id", status, body)
	}
	ids, err := env.Store.FindClientIDs(context.Background(), alice.ID)
	if err != nil || len(ids) != 1 || !strings.Contains(body, ids[0]) {
		t.Errorf("clients of the user after the UI's call = %v, %v; want the one the page shows", ids, err)
	}
}

// TestSwaggerUISecurity: the UI's copy of the contract offers the OAuth2 flows wherever
// a bearer token is asked for, so that a token from "Authorize" is sent by "Try it out".
func TestSwaggerUISecurity(t *testing.T) {
	env := MustServe(t, Options{})
	resp, err := env.HTTPClient.Get(env.HTTP.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Security []map[string][]string  `json:"security"`
		Servers  []struct{ URL string } `json:"servers"`
	}
	if err := json.Unmarshal([]byte(readAll(t, resp)), &doc); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, req := range doc.Security {
		for name := range req {
			got = append(got, name)
		}
	}
	if want := []string{"bearerAuth", "oauthClientCredentials", "oauthPassword"}; !slices.Equal(got, want) {
		t.Errorf("/openapi.json security = %v; want %v", got, want)
	}
	if len(doc.Servers) == 0 || doc.Servers[0].URL != "/" {
		t.Errorf("/openapi.json servers = %v; want / first", doc.Servers)
	}
}

// saveArtifact writes b to artifacts/name at the module root, for a person to look at.
func saveArtifact(t *testing.T, name string, b []byte) {
	t.Helper()
	if len(b) == 0 {
		return
	}
	dir := filepath.Join("..", "..", "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("artifact %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Logf("artifact %s: %v", name, err)
	}
}
