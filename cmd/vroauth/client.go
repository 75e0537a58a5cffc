package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/vroauth/vroauth/auth"
	"github.com/vroauth/vroauth/gen"
)

// The commands in this file talk to a server — vroauth or a real Orchestrator — through
// the generated client and the auth package, as any Go program would.

func clientCommands() []command {
	return []command{
		{"login", "sign in to a server and save the session", runLogin},
		{"clients", "manage your client accounts: create, list, delete ID", runClients},
		{"token", "print a valid access token of the saved session (e.g. for curl)", runToken},
	}
}

// session is what `vroauth login` saves: the server and the tokens, never a password.
type session struct {
	Server string      `json:"server"`
	Token  *auth.Token `json:"token"`
}

// clientFlags are the flags every client command takes.
type clientFlags struct {
	config   string
	output   string
	insecure bool
}

func (f *clientFlags) register(fs *flag.FlagSet, withOutput bool) {
	fs.StringVar(&f.config, "config", "", "session `file` (default: vroauth/session.json in the user's config directory)")
	if withOutput {
		fs.StringVar(&f.output, "output", "table", "table or json")
	}
	fs.BoolVar(&f.insecure, "insecure-skip-verify", false, "do not verify the server's TLS certificate (test benches only)")
}

func (f *clientFlags) path() (string, error) {
	if f.config != "" {
		return f.config, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the config directory: %w (use --config)", err)
	}
	return filepath.Join(dir, "vroauth", "session.json"), nil
}

func (f *clientFlags) httpClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if f.insecure {
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}
	return &http.Client{Transport: t, Timeout: 30 * time.Second}
}

func runLogin(ctx context.Context, env *Env, args []string) error {
	var f clientFlags
	var server, username string
	var passwordStdin bool
	fs := newFlagSet(env, "login", "login --server URL --username USER [--password-stdin]")
	fs.StringVar(&server, "server", "", "server `URL`, such as https://vro.example.com:9898")
	fs.StringVar(&username, "username", "", `DOMAIN\USERNAME or USERNAME`)
	fs.BoolVar(&passwordStdin, "password-stdin", false, "read the password from standard input instead of a prompt")
	f.register(fs, false)
	if err := parseWithEnv(fs, env, args); err != nil {
		return err
	}
	if server == "" || username == "" {
		return errors.New("login: --server and --username are required")
	}
	server = strings.TrimRight(server, "/")
	if u, err := url.Parse(server); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("login: --server must be an http:// or https:// URL")
	}
	password, err := promptPassword(env, passwordStdin)
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	cfg := &auth.Config{TokenURL: server + "/api/token", Username: username, Password: password, HTTPClient: f.httpClient()}
	tok, err := cfg.TokenSource(nil).Token(ctx)
	if err != nil {
		return fmt.Errorf("login: %s", describeAuthError(err))
	}
	path, err := f.path()
	if err != nil {
		return err
	}
	if err := saveSession(path, &session{Server: server, Token: tok}); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	fmt.Fprintf(env.Stdout, "logged in to %s as %s; session saved in %s\n", server, username, path)
	return nil
}

// promptPassword reads the password from standard input: the first line with
// --password-stdin, otherwise after a prompt on standard error.
func promptPassword(env *Env, fromStdin bool) (string, error) {
	if !fromStdin {
		fmt.Fprint(env.Stderr, "Password: ")
		defer fmt.Fprintln(env.Stderr)
		if f, ok := env.Stdin.(*os.File); ok {
			if b, err := readHidden(f); err == nil {
				return nonEmpty(strings.TrimRight(string(b), "\r\n"))
			}
		}
	}
	return readPassword(env.Stdin, true)
}

func nonEmpty(s string) (string, error) {
	if s == "" {
		return "", errors.New("no password given")
	}
	return s, nil
}

// connect returns the generated client for the saved session, with a transport that
// keeps its token fresh and saves every rotated refresh token.
func connect(f *clientFlags) (*gen.ClientWithResponses, *auth.Source, error) {
	path, err := f.path()
	if err != nil {
		return nil, nil, err
	}
	s, err := loadSession(path)
	if err != nil {
		return nil, nil, err
	}
	hc := f.httpClient()
	cfg := &auth.Config{
		TokenURL:   s.Server + "/api/token",
		HTTPClient: hc,
		OnToken: func(t *auth.Token) {
			s.Token = t
			saveSession(path, s) // best effort: a failed save costs a login later
		},
	}
	src := cfg.TokenSource(s.Token)
	client, err := gen.NewClientWithResponses(s.Server, gen.WithHTTPClient(&http.Client{
		Transport: &auth.Transport{Source: src, Base: hc.Transport}, Timeout: hc.Timeout,
	}))
	return client, src, err
}

