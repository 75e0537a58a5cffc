package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
)

// scenario is one request shape of the load test.
type scenario struct {
	name string
	// target is the least ratio of the server's requests/s to the bare handler's; 0 for
	// none.
	target float64
	// data returns the lines of the wrk script's data file for the server; run numbers
	// the runs of the scenario (0 warm-up, 1 measurement) for data spent by a run.
	data func(s *seed, run int) []string
}

var scenarios = []scenario{
	{name: "token", target: 0.40, data: func(s *seed, _ int) []string { return s.credentials }},
	{name: "refresh", data: func(s *seed, run int) []string { return s.refreshTokens[run] }},
	{name: "protected", target: 0.70, data: func(s *seed, _ int) []string { return s.accessTokens }},
	{name: "create-delete", data: func(s *seed, _ int) []string { return []string{s.userToken} }},
}

func scenarioNames() []string {
	var names []string
	for _, sc := range scenarios {
		names = append(names, sc.name)
	}
	return names
}

func findScenario(name string) scenario {
	for _, sc := range scenarios {
		if sc.name == name {
			return sc
		}
	}
	panic("unknown scenario " + name)
}

// result is one scenario measured against the server and the bare handler.
type result struct {
	scenario scenario
	server   wrkResult
	bare     wrkResult
}

// setResult is every scenario of one database size.
type setResult struct {
	count   int // stored clients and live sessions
	seeding time.Duration
	results []result
	peakRSS int64 // bytes, VmHWM of the server
}

// runSet seeds a database of n clients and sessions, starts the server and the bare
// handler, and measures every scenario.
func runSet(ctx context.Context, o *options, dir string, n int, out io.Writer) (*setResult, error) {
	setDir := filepath.Join(dir, fmt.Sprintf("set-%d", n))
	if err := os.MkdirAll(setDir, 0o755); err != nil {
		return nil, err
	}
	if err := writeScripts(setDir); err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "seeding %d clients and %d live sessions...\n", n, n)
	start := time.Now()
	sd, err := seedDatabase(ctx, setDir, n, o.connections)
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	res := &setResult{count: n, seeding: time.Since(start)}
	fmt.Fprintf(out, "seeded in %s\n", res.seeding.Round(100*time.Millisecond))

	srv, err := startServer(ctx, o, sd, setDir)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	canned, err := capture(ctx, srv.url, sd)
	if err != nil {
		return nil, fmt.Errorf("the server does not answer as expected (log: %s): %w", srv.logPath, err)
	}
	bare, err := startBare(ctx, canned, setDir)
	if err != nil {
		return nil, err
	}
	defer bare.stop()

	for _, name := range o.scenarios {
		sc := findScenario(name)
		fmt.Fprintf(out, "  %-14s", sc.name)
		r := result{scenario: sc}
		// The bare handler accepts anything; it gets the warm-up data of the scenario.
		if r.bare, err = measure(ctx, o, setDir, sc, bare.url, sc.data(sd, 0)); err != nil {
			return nil, err
		}
		profile := ""
		if o.profileDir != "" && srv.pprof != "" {
			profile = filepath.Join(o.profileDir, fmt.Sprintf("%s-%d.pprof", sc.name, n))
		}
		stopSampling := srv.sampleRSS()
		r.server, err = measureServer(ctx, o, setDir, sc, srv, sd, profile)
		stopSampling()
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(out, "server %8.0f req/s   bare %8.0f req/s\n", r.server.rate(), r.bare.rate())
		res.results = append(res.results, r)
	}
	res.peakRSS = srv.peakRSS()
	return res, nil
}

// measure warms target up with the data, then measures it with the same data.
func measure(ctx context.Context, o *options, dir string, sc scenario, url string, data []string) (wrkResult, error) {
	if o.warmup > 0 {
		if _, err := runWrk(ctx, o, dir, sc.name, url, data, o.warmup); err != nil {
			return wrkResult{}, err
		}
	}
	return runWrk(ctx, o, dir, sc.name, url, data, o.duration)
}

// measureServer is measure for the server: the warm-up and the measurement each get
// their own data, and a CPU profile is taken during the measurement if profile is set.
func measureServer(ctx context.Context, o *options, dir string, sc scenario, srv *process, sd *seed, profile string) (wrkResult, error) {
	if o.warmup > 0 {
		if _, err := runWrk(ctx, o, dir, sc.name, srv.url, sc.data(sd, 0), o.warmup); err != nil {
			return wrkResult{}, err
		}
	}
	done := make(chan error, 1)
	if profile != "" {
		seconds := max(1, int((o.duration-500*time.Millisecond)/time.Second))
		go func() { done <- fetchProfile(ctx, srv.pprof, seconds, profile) }()
	} else {
		done <- nil
	}
	r, err := runWrk(ctx, o, dir, sc.name, srv.url, sc.data(sd, 1), o.duration)
	if perr := <-done; perr != nil && err == nil {
		fmt.Fprintln(os.Stderr, "vroauth-bench: profile:", perr)
	}
	return r, err
}

// fetchProfile saves the server's CPU profile over the next seconds.
func fetchProfile(ctx context.Context, addr string, seconds int, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, seconds), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET profile: %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func printSet(out io.Writer, o *options, res *setResult) {
	fmt.Fprintf(out, "\n%d stored clients and live sessions, %d connections, %s per run:\n\n", res.count, o.connections, o.duration)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\treq/s\tp50\tp99\terrors\tbare req/s\tbare p99\tratio\ttarget\tmet?\t")
	for _, r := range res.results {
		ratio := r.server.rate() / r.bare.rate()
		target, met := "—", "—"
		if r.scenario.target > 0 {
			target = fmt.Sprintf("≥ %.0f%%", r.scenario.target*100)
			met = yesNo(ratio >= r.scenario.target && r.server.errors() == 0)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%d\t%.0f\t%s\t%.0f%%\t%s\t%s\t\n", r.scenario.name,
			r.server.rate(), micros(r.server.P50), micros(r.server.P99), r.server.errors(),
			r.bare.rate(), micros(r.bare.P99), ratio*100, target, met)
	}
	tw.Flush()
	const rssTarget = 50 << 20
	fmt.Fprintf(out, "\nserver peak RSS (VmHWM): %.1f MB (target < 50 MB: %s)\n\n",
		float64(res.peakRSS)/(1<<20), yesNo(res.peakRSS > 0 && res.peakRSS < rssTarget))
}

func printScale(out io.Writer, small, large *setResult) {
	fmt.Fprintf(out, "p99 with %d stored clients and live sessions against %d:\n\n", large.count, small.count)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "scenario\tp99 @%d\tp99 @%d\tratio\ttarget\tmet?\t\n", small.count, large.count)
	for i, r := range large.results {
		base := small.results[i].server.P99
		ratio := float64(r.server.P99) / float64(base)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f×\t≤ 2×\t%s\t\n", r.scenario.name, micros(base), micros(r.server.P99),
			ratio, yesNo(ratio <= 2 && r.server.errors() == 0))
	}
	tw.Flush()
	fmt.Fprintln(out)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}

// micros formats a latency in microseconds.
func micros(us int64) string {
	d := time.Duration(us) * time.Microsecond
	switch {
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return strings.Replace(d.String(), "µs", " µs", 1)
}
