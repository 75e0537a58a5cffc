// Command vulncheck reads govulncheck's JSON output (-format json) on standard input,
// prints every vulnerability the code reaches, and exits 1 if one of them is in a
// third-party module. Reachable vulnerabilities of the standard library (and of the
// toolchain) are printed as warnings only: they are fixed by building with a newer Go
// patch release, not by a change to go.mod, and must not block CI on a machine whose
// Go is a few days old. Vulnerabilities in modules that are required or imported but
// not reached are counted, not listed.
//
// It is run by .ci/vulncheck.sh (make vulncheck).
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

func main() {
	fail, err := report(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vulncheck:", err)
		os.Exit(2)
	}
	if fail {
		os.Exit(1)
	}
}

// message is one object of govulncheck's JSON stream; exactly one field is set.
type message struct {
	Config  *config  `json:"config"`
	OSV     *osv     `json:"osv"`
	Finding *finding `json:"finding"`
}

type config struct {
	GoVersion string `json:"go_version"`
	DB        string `json:"db"`
}

type osv struct {
	ID      string `json:"id"`
	Summary string `json:"summary"`
}

type finding struct {
	OSV          string  `json:"osv"`
	FixedVersion string  `json:"fixed_version"`
	Trace        []frame `json:"trace"`
}

type frame struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Package  string `json:"package"`
	Function string `json:"function"`
	Receiver string `json:"receiver"`
}

func (f frame) symbol() string {
	name := f.Function
	if f.Receiver != "" {
		name = strings.TrimPrefix(f.Receiver, "*") + "." + name
	}
	return f.Package + "." + name
}

// vuln is what is known of one vulnerability once the stream is read.
type vuln struct {
	id, summary, module, version, fixed string
	reached                             bool
	symbols                             map[string]bool // the vulnerable symbols reached
	entries                             map[string]bool // the caller's functions that reach them
}

// stdlib reports whether v is in the Go distribution rather than in a module.
func (v *vuln) stdlib() bool { return v.module == "stdlib" || v.module == "toolchain" }

// report reads the stream from r, writes the summary to w, and reports whether a
// reachable third-party vulnerability was found.
func report(r io.Reader, w io.Writer) (bool, error) {
	vulns := map[string]*vuln{}
	get := func(id string) *vuln {
		if vulns[id] == nil {
			vulns[id] = &vuln{id: id, symbols: map[string]bool{}, entries: map[string]bool{}}
		}
		return vulns[id]
	}
	configured := false
	dec := json.NewDecoder(r)
	for {
		var m message
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return false, fmt.Errorf("read govulncheck's output: %w", err)
		}
		switch {
		case m.Config != nil:
			configured = true
			fmt.Fprintf(w, "govulncheck with %s, database %s\n", m.Config.GoVersion, m.Config.DB)
		case m.OSV != nil:
			get(m.OSV.ID).summary = m.OSV.Summary
		case m.Finding != nil && len(m.Finding.Trace) > 0:
			f := m.Finding
			v := get(f.OSV)
			top := f.Trace[0]
			v.module, v.version, v.fixed = top.Module, top.Version, f.FixedVersion
			if top.Function != "" {
				v.reached = true
				v.symbols[top.symbol()] = true
				if last := f.Trace[len(f.Trace)-1]; len(f.Trace) > 1 {
					v.entries[last.symbol()] = true
				}
			}
		}
	}
	if !configured {
		return false, errors.New("no config message: this is not govulncheck -format json output")
	}

	var reached []*vuln
	unreached := 0
	for _, v := range vulns {
		if v.module == "" { // an OSV entry with no finding
			continue
		}
		if v.reached {
			reached = append(reached, v)
		} else {
			unreached++
		}
	}
	sort.Slice(reached, func(i, j int) bool {
		if reached[i].stdlib() != reached[j].stdlib() {
			return !reached[i].stdlib()
		}
		return reached[i].id < reached[j].id
	})
	fail, std := false, 0
	for _, v := range reached {
		verdict := "FAIL: third-party module; upgrade it"
		if v.stdlib() {
			verdict = "warning: standard library; build with the newest Go patch release"
			std++
		} else {
			fail = true
		}
		fixed := v.fixed
		if fixed == "" {
			fixed = "not fixed yet"
		}
		fmt.Fprintf(w, "\n%s  %s@%s (fixed in %s)  %s\n  %s\n", v.id, v.module, v.version, fixed, verdict, v.summary)
		fmt.Fprintf(w, "  reached: %s\n", strings.Join(sorted(v.symbols, 6), ", "))
		if len(v.entries) > 0 {
			fmt.Fprintf(w, "  from:    %s\n", strings.Join(sorted(v.entries, 6), ", "))
		}
	}
	fmt.Fprintf(w, "\n%d reachable vulnerabilities: %d in third-party modules, %d in the standard library; %d more in code that is required or imported but not reached\n",
		len(reached), len(reached)-std, std, unreached)
	return fail, nil
}

// sorted returns the keys of set in order, at most n of them and a count of the rest.
func sorted(set map[string]bool, n int) []string {
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) > n {
		keys = append(keys[:n], fmt.Sprintf("and %d more", len(keys)-n))
	}
	return keys
}
