// Command notary is a timestamped proof-of-existence service and its client.
//
// Usage:
//
//	notary serve   [flags]                  run the service against your own Bitcoin node
//	notary dev     [flags]                  run a local stack: btcd regtest node, miner, service
//	notary stamp   [flags] FILE             hash FILE locally, submit it, save FILE.proof.json
//	notary upgrade [flags] FILE.proof.json  fetch the complete proof once it exists
//	notary verify  [flags] FILE.proof.json [FILE]   check a proof offline (and against a node)
//	notary info    FILE.proof.json          describe a proof
//	notary wallet  [flags]                  show the anchoring wallet's address and balance
//	notary apikey  create|list|revoke [flags] [NAME]  manage the API keys of integrations
//	notary audit   [flags]                  check every entry and hash of the stored log
//	notary migrate --data DIR --to URL      move a SQLite log into PostgreSQL, same root
//	notary verify-page FILE.html            write the verify page as one file, for use offline
//
// Exit codes: 0 success, 1 an invalid, forged or untrusted proof, 2 a usage or I/O error,
// 3 pending (verify: valid so far, resting on a log key you trust; upgrade: not complete
// yet), 4 (verify) complete but its block not checked against any chain source, 5 (verify)
// pending and signed only by the key it names.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `notary: timestamped proof of existence, anchored in Bitcoin.

Usage:
  notary serve   [flags]                         run the service against your own Bitcoin node
  notary dev     [flags]                         local stack: btcd regtest node, miner and service
  notary stamp   [flags] FILE                    hash FILE here, submit the digest, save FILE.proof.json
  notary upgrade [flags] FILE.proof.json         replace a pending proof by the complete one
  notary verify  [flags] FILE.proof.json [FILE]  check a proof offline (and the block against a node)
  notary info    FILE.proof.json                 describe a proof
  notary wallet  [flags]                         show the anchoring address and balance
  notary apikey  create|list|revoke [NAME]       manage the API keys of integrations
  notary audit   [flags]                         check every entry and hash of the stored log
  notary migrate --data DIR --to postgres://…    move a SQLite log into PostgreSQL, proving the root unchanged
  notary verify-page FILE.html                   write the verify page as one file, to check proofs offline

Examples:
  notary dev
  notary stamp --server http://127.0.0.1:8080 contract.pdf
  notary upgrade contract.pdf.proof.json
  notary verify contract.pdf.proof.json contract.pdf
  notary verify --node http://user:pass@127.0.0.1:8332 contract.pdf.proof.json contract.pdf
  notary verify --keys trusted-notaries.txt contract.pdf.proof.json contract.pdf
  notary apikey create --data /var/lib/notary ci-pipeline
  notary verify --tsa-ca notary-tsa.pem contract.pdf.tsr contract.pdf   (an RFC 3161 token; docs/rfc3161.md)
  notary upgrade --server http://127.0.0.1:8080 contract.pdf.tsr          (saves contract.pdf.tsr.proof.json)

Exit status of verify (of the others: 0 success, 1 invalid, 2 usage or I/O error, 3 not complete yet):
  0  complete, and its block checked against your node, an explorer or a block you trust
  1  invalid or forged; or pending and signed by a key you did not give (--key, --keys)
  2  usage or I/O error
  3  valid so far but pending: it rests on the signature of a log key you trust
  4  complete, but its block not checked against any chain source
  5  valid so far but pending, and signed only by the key it names itself (no --key)

Run "notary COMMAND -h" for the flags of a command.
`

// Exit codes. What verify's mean is spelled out in verifyExits, "notary help" and the README.
const (
	exitOK            = 0 // success; verify: complete, and its block checked against a chain source
	exitInvalid       = 1 // an invalid or forged proof, or a pending one of a key not trusted
	exitUsage         = 2 // a usage or I/O error
	exitPending       = 3 // pending: valid so far, resting on a log key you trust (upgrade: not complete yet)
	exitUnchecked     = 4 // verify: complete, its block not checked against any chain source
	exitPendingOwnKey = 5 // verify: pending, and signed only by the key it names
)

// cliError is an error with an exit code and an optional hint for the user. A note is an
// outcome short of success that is not an error either (a valid proof, pending): run prints
// it as "note:" rather than "error:".
type cliError struct {
	code int
	err  error
	hint string
	note bool
}

func (e *cliError) Error() string { return e.err.Error() }

func usageError(format string, args ...any) error {
	return &cliError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command and returns its exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	commands := map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"serve":   cmdServe,
		"dev":     cmdDev,
		"stamp":   cmdStamp,
		"upgrade": cmdUpgrade,
		"verify":  cmdVerify,
		"info":    cmdInfo,
		"wallet":  cmdWallet,
		"apikey":  cmdAPIKey,
		"audit":   cmdAudit,
		"migrate": cmdMigrate,

		"verify-page": cmdVerifyPage,
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "error: unknown command %q\nhint: run \"notary help\" for the list of commands\n", args[0])
		return exitUsage
	}
	err := cmd(ctx, args[1:], stdout, stderr)
	if err == nil {
		return exitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	code, hint, prefix := exitUsage, "", "error"
	var ce *cliError
	if errors.As(err, &ce) {
		code, hint = ce.code, ce.hint
		if ce.note {
			prefix = "note"
		}
	}
	fmt.Fprintf(stderr, "%s: %v\n", prefix, err)
	if hint != "" {
		fmt.Fprintf(stderr, "hint: %s\n", hint)
	}
	return code
}

// newFlagSet returns a flag set that prints its usage to stderr and reports errors as usage errors.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("notary "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: notary %s %s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, turning flag errors into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &cliError{code: exitUsage, err: err}
	}
	return nil
}
