package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		o, err := parseFlags([]string{"-scenarios", "token, protected", "-duration", "3s", "-scale", "1000000"})
		if err != nil {
			t.Fatalf("parseFlags = %v", err)
		}
		if got := strings.Join(o.scenarios, ","); got != "token,protected" || o.duration != 3*time.Second || o.scale != 1000000 {
			t.Errorf("parseFlags = scenarios %q, duration %v, scale %d; want token,protected, 3s, 1000000", got, o.duration, o.scale)
		}
	})
	for name, args := range map[string][]string{
		"ErrUnknownScenario": {"-scenarios", "token,login"},
		"ErrNoScenario":      {"-scenarios", ","},
		"ErrShortDuration":   {"-duration", "100ms"},
		"ErrThreads":         {"-connections", "2", "-threads", "4"},
		"ErrSmallScale":      {"-scale", "10"},
		"ErrArgument":        {"extra"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := parseFlags(args); err == nil {
				t.Errorf("parseFlags(%q) = nil error; want an error", args)
			}
		})
	}
}

func TestMicros(t *testing.T) {
	tests := map[int64]string{850: "850 µs", 1234: "1.23ms", 25678: "25.7ms"}
	for in, want := range tests {
		if got := micros(in); got != want {
			t.Errorf("micros(%d) = %q; want %q", in, got, want)
		}
	}
}

func TestWrkResult(t *testing.T) {
	r := wrkResult{Requests: 5000, DurationUS: 2_000_000, ErrorsStatus: 3, ErrorsTimeout: 1}
	if got := r.rate(); got != 2500 {
		t.Errorf("rate() = %v; want 2500", got)
	}
	if got := r.errors(); got != 4 {
		t.Errorf("errors() = %d; want 4", got)
	}
}
