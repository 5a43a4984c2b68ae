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
//
// Exit codes: 0 success (a valid proof for verify), 1 an invalid or incomplete proof,
// 2 a usage or I/O error, 3 (upgrade) the proof is not complete yet.
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

Examples:
  notary dev
  notary stamp --server http://127.0.0.1:8080 contract.pdf
  notary upgrade contract.pdf.proof.json
  notary verify contract.pdf.proof.json contract.pdf
  notary verify --node http://user:pass@127.0.0.1:8332 contract.pdf.proof.json contract.pdf
  notary apikey create --data /var/lib/notary ci-pipeline

Run "notary COMMAND -h" for the flags of a command.
`

// Exit codes.
const (
	exitOK         = 0
	exitInvalid    = 1
	exitUsage      = 2
	exitIncomplete = 3
)

// cliError is an error with an exit code and an optional hint for the user.
type cliError struct {
	code int
	err  error
	hint string
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
	code, hint := exitUsage, ""
	var ce *cliError
	if errors.As(err, &ce) {
		code, hint = ce.code, ce.hint
	}
	fmt.Fprintf(stderr, "error: %v\n", err)
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
