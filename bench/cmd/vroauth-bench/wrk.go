package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// wrkResult is what the scripts' done() prints after "BENCH ".
type wrkResult struct {
	Requests      int64 `json:"requests"`
	DurationUS    int64 `json:"duration_us"`
	ErrorsConnect int64 `json:"errors_connect"`
	ErrorsRead    int64 `json:"errors_read"`
	ErrorsWrite   int64 `json:"errors_write"`
	ErrorsStatus  int64 `json:"errors_status"` // answers other than 2xx and 3xx
	ErrorsTimeout int64 `json:"errors_timeout"`
	P50           int64 `json:"p50_us"`
	P90           int64 `json:"p90_us"`
	P99           int64 `json:"p99_us"`
	Max           int64 `json:"max_us"`
}

// rate returns the requests per second.
func (r wrkResult) rate() float64 {
	if r.DurationUS == 0 {
		return 0
	}
	return float64(r.Requests) / (float64(r.DurationUS) / 1e6)
}

// errors returns the failed requests of every kind.
func (r wrkResult) errors() int64 {
	return r.ErrorsConnect + r.ErrorsRead + r.ErrorsWrite + r.ErrorsStatus + r.ErrorsTimeout
}

// runWrk runs the scenario's script against url for d, with data as its data file.
func runWrk(ctx context.Context, o *options, dir, name, url string, data []string, d time.Duration) (wrkResult, error) {
	dataPath := filepath.Join(dir, name+".data")
	if err := os.WriteFile(dataPath, []byte(strings.Join(data, "\n")+"\n"), 0o600); err != nil {
		return wrkResult{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, o.wrk,
		"-t", strconv.Itoa(o.threads), "-c", strconv.Itoa(o.connections),
		"-d", fmt.Sprintf("%ds", max(1, int(d.Round(time.Second).Seconds()))), "--timeout", "5s",
		"-s", filepath.Join(dir, name+".lua"), url, "--", dataPath, strconv.Itoa(o.threads))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return wrkResult{}, fmt.Errorf("wrk %s: %v: %s", name, err, strings.TrimSpace(stdout.String()+stderr.String()))
	}
	for _, line := range strings.Split(stdout.String(), "\n") {
		if js, ok := strings.CutPrefix(line, "BENCH "); ok {
			var r wrkResult
			if err := json.Unmarshal([]byte(js), &r); err != nil {
				return wrkResult{}, fmt.Errorf("wrk %s: %v in %q", name, err, js)
			}
			return r, nil
		}
	}
	return wrkResult{}, fmt.Errorf("wrk %s printed no result:\n%s%s", name, stdout.String(), stderr.String())
}
