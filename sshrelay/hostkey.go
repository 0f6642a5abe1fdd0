package sshrelay

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/crypto/ssh"
)

// HostKey returns the host key in file path, creating it first (ed25519,
// OpenSSH format, mode 0600) when there is none: the key a server keeps
// for good, so that clients recognise it after a restart. A file that
// others can read is refused, as OpenSSH refuses it: the key would no
// longer be the server's alone. created says whether it was just made.
func HostKey(path string) (key ssh.Signer, created bool, err error) {
	b, err := readPrivate(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := createHostKey(path); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, false, fmt.Errorf("host key: %w", err)
		} else if err == nil {
			created = true
		}
		b, err = readPrivate(path)
	}
	if err != nil {
		return nil, false, fmt.Errorf("host key: %w", err)
	}
	key, err = ssh.ParsePrivateKey(b)
	if err != nil {
		return nil, false, fmt.Errorf("host key %s: %w", path, err)
	}
	return key, created, nil
}

// readPrivate reads a file only this user may read.
func readPrivate(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s has mode %#o: others can read the server's key (chmod 600 it, or remove it to make a new one)", path, fi.Mode().Perm())
	}
	return os.ReadFile(path)
}

// createHostKey writes a new key to path, which must not exist (two
// relays starting at once: one writes it, both use it).
func createHostKey(path string) error {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	block, err := ssh.MarshalPrivateKey(priv, "translucent host key")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(pem.EncodeToMemory(block)); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}
