package core_test

import (
	"strings"
	"testing"

	"github.com/vroauth/vroauth/internal/core"
)

func TestPasswordHasherDummy(t *testing.T) {
	p := core.PasswordHasher{Time: 1, Memory: 64, Threads: 1}
	dummy := p.Dummy()
	real := p.Hash("x")
	if params := func(h string) string { return strings.Join(strings.Split(h, "$")[:4], "$") }; params(dummy) != params(real) {
		t.Errorf("Dummy() = %q; want the parameters of Hash(), %q", dummy, real)
	}
	for _, password := range []string{"", "x", "password"} {
		if ok, err := core.VerifyPassword(password, dummy); ok || err != nil {
			t.Errorf("VerifyPassword(%q, Dummy()) = %v, %v; want false, nil", password, ok, err)
		}
	}
	if dummy == p.Dummy() {
		t.Error("Dummy() twice = the same hash; want random salts")
	}
}
