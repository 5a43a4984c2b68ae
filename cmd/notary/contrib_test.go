package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSystemdUnit checks contrib/notary.service with Debian's systemd-analyze verify. The
// machine may run no systemd, so the unit is verified in a root of its own: the system's
// unit files, the unit, and the notary binary where ExecStart names it. verify exits 0 on
// settings it ignores, so any line it prints fails the test too; a broken copy of the unit
// shows that it does print them.
func TestSystemdUnit(t *testing.T) {
	t.Parallel()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatalf("systemd-analyze is missing (Debian's systemd; scripts/test-deps.sh installs it): %v", err)
	}
	unit := string(mustRead(t, filepath.Join("..", "..", "contrib", "notary.service")))
	for _, want := range []string{"User=notary", "NoNewPrivileges=yes", "ProtectSystem=strict", "ReadWritePaths=/var/lib/notary",
		"Restart=on-failure", "TimeoutStopSec=30s", "ExecStart=/usr/local/bin/notary serve --config /etc/notary/notary.conf"} {
		if !strings.Contains(unit, "\n"+want+"\n") {
			t.Errorf("contrib/notary.service lacks %q", want)
		}
	}
	root := t.TempDir()
	for _, dir := range []string{"usr/local/bin", "etc/systemd/system", "usr/lib/systemd"} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("cp", "-r", "/lib/systemd/system", filepath.Join(root, "usr/lib/systemd/system")).CombinedOutput(); err != nil {
		t.Fatalf("copying the system's units: %v\n%s", err, out)
	}
	copyExecutable(t, notaryBinary(t), filepath.Join(root, "usr/local/bin/notary"))
	verify := func(text string) (string, error) {
		writeFile(t, filepath.Join(root, "etc/systemd/system/notary.service"), text)
		out, err := exec.Command(analyze, "verify", "--root="+root, "/etc/systemd/system/notary.service").CombinedOutput()
		return string(out), err
	}
	if out, err := verify(unit); err != nil || out != "" {
		t.Errorf("systemd-analyze verify contrib/notary.service: %v\n%s", err, out)
	}
	broken := strings.Replace(strings.Replace(unit, "TimeoutStopSec=30s", "TimeoutStopSec=soon", 1), "NoNewPrivileges=", "NoNewPrivilege=", 1)
	if out, _ := verify(broken); !strings.Contains(out, "ignoring: soon") || !strings.Contains(out, "Unknown key 'NoNewPrivilege'") {
		t.Errorf("systemd-analyze verify passed a broken unit without a word:\n%s", out)
	}
}

// TestExampleConfig reads contrib/notary.conf as serve reads its --config file: every
// setting must be one of serve's flags with a value it takes.
func TestExampleConfig(t *testing.T) {
	t.Parallel()
	fs := newFlagSet("serve", "[flags]", io.Discard)
	var f serveFlags
	f.register(fs, "notary-data")
	f.anchor.register(fs)
	f.api.register(fs)
	path := filepath.Join("..", "..", "contrib", "notary.conf")
	values, err := readConfigFile(path, fs, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, value := range values {
		if err := fs.Set(name, value); err != nil {
			t.Errorf("%s: %s = %s: %v", path, name, value, err)
		}
	}
	if f.data != "/var/lib/notary" || f.anchor.network != "mainnet" || f.anchor.depth != 6 {
		t.Errorf("%s gives data %q, network %q, depth %d", path, f.data, f.anchor.network, f.anchor.depth)
	}
	if _, _, _, err := f.api.config(); err != nil {
		t.Errorf("%s: %v", path, err)
	}
}

// copyExecutable copies a file, mode 0755.
func copyExecutable(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o755); err != nil {
		t.Fatal(err)
	}
}
