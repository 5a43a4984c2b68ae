package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version and commit are stamped by make release (-ldflags "-X main.version=… -X main.commit=…").
// Unstamped, they come from the build information: the module's version for
// `go install …/cmd/notary@VERSION`, the git revision for a build in a checkout.
var version, commit string

// buildVersion returns the version, the commit (empty when unknown) and whether this build
// has the database (a cgo build) or is the verifier and client alone.
func buildVersion() (v, c string, server bool) {
	v, c = version, commit
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return orDevel(v), c, false
	}
	if v == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if c == "" {
				c = s.Value
			}
		case "vcs.modified":
			dirty = s.Value == "true"
		case "CGO_ENABLED":
			server = s.Value == "1"
		}
	}
	if dirty && c != "" && commit == "" {
		c += "+modified"
	}
	return orDevel(v), c, server
}

func orDevel(v string) string {
	if v == "" {
		return "devel"
	}
	return v
}

func cmdVersion(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return usageError("version takes no arguments")
	}
	v, c, server := buildVersion()
	build := "verifier and client build (no database: the commands that keep a log need the server build)"
	if server {
		build = "server build"
	}
	fmt.Fprintf(stdout, "notary %s\n", v)
	if c != "" {
		fmt.Fprintf(stdout, "commit %s\n", c)
	}
	fmt.Fprintf(stdout, "%s %s/%s, %s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, build)
	return nil
}
