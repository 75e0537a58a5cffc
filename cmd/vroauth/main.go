// Command vroauth is the reference server of the Veeam Recovery Orchestrator
// authentication API, and a command-line client for it.
//
//	vroauth serve                  run the server (SQLite by default, PostgreSQL with --db postgres://...)
//	vroauth users add|list|...     manage the users of a server's database
//	vroauth login|clients|token    talk to a server (vroauth or a real Orchestrator)
//
// Run "vroauth help" or "vroauth <command> -h" for the flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := Run(ctx, os.Args[1:], &Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv})
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "vroauth:", err)
		os.Exit(1)
	}
}

// Env is what a command may touch of the world, so that tests can run commands in
// process.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string

	// OnListen, when set, is called with the address the server listens on.
	OnListen func(addr string)
}

// command is one subcommand: its name, a line of help, and how it runs.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *Env, args []string) error
}

func commands() map[string]command {
	cmds := []command{
		{"serve", "run the vroauth server", runServe},
		{"users", "manage users: add, list, disable, enable, delete, set-role, set-password", runUsers},
		{"version", "print the version", func(_ context.Context, env *Env, _ []string) error {
			fmt.Fprintln(env.Stdout, "vroauth", version)
			return nil
		}},
	}
	cmds = append(cmds, clientCommands()...)
	m := map[string]command{}
	for _, c := range cmds {
		m[c.name] = c
	}
	return m
}

// Run runs the command line args (without the program name).
func Run(ctx context.Context, args []string, env *Env) error {
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(env.Stderr, cmds)
		if len(args) == 0 {
			return flag.ErrHelp
		}
		return nil
	}
	c, ok := cmds[args[0]]
	if !ok {
		usage(env.Stderr, cmds)
		return fmt.Errorf("unknown command %q", args[0])
	}
	return c.run(ctx, env, args[1:])
}

func usage(w io.Writer, cmds map[string]command) {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "usage: vroauth <command> [flags]\n\ncommands:")
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, cmds[n].summary)
	}
}

// newFlagSet returns a flag set for a subcommand that reports errors instead of
// exiting, and whose flags default to their VROAUTH_* environment twins.
func newFlagSet(env *Env, name, usageLine string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "usage: vroauth %s\n\nflags (each also read from its VROAUTH_* environment variable):\n", usageLine)
		fs.PrintDefaults()
	}
	return fs
}

// parseWithEnv parses args after setting every flag that has an environment twin
// (--refresh-token-ttl ↔ VROAUTH_REFRESH_TOKEN_TTL); the command line wins.
func parseWithEnv(fs *flag.FlagSet, env *Env, args []string) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		name := "VROAUTH_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := env.Getenv(name); v != "" && err == nil {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s: %w", name, e)
			}
		}
	})
	if err != nil {
		return err
	}
	return parseInterspersed(fs, args)
}

// parseInterspersed parses flags that may come after positional arguments
// (`clients delete ID --output json`); the positional arguments stay in fs.Args().
func parseInterspersed(fs *flag.FlagSet, args []string) error {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return fs.Parse(append([]string{"--"}, positional...))
}
