package main

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestLoadOrCreateKeyConcurrent starts many instances' worth of key loading at once on
// a key file that does not exist yet: every one gets the same 32-byte key, the file
// has mode 0600, and no temporary file is left behind.
func TestLoadOrCreateKeyConcurrent(t *testing.T) {
	const n = 32
	for round := range 20 {
		dir := t.TempDir()
		path := filepath.Join(dir, "secret.key")
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		var wg sync.WaitGroup
		keys, errs := make([][]byte, n), make([]error, n)
		for i := range n {
			wg.Go(func() { keys[i], errs[i] = loadOrCreateKey(path, log) })
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil || len(keys[i]) != 32 || !bytes.Equal(keys[i], keys[0]) {
				t.Fatalf("round %d: loadOrCreateKey #%d = %d bytes, %v; want the 32 bytes every caller got", round, i, len(keys[i]), errs[i])
			}
		}
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("round %d: key file: %v, %v; want mode 0600", round, fi, err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Fatalf("round %d: %d entries in the key's directory; want the key file alone", round, len(entries))
		}
	}
}

func TestCreateKeyFile(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "k")
		if err := createKeyFile(path, []byte("key\n")); err != nil {
			t.Fatalf("createKeyFile = %v; want nil", err)
		}
		if b, err := os.ReadFile(path); err != nil || string(b) != "key\n" {
			t.Errorf("key file = %q, %v; want %q", b, err, "key\n")
		}
	})
	t.Run("ErrExist", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "k")
		if err := os.WriteFile(path, []byte("first\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := createKeyFile(path, []byte("second\n")); !errors.Is(err, fs.ErrExist) {
			t.Errorf("createKeyFile(existing file) = %v; want fs.ErrExist", err)
		}
		if b, _ := os.ReadFile(path); string(b) != "first\n" {
			t.Errorf("key file after a refused create = %q; want %q unchanged", b, "first\n")
		}
	})
	t.Run("ErrNoDir", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "missing", "k")
		if err := createKeyFile(path, []byte("key\n")); err == nil {
			t.Errorf("createKeyFile(in a missing directory) = nil; want an error")
		}
	})
}
