package core_test

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/vroauth/vroauth/internal/core"
)

func TestNewID(t *testing.T) {
	guid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 1000 {
		id := core.NewID()
		if !guid.MatchString(id) {
			t.Fatalf("NewID() = %q; want a lower-case version 4 GUID", id)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
	}
}

func TestParseID(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"0b5a4f0e-6c1d-4e0b-9d0c-3f6c1c2b7a11", "0b5a4f0e-6c1d-4e0b-9d0c-3f6c1c2b7a11", true},
		{"0B5A4F0E-6C1D-4E0B-9D0C-3F6C1C2B7A11", "0b5a4f0e-6c1d-4e0b-9d0c-3f6c1c2b7a11", true},
		{"0b5a4f0e6c1d4e0b9d0c3f6c1c2b7a11", "", false},
		{"{0b5a4f0e-6c1d-4e0b-9d0c-3f6c1c2b7a1}", "", false},
		{"0b5a4f0e-6c1d-4e0b-9d0c-3f6c1c2b7a1g", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, err := core.ParseID(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("ParseID(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && core.ErrorCode(err) != core.EINVALID {
			t.Errorf("ParseID(%q) error code = %q; want EINVALID", tt.in, core.ErrorCode(err))
		}
	}
}

func TestNewToken(t *testing.T) {
	a, b := core.NewToken(), core.NewToken()
	if len(a) != 43 || a == b || !regexp.MustCompile(`^[A-Za-z0-9_-]+$`).MatchString(a) {
		t.Errorf("NewToken() = %q, %q; want distinct 43-character base64url strings", a, b)
	}
	if h := core.HashToken(a); len(h) != 32 || string(h) == string(core.HashToken(b)) {
		t.Errorf("HashToken must be a 32-byte digest, distinct per token")
	}
}

func TestParseRole(t *testing.T) {
	tests := map[string]core.Role{
		"Administrator": core.RoleAdministrator, "administrator": core.RoleAdministrator,
		"Plan Author": core.RolePlanAuthor, "planoperator": core.RolePlanOperator,
	}
	for in, want := range tests {
		if got, err := core.ParseRole(in); got != want || err != nil {
			t.Errorf("ParseRole(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := core.ParseRole("Viewer"); core.ErrorCode(err) != core.EINVALID {
		t.Errorf("ParseRole(Viewer) = %v; want EINVALID", err)
	}
}

func TestValidateUserName(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{`CORP\jsmith`, true}, {"jsmith", true}, {`\jsmith`, false}, {`CORP\`, false},
		{`A\B\C`, false}, {"", false}, {"bad\x00name", false}, {strings.Repeat("a", 257), false},
	}
	for _, tt := range tests {
		if err := core.ValidateUserName(tt.in); (err == nil) != tt.ok {
			t.Errorf("ValidateUserName(%q) = %v; want ok=%v", tt.in, err, tt.ok)
		}
	}
	if core.UserKey(" CORP\\JSmith ") != `corp\jsmith` {
		t.Errorf("UserKey must lower-case and trim")
	}
}

func TestSecretHasher(t *testing.T) {
	if _, err := core.NewSecretHasher(make([]byte, 16)); err == nil {
		t.Error("NewSecretHasher accepted a 16-byte key")
	}
	h1, _ := core.NewSecretHasher([]byte(strings.Repeat("a", 32)))
	h2, _ := core.NewSecretHasher([]byte(strings.Repeat("b", 32)))
	hash := h1.Hash("secret")
	if !h1.Equal("secret", hash) || h1.Equal("Secret", hash) || h2.Equal("secret", hash) {
		t.Error("a secret must match only its own hash under its own key")
	}
	if h1.Equal("secret", nil) {
		t.Error("a nil hash must match nothing")
	}
}

func TestPassword(t *testing.T) {
	p := core.PasswordHasher{Time: 1, Memory: 64, Threads: 1}
	hash := p.Hash("correct horse")
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=64,t=1,p=1$") || strings.Contains(hash, "correct horse") {
		t.Fatalf("Hash = %q; want a PHC argon2id string without the password", hash)
	}
	if hash == p.Hash("correct horse") {
		t.Error("two hashes of one password must differ (salt)")
	}
	tests := []struct {
		password, hash string
		ok, err        bool
	}{
		{"correct horse", hash, true, false},
		{"wrong horse", hash, false, false},
		{"correct horse", "$argon2id$v=19$m=64,t=1,p=1$bad", false, true},
		{"correct horse", "$2a$10$bcrypt", false, true},
		{"correct horse", "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdA$aGFzaA", false, true},
	}
	for _, tt := range tests {
		ok, err := core.VerifyPassword(tt.password, tt.hash)
		if ok != tt.ok || (err != nil) != tt.err {
			t.Errorf("VerifyPassword(%q, %q) = %v, %v; want %v, err=%v", tt.password, tt.hash, ok, err, tt.ok, tt.err)
		}
	}
}

func TestErrorCode(t *testing.T) {
	e := core.Errorf(core.ENOTFOUND, "client %s not found", "x")
	wrapped := fmt.Errorf("find: %w", e)
	tests := []struct {
		err       error
		code, msg string
	}{
		{nil, "", ""},
		{e, core.ENOTFOUND, "client x not found"},
		{wrapped, core.ENOTFOUND, "client x not found"},
		{errors.New("disk on fire"), core.EINTERNAL, "the server could not complete the request"},
	}
	for _, tt := range tests {
		if got := core.ErrorCode(tt.err); got != tt.code {
			t.Errorf("ErrorCode(%v) = %q; want %q", tt.err, got, tt.code)
		}
		if got := core.ErrorMessage(tt.err); got != tt.msg {
			t.Errorf("ErrorMessage(%v) = %q; want %q", tt.err, got, tt.msg)
		}
	}
}
