package main

import (
	"os"
	"path/filepath"
)

// createKeyFile creates path with mode 0600 and data in it, or fails with an error
// that matches fs.ErrExist if path exists. The file appears whole or not at all: data
// goes to a temporary file in the same directory, is synced, and is then hard-linked
// to path, which fails if path exists. So an instance starting at the same moment
// never reads a key file still being written, and a crash leaves no empty one.
func createKeyFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp") // mode 0600
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes the entries of dir durable, where the system allows it.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	d.Sync() // some systems cannot sync a directory; the file itself is synced
	return nil
}
