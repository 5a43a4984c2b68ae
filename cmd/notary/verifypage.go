package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/notary-dev/notary/web"
)

// cmdVerifyPage writes the verify page as one self-contained HTML file
// (web.OfflineVerifyPage): opened from disk, with no network, it checks proofs as the served
// page does. "-" writes it to stdout.
func cmdVerifyPage(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := newFlagSet("verify-page", "FILE.html (or - for stdout)", stderr)
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	if flags.NArg() != 1 {
		flags.Usage()
		return usageError("verify-page takes one file name (or - for stdout)")
	}
	page, err := web.OfflineVerifyPage()
	if err != nil {
		return err
	}
	if flags.Arg(0) == "-" {
		_, err := stdout.Write(page)
		return err
	}
	if err := os.WriteFile(flags.Arg(0), page, 0o644); err != nil {
		return &cliError{code: exitUsage, err: err}
	}
	fmt.Fprintf(stderr, "wrote %s (%d bytes): open it in a browser to check proofs offline\n", flags.Arg(0), len(page))
	return nil
}
