package main

import (
	"os"

	"golang.org/x/term"
)

// readHidden reads a line from the terminal f without echoing it; it fails if f is
// not a terminal.
func readHidden(f *os.File) ([]byte, error) {
	return term.ReadPassword(int(f.Fd()))
}