func runToken(ctx context.Context, env *Env, args []string) error {
	var f clientFlags
	fs := newFlagSet(env, "token", "token")
	f.register(fs, false)
	if err := parseWithEnv(fs, env, args); err != nil {
		return err
	}
	_, src, err := connect(&f)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	tok, err := src.Token(ctx)
	if err != nil {
		return fmt.Errorf("token: %s", describeAuthError(err))
	}
	fmt.Fprintln(env.Stdout, tok.AccessToken)
	return nil
}

func runClients(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return errors.New("clients: want a subcommand: create, list or delete ID")
	}
	sub := args[0]
	var f clientFlags
	fs := newFlagSet(env, "clients "+sub, "clients create|list|delete ID [flags]")
	f.register(fs, true)
	if err := parseWithEnv(fs, env, args[1:]); err != nil {
		return err
	}
	if f.output != "table" && f.output != "json" {
		return errors.New("clients: --output must be table or json")
	}
	client, _, err := connect(&f)
	if err != nil {
		return fmt.Errorf("clients: %w", err)
	}
	switch sub {
	case "create":
		return clientsCreate(ctx, env, client, f.output)
	case "list":
		return clientsList(ctx, env, client, f.output)
	case "delete":
		if fs.NArg() != 1 {
			return errors.New("clients delete: want exactly one client ID")
		}
		return clientsDelete(ctx, env, client, fs.Arg(0), f.output)
	}
	return fmt.Errorf("clients: unknown subcommand %q", sub)
}

func clientsCreate(ctx context.Context, env *Env, c *gen.ClientWithResponses, output string) error {
	r, err := c.CreateClientWithResponse(ctx)
	if err != nil {
		return fmt.Errorf("clients create: %s", describeAuthError(err))
	}
	if r.JSON200 == nil {
		return fmt.Errorf("clients create: %s", describeAnswer(r.HTTPResponse, r.Body))
	}
	if output == "json" {
		return writeIndented(env.Stdout, r.JSON200)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "CLIENT ID\t%s\nCLIENT SECRET\t%s\n", r.JSON200.ClientId, r.JSON200.ClientSecret)
	tw.Flush()
	fmt.Fprintln(env.Stderr, "The secret is shown only now: store it safely.")
	return nil
}

func clientsList(ctx context.Context, env *Env, c *gen.ClientWithResponses, output string) error {
	r, err := c.ListClientsWithResponse(ctx)
	if err != nil {
		return fmt.Errorf("clients list: %s", describeAuthError(err))
	}
	if r.JSON200 == nil {
		return fmt.Errorf("clients list: %s", describeAnswer(r.HTTPResponse, r.Body))
	}
	if output == "json" {
		return writeIndented(env.Stdout, *r.JSON200)
	}
	fmt.Fprintln(env.Stdout, "CLIENT ID")
	for _, id := range *r.JSON200 {
		fmt.Fprintln(env.Stdout, id)
	}
	return nil
}

func clientsDelete(ctx context.Context, env *Env, c *gen.ClientWithResponses, arg, output string) error {
	id, err := uuid.Parse(arg)
	if err != nil {
		return fmt.Errorf("clients delete: %q is not a client ID (a GUID)", arg)
	}
	r, err := c.DeleteClientWithResponse(ctx, &gen.DeleteClientParams{ClientId: id})
	if err != nil {
		return fmt.Errorf("clients delete: %s", describeAuthError(err))
	}
	if r.StatusCode() != http.StatusNoContent {
		return fmt.Errorf("clients delete: %s", describeAnswer(r.HTTPResponse, r.Body))
	}
	if output == "json" {
		return writeIndented(env.Stdout, map[string]string{"deleted": id.String()})
	}
	fmt.Fprintf(env.Stdout, "deleted client %s\n", id)
	return nil
}

func writeIndented(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// describeAnswer turns an unexpected API answer into one clear line.
func describeAnswer(resp *http.Response, body []byte) string {
	var e gen.Error
	msg := ""
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		msg = ": " + e.Message
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return "the server refused the session (expired or ended): run vroauth login again" + msg
	case http.StatusForbidden:
		return "not allowed" + msg
	case http.StatusNotFound:
		return "not found" + msg
	}
	return fmt.Sprintf("the server answered %s%s", resp.Status, msg)
}

// describeAuthError turns a token or transport failure into one clear line.
func describeAuthError(err error) string {
	var re *auth.RetrieveError
	switch {
	case errors.As(err, &re):
		if re.ErrorCode == "invalid_grant" {
			return "the server refused the credentials or the session has ended: " + re.Error() + " (run vroauth login again)"
		}
		return re.Error()
	case errors.Is(err, auth.ErrNoCredentials):
		return "the saved session has expired: run vroauth login again"
	}
	return err.Error()
}

func loadSession(path string) (*session, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, errors.New("no saved session: run vroauth login first")
	}
	if err != nil {
		return nil, err
	}
	var s session
	if err := json.Unmarshal(b, &s); err != nil || s.Server == "" {
		return nil, fmt.Errorf("%s is not a vroauth session file: run vroauth login again", path)
	}
	return &s, nil
}

// saveSession writes s to path with mode 0600, atomically.
func saveSession(path string, s *session) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".session-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
