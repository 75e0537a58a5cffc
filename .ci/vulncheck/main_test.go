package main

import (
	"strings"
	"testing"
)

const (
	cfg = `{"config":{"protocol_version":"v1.0.0","scanner_name":"govulncheck","db":"file:///db","go_version":"go1.26.8","scan_level":"symbol"}}`
	// A vulnerability of the standard library, reached.
	stdOSV     = `{"osv":{"id":"GO-2026-0001","summary":"a net/http bug"}}`
	stdModule  = `{"finding":{"osv":"GO-2026-0001","fixed_version":"v1.26.9","trace":[{"module":"stdlib","version":"v1.26.8"}]}}`
	stdSymbol  = `{"finding":{"osv":"GO-2026-0001","fixed_version":"v1.26.9","trace":[{"module":"stdlib","version":"v1.26.8","package":"net/http","function":"Serve"},{"module":"example.com/m","package":"example.com/m","function":"main"}]}}`
	toolSymbol = `{"finding":{"osv":"GO-2026-0004","trace":[{"module":"toolchain","version":"v1.26.8","package":"cmd/go","function":"Run"}]}}`
	// A vulnerability of a third-party module, imported only.
	depPackage = `{"finding":{"osv":"GO-2026-0002","fixed_version":"v1.2.4","trace":[{"module":"example.com/dep","version":"v1.2.3","package":"example.com/dep/x"}]}}`
	// A vulnerability of a third-party module, reached through a method.
	depSymbol = `{"finding":{"osv":"GO-2026-0003","fixed_version":"v0.9.0","trace":[{"module":"example.com/other","version":"v0.8.0","package":"example.com/other","function":"Parse","receiver":"*Parser"},{"module":"example.com/m","package":"example.com/m","function":"main"}]}}`
)

func TestReport(t *testing.T) {
	tests := []struct {
		name     string
		stream   []string
		fail     bool
		contains []string
	}{
		{"OKNothing", []string{cfg}, false, []string{"0 reachable vulnerabilities"}},
		{"OKStdlibReached", []string{cfg, stdOSV, stdModule, stdSymbol, toolSymbol}, false,
			[]string{"GO-2026-0001  stdlib@v1.26.8 (fixed in v1.26.9)  warning", "a net/http bug", "net/http.Serve", "from:    example.com/m.main", "GO-2026-0004", "2 in the standard library"}},
		{"OKThirdPartyImportedOnly", []string{cfg, depPackage}, false, []string{"0 reachable", "1 more in code that is required or imported but not reached"}},
		{"ErrThirdPartyReached", []string{cfg, stdSymbol, depPackage, depSymbol}, true,
			[]string{"GO-2026-0003  example.com/other@v0.8.0 (fixed in v0.9.0)  FAIL", "example.com/other.Parser.Parse", "1 in third-party modules, 1 in the standard library"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			fail, err := report(strings.NewReader(strings.Join(tt.stream, "\n")), &out)
			if err != nil {
				t.Fatalf("report = %v", err)
			}
			if fail != tt.fail {
				t.Errorf("report fail = %v; want %v\n%s", fail, tt.fail, &out)
			}
			for _, want := range tt.contains {
				if !strings.Contains(out.String(), want) {
					t.Errorf("report output lacks %q:\n%s", want, &out)
				}
			}
		})
	}
}

func TestReportErrors(t *testing.T) {
	tests := []struct{ name, in string }{
		{"ErrEmpty", ""},
		{"ErrNoConfig", stdSymbol},
		{"ErrText", "No vulnerabilities found."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := report(strings.NewReader(tt.in), &strings.Builder{}); err == nil {
				t.Errorf("report(%q) = nil error; want one", tt.in)
			}
		})
	}
}
