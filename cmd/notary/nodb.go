//go:build !cgo

package main

// Without cgo there is no SQLite, so this build of notary is the verifier and client alone:
// stamp, upgrade, verify, info, verify-page, monitor and version work as in the full build,
// and the commands that keep or read a log's database refuse, saying how to get the build
// that has one.

import (
	"context"
	"fmt"
	"io"
)

var (
	cmdServe    = noDatabase("serve")
	cmdDev      = noDatabase("dev")
	cmdWallet   = noDatabase("wallet")
	cmdAPIKey   = noDatabase("apikey")
	cmdAudit    = noDatabase("audit")
	cmdMigrate  = noDatabase("migrate")
	cmdBackup   = noDatabase("backup")
	cmdReorigin = noDatabase("reorigin")
	cmdTiles    = noDatabase("tiles")
)

// noDatabase returns a command that refuses to run: exit 2, and how to get the full build.
func noDatabase(name string) func(context.Context, []string, io.Writer, io.Writer) error {
	return func(context.Context, []string, io.Writer, io.Writer) error {
		return &cliError{
			code: exitUsage,
			err:  fmt.Errorf("notary %s needs the log's database, and this notary was built without one (CGO_ENABLED=0: a verifier and client only)", name),
			hint: "use the server build (notary-server-linux-amd64 from a release), or build it with a C compiler: CGO_ENABLED=1 go install github.com/notary-dev/notary/cmd/notary@latest",
		}
	}
}
