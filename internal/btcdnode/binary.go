package btcdnode

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// EnvBinary names the environment variable that overrides the btcd binary.
const EnvBinary = "NOTARY_BTCD"

// modulePath is the module whose root holds bin/btcd.
const modulePath = "github.com/notary-dev/notary"

var buildMu sync.Mutex

// FindBinary returns the path of the btcd executable: $NOTARY_BTCD if set, else
// <module root>/bin/btcd, building it there with
// `go build -o bin/btcd github.com/btcsuite/btcd` if it is missing (the version
// pinned in go.mod). Concurrent callers, in this process or others, build it once.
// Outside the module tree it falls back to a btcd on $PATH.
func FindBinary() (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("btcdnode: $%s: %w", EnvBinary, err)
		}
		return p, nil
	}
	root, err := moduleRoot()
	if err != nil {
		if p, lerr := exec.LookPath("btcd"); lerr == nil {
			return p, nil
		}
		return "", err
	}
	return ensureBinary(root)
}

// ensureBinary returns <root>/bin/btcd, building it first if it is missing.
func ensureBinary(root string) (string, error) {
	bin := filepath.Join(root, "bin", "btcd")
	if isExecutable(bin) {
		return bin, nil
	}

	buildMu.Lock()
	defer buildMu.Unlock()
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", fmt.Errorf("btcdnode: %w", err)
	}
	unlock, err := lockFile(filepath.Join(root, "bin", ".btcd-build.lock"))
	if err != nil {
		return "", fmt.Errorf("btcdnode: lock the btcd build: %w", err)
	}
	defer unlock()
	if isExecutable(bin) { // built by someone else while we waited
		return bin, nil
	}
	tmp := bin + ".tmp" + strconv.Itoa(os.Getpid())
	cmd := exec.Command("go", "build", "-o", tmp, "github.com/btcsuite/btcd")
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("btcdnode: go build github.com/btcsuite/btcd: %v\n%s", err, out.Bytes())
	}
	if err := os.Rename(tmp, bin); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("btcdnode: %w", err)
	}
	return bin, nil
}

// moduleRoot walks up from the working directory to the go.mod of modulePath.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("btcdnode: %w", err)
	}
	for {
		if isModuleRoot(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("btcdnode: no btcd: set $" + EnvBinary +
				" or run inside the " + modulePath + " module tree")
		}
		dir = parent
	}
}

func isModuleRoot(gomod string) bool {
	f, err := os.Open(gomod)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 2 && fields[0] == "module" && strings.Trim(fields[1], `"`) == modulePath {
			return true
		}
	}
	return false
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}
