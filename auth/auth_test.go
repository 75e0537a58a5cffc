package auth_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/vroauth/vroauth/auth"
)

type otherKey struct{}

func TestContext(t *testing.T) {
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), otherKey{}, "kept"))
	ctx := auth.NewContext(parent, jsmith)
	if p, ok := auth.FromContext(ctx); !ok || p != jsmith {
		t.Errorf("FromContext(NewContext(ctx, p)) = %v, %v; want p, true", p, ok)
	}
	inner, innerCancel := context.WithCancel(ctx)
	defer innerCancel()
	if p, ok := auth.FromContext(inner); !ok || p != jsmith {
		t.Errorf("FromContext of a derived context = %v, %v; want p, true", p, ok)
	}
	if got := inner.Value(otherKey{}); got != "kept" {
		t.Errorf("Value(otherKey) = %v; want the parent's value", got)
	}
	if s := fmt.Sprint(ctx); strings.Contains(s, jsmith.Username) || !strings.Contains(s, "auth.Principal") {
		t.Errorf("fmt.Sprint(ctx) = %q; want a description that does not reveal the principal", s)
	}
	cancel()
	<-inner.Done() // cancelling the parent reaches contexts derived from ours

	for _, c := range []context.Context{context.Background(), auth.NewContext(context.Background(), nil)} {
		if p, ok := auth.FromContext(c); ok || p != nil {
			t.Errorf("FromContext(%v) = %v, %v; want nil, false", c, p, ok)
		}
	}
}
