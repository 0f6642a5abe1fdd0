package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"

	"translucent/sshrelay"
)

// sshRelayCmd runs the SSH relay: serve --ssh starts it, with the SSH
// listener as descriptor 3 and the front's socket in its private
// directory; run by hand, it listens itself.
func sshRelayCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ssh-relay", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:2222", "SSH `address` to listen on, or fd:N for a listening socket inherited as descriptor N (as serve --ssh starts it)")
	front := fs.String("front", "", "the server's relay `socket` (serve --ssh makes it, in its private directory)")
	hostKey := fs.String("host-key", "", "host key `file` (ed25519, made on first start, mode 0600; default: beside the --front socket)")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if *front == "" || fs.NArg() > 0 {
		return errors.New("usage: translucent ssh-relay --listen ADDR --front SOCKET [--host-key FILE]")
	}
	if *hostKey == "" {
		*hostKey = filepath.Join(filepath.Dir(*front), "ssh_host_ed25519_key")
	}
	log := slog.New(slog.NewTextHandler(stderr, nil)).With("ssh_relay", os.Getpid())
	key, created, err := sshrelay.HostKey(*hostKey)
	if err != nil {
		return fmt.Errorf("ssh-relay: %w", err)
	}
	log.Info("ssh host key", "file", *hostKey, "created", created, "fingerprint", ssh.FingerprintSHA256(key.PublicKey()))
	ln, err := relayListener(*listen)
	if err != nil {
		return fmt.Errorf("ssh-relay: %w", err)
	}
	log.Info("ssh relay listening", "addr", ln.Addr().String(), "front", *front)
	r := &sshrelay.Relay{Front: *front, HostKey: key, Logger: log}
	err = r.Serve(ctx, ln)
	log.Info("ssh relay stopped", "err", err)
	return err
}

// relayListener listens on addr, or takes the inherited fd:N.
func relayListener(addr string) (net.Listener, error) {
	n, ok := strings.CutPrefix(addr, "fd:")
	if !ok {
		return net.Listen("tcp", addr)
	}
	fd, err := strconv.Atoi(n)
	if err != nil || fd < 3 {
		return nil, fmt.Errorf("--listen %s: want fd:N, N an inherited descriptor (3 or more)", addr)
	}
	f := os.NewFile(uintptr(fd), "ssh-listener")
	defer f.Close()
	return net.FileListener(f)
}
