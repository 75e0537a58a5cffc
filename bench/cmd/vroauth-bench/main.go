// Command vroauth-bench measures `vroauth serve` under load, side by side with a bare
// net/http handler, on 127.0.0.1 only, and prints one table of the results.
//
// It seeds a temporary SQLite database (durable: WAL with synchronous=FULL, as the
// server always runs it) directly through internal/sqlite, starts `vroauth serve` on
// it, and starts a bare net/http handler in a second process that answers the same
// requests with responses of the same size, copied from the real server's. Then, for
// each scenario, it drives first the bare handler and then the server with wrk (same
// script, same connections, same duration, after a short warm-up of each), and
// reports requests/s, p50 and p99 latency, errors, and the ratio of the server's
// requests/s to the bare handler's: absolute numbers drift on shared machines, ratios
// from one run are what to compare. It also reports the server's peak resident memory
// (VmHWM in /proc/<pid>/status).
//
// The scenarios, each at -connections connections:
//
//	token          POST /api/token, client_credentials grant (a durable write per request)
//	refresh        POST /api/token, refresh_token grant (rotation: a durable write per request)
//	protected      GET /api/v7.1/Clients with a client's valid access token
//	create-delete  POST Clients then DELETE Clients?clientId= (client churn, a user's token)
//
// With -scale N it runs everything twice, first with 1,000 stored clients and live
// sessions and then with N of each (bulk-inserted, not through HTTP), and compares
// the p99 latencies: the target is at most 2× the 1,000 case.
//
// Usage (make bench and make bench-scale do this):
//
//	go build -o bin/vroauth ./cmd/vroauth
//	go run ./bench/cmd/vroauth-bench -vroauth bin/vroauth [-duration 5s] [-scale 1000000]
//
// wrk must be installed (Debian: apt-get install wrk).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/vroauth/vroauth/bench"
)

// baseCount is the number of stored clients and live sessions of the normal run, and
// the size of the working set every run draws its requests from.
const baseCount = 1000

type options struct {
	vroauth     string
	wrk         string
	duration    time.Duration
	warmup      time.Duration
	connections int
	threads     int
	scenarios   []string
	scale       int
	profileDir  string
	serverArgs  []string
	keep        bool
}

func main() {
	if len(os.Args) > 3 && os.Args[1] == "-bare-serve" {
		if err := serveBare(os.Args[2], os.Args[3]); err != nil {
			fmt.Fprintln(os.Stderr, "vroauth-bench: bare handler:", err)
			os.Exit(1)
		}
		return
	}
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "vroauth-bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "vroauth-bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("vroauth-bench", flag.ContinueOnError)
	fs.StringVar(&o.vroauth, "vroauth", "bin/vroauth", "the vroauth `binary` to measure")
	fs.StringVar(&o.wrk, "wrk", "wrk", "the wrk `binary`")
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "measured time per scenario and target, in whole seconds")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "warm-up time before each measurement, in whole seconds; 0 for none")
	fs.IntVar(&o.connections, "connections", 64, "concurrent connections")
	fs.IntVar(&o.threads, "threads", runtime.NumCPU(), "wrk threads")
	scenarios := fs.String("scenarios", strings.Join(scenarioNames(), ","), "comma-separated `list` of scenarios")
	fs.IntVar(&o.scale, "scale", 0, "also run with `N` stored clients and live sessions and compare p99 with the 1,000 case")
	fs.StringVar(&o.profileDir, "profile", "", "write a CPU profile of the server per scenario into `dir` (uses serve --pprof-addr)")
	serverArgs := fs.String("server-args", "", "extra space-separated `flags` for vroauth serve")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (database, logs, scripts)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	known := map[string]bool{}
	for _, name := range scenarioNames() {
		known[name] = true
	}
	for _, name := range strings.Split(*scenarios, ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		} else if !known[name] {
			return nil, fmt.Errorf("unknown scenario %q; want some of %s", name, strings.Join(scenarioNames(), ","))
		}
		o.scenarios = append(o.scenarios, name)
	}
	o.serverArgs = strings.Fields(*serverArgs)
	switch {
	case len(o.scenarios) == 0:
		return nil, errors.New("no scenario to run")
	case o.duration < time.Second || o.warmup < 0:
		return nil, errors.New("-duration must be at least 1s and -warmup not negative")
	case o.connections < 1 || o.threads < 1 || o.threads > o.connections:
		return nil, errors.New("-connections and -threads must be positive, with no more threads than connections")
	case o.scale != 0 && o.scale < baseCount:
		return nil, fmt.Errorf("-scale must be at least %d", baseCount)
	}
	return o, nil
}

func run(ctx context.Context, o *options, out io.Writer) error {
	wrk, err := exec.LookPath(o.wrk)
	if err != nil {
		return fmt.Errorf("wrk not found (%v): install it, e.g. apt-get install wrk, or run make bench as root", err)
	}
	o.wrk = wrk
	if _, err := os.Stat(o.vroauth); err != nil {
		return fmt.Errorf("the vroauth binary: %w (build it with: go build -o bin/vroauth ./cmd/vroauth)", err)
	}
	dir, err := os.MkdirTemp("", "vroauth-bench-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintln(out, "keeping", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	if o.profileDir != "" {
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			return err
		}
	}
	printEnvironment(out, o)

	counts := []int{baseCount}
	if o.scale > 0 {
		counts = append(counts, o.scale)
	}
	var sets []*setResult
	for _, n := range counts {
		res, err := runSet(ctx, o, dir, n, out)
		if err != nil {
			return err
		}
		sets = append(sets, res)
		printSet(out, o, res)
	}
	if len(sets) == 2 {
		printScale(out, sets[0], sets[1])
	}
	fmt.Fprintf(out, "load average after: %s\n", loadAverage())
	return nil
}

// writeScripts writes, for each scenario, common.lua followed by the scenario's script.
func writeScripts(dir string) error {
	common, err := bench.Scripts.ReadFile("common.lua")
	if err != nil {
		return err
	}
	for _, name := range scenarioNames() {
		own, err := bench.Scripts.ReadFile(name + ".lua")
		if err != nil {
			return err
		}
		script := append(append(append([]byte{}, common...), '\n'), own...)
		if err := os.WriteFile(filepath.Join(dir, name+".lua"), script, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func printEnvironment(out io.Writer, o *options) {
	version, _ := exec.Command(o.wrk, "-v").CombinedOutput()
	first, _, _ := strings.Cut(string(version), "\n")
	fmt.Fprintf(out, "vroauth-bench: %d CPUs, %s, %s; %d connections, %d wrk threads, %s per run after %s warm-up\n",
		runtime.NumCPU(), runtime.Version(), strings.TrimSpace(first), o.connections, o.threads, o.duration, o.warmup)
	fmt.Fprintf(out, "load average before: %s\n", loadAverage())
}

// loadAverage returns the first three fields of /proc/loadavg, or "?".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
