// Command notary is a timestamped proof-of-existence service and its client.
//
// Usage:
//
//	notary COMMAND [flags] [arguments]
//
// "notary help" lists the commands (commandList), "notary COMMAND -h" a command's flags.
// Flags may come before or after the other arguments.
//
// Exit codes, one convention for every command: 0 success (upgrade, info: the proof is
// complete), 1 an invalid, forged or untrusted proof, 2 a usage or I/O error, 3 pending
// (verify: valid so far, resting on a log key you trust; upgrade: not complete yet; info: a
// pending proof), 4 (verify) complete but its block not checked against any chain source,
// 5 (verify) pending and signed only by the key it names, 6 (monitor) a split view, with
// its evidence.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
)

// command is one subcommand of notary. Adding a command is adding one entry to commandList.
type command struct {
	name    string
	args    string // what follows the name in the usage line
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commandList returns the subcommands in the order "notary help" lists them.
func commandList() []command {
	return []command{
		{"serve", "[flags]", "run the service against your own Bitcoin node", cmdServe},
		{"dev", "[flags]", "local stack: btcd regtest node, miner and service", cmdDev},
		{"stamp", "[flags] FILE...", "hash files here, submit the digests, save FILE.proof.json and FILE.ots", cmdStamp},
		{"upgrade", "[flags] FILE.proof.json", "replace a pending proof by the complete one", cmdUpgrade},
		{"verify", "[flags] FILE.proof.json [FILE]", "check a proof offline (and the block against a node)", cmdVerify},
		{"info", "FILE.proof.json", "describe a proof", cmdInfo},
		{"wallet", "[flags]", "show the anchoring address and balance", cmdWallet},
		{"apikey", "create|list|revoke [NAME]", "manage the API keys of integrations", cmdAPIKey},
		{"audit", "[flags]", "check every entry and hash of the stored log", cmdAudit},
		{"migrate", "--data DIR --to postgres://…", "move a SQLite log into PostgreSQL, proving the root unchanged", cmdMigrate},
		{"tiles", "export [flags] DIR", "write the log's tlog-tiles to DIR, for a static mirror or CDN", cmdTiles},
		{"monitor", "--key VKEY [flags] URL", "follow a log's checkpoints and anchors; stop on a split view", cmdMonitor},
		{"verify-page", "FILE.html", "write the verify page as one file that checks proofs offline", cmdVerifyPage},
		{"backup", "[--data DIR] DEST", "copy a live SQLite log consistently into the new file DEST", cmdBackup},
		{"reorigin", "--data DIR --origin NEW", "continue a log restored from a backup under a new origin and key", cmdReorigin},
		{"version", "", "print the version, the commit and the kind of build", cmdVersion},
	}
}

// lookupCommand returns the command called name.
func lookupCommand(name string) (command, bool) {
	for _, c := range commandList() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// usage returns the text of "notary help".
func usage() string {
	var b strings.Builder
	b.WriteString("notary: timestamped proof of existence, anchored in Bitcoin.\n\nUsage:\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, c := range commandList() {
		fmt.Fprintf(tw, "  notary %s %s\t%s\n", c.name, c.args, c.summary)
	}
	tw.Flush()
	b.WriteString(usageTail)
	return b.String()
}

const usageTail = `
Examples:
  notary dev
  notary stamp --server http://127.0.0.1:8080 contract.pdf
  notary stamp --server https://notary.example --calendar https://a.pool.opentimestamps.org *.pdf
  notary upgrade contract.pdf.proof.json
  notary verify contract.pdf.proof.json contract.pdf
  curl -o p.json http://127.0.0.1:8080/v1/timestamps/DIGEST/proof && notary verify p.json --digest DIGEST
  notary verify --node http://user:pass@127.0.0.1:8332 contract.pdf.proof.json contract.pdf
  notary verify --keys trusted-notaries.txt contract.pdf.proof.json contract.pdf
  notary apikey create --data /var/lib/notary ci-pipeline
  notary verify --tsa-ca notary-tsa.pem contract.pdf.tsr contract.pdf   (an RFC 3161 token; docs/rfc3161.md)
  notary upgrade --server http://127.0.0.1:8080 contract.pdf.tsr          (saves contract.pdf.tsr.proof.json)

Exit status of verify (the others: 0 done or complete, 1 invalid, 2 usage or I/O error, 3 pending):
  0  complete, and its block checked against your node, an explorer or a block you trust
  1  invalid or forged; or pending and signed by a key you did not give (--key, --keys)
  2  usage or I/O error
  3  valid so far but pending: it rests on the signature of a log key you trust
  4  complete, but its block not checked against any chain source
  5  valid so far but pending, and signed only by the key it names itself (no --key)

Exit status of monitor: 0 no split view, 1 the log published something invalid, 2 usage or
I/O error, 6 split view: the log showed two histories (the evidence is on stdout).

Run "notary COMMAND -h" (or "notary help COMMAND") for the flags of a command.
`

// Exit codes. What verify's mean is spelled out in verifyExits, "notary help" and the README.
const (
	exitOK            = 0 // success; verify: complete, and its block checked against a chain source
	exitInvalid       = 1 // an invalid or forged proof, or a pending one of a key not trusted
	exitUsage         = 2 // a usage or I/O error
	exitPending       = 3 // pending: valid so far, resting on a log key you trust (upgrade: not complete yet)
	exitUnchecked     = 4 // verify: complete, its block not checked against any chain source
	exitPendingOwnKey = 5 // verify: pending, and signed only by the key it names
	exitSplitView     = 6 // monitor: the log showed two histories; the evidence is printed
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
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return report(stdout, stderr, usageError("no command given"))
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 { // notary help COMMAND
			if _, ok := lookupCommand(args[1]); ok {
				return run(ctx, []string{args[1], "-h"}, stdout, stderr)
			}
			return report(stdout, stderr, unknownCommand(args[1]))
		}
		fmt.Fprint(stdout, usage())
		return exitOK
	}
	cmd, ok := lookupCommand(args[0])
	if !ok {
		return report(stdout, stderr, unknownCommand(args[0]))
	}
	return report(stdout, stderr, cmd.run(ctx, args[1:], stdout, stderr))
}

// report prints what err says, help to stdout and anything else to stderr, and returns the
// exit code it stands for.
func report(stdout, stderr io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	var help *helpRequest
	if errors.As(err, &help) {
		help.print(stdout)
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

// unknownCommand is the error for a command notary does not have, with the nearest one.
func unknownCommand(name string) error {
	var names []string
	for _, c := range commandList() {
		names = append(names, c.name)
	}
	hint := `run "notary help" for the list of commands`
	if near := nearest(strings.TrimLeft(name, "-"), names); near != "" {
		hint = fmt.Sprintf("did you mean %q? (%s)", near, hint)
	}
	return &cliError{code: exitUsage, err: fmt.Errorf("unknown command %q", name), hint: hint}
}

// helpRequest is what a command returns for -h: run prints the help to stdout and exits 0.
type helpRequest struct {
	print func(w io.Writer)
}

func (h *helpRequest) Error() string { return "help requested" }

// helpText returns the helpRequest that prints text.
func helpText(text string) error {
	return &helpRequest{func(w io.Writer) { fmt.Fprint(w, text) }}
}

// newFlagSet returns the flag set of the command name. Its usage lists the flags registered
// on it and nothing else; a usage function set in its place must write to fs.Output(), which
// is stdout when the user asked for help.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("notary "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: notary %s %s\n", name, synopsis)
		if c, ok := lookupCommand(name); ok {
			fmt.Fprintf(w, "\n%s.\n", strings.ToUpper(c.summary[:1])+c.summary[1:])
		}
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprint(w, "\nFlags (before or after the other arguments):\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args, flags and other arguments in any order ("--" ends the flags):
// afterwards fs.Args() holds the other arguments. -h gives a helpRequest; a flag error is one
// usage error, naming the nearest flag for a misspelt one.
func parseFlags(fs *flag.FlagSet, args []string) error {
	usage, out := fs.Usage, fs.Output()
	fs.Usage = func() {}
	fs.SetOutput(io.Discard) // the flag package's own message is in the error
	defer func() { fs.Usage = usage; fs.SetOutput(out) }()
	var positional []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			return &helpRequest{func(w io.Writer) {
				fs.SetOutput(w)
				usage()
			}}
		}
		if err != nil {
			return flagError(fs, err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	return fs.Parse(append([]string{"--"}, positional...))
}

// flagError turns an error of the flag package into a usage error with a hint.
func flagError(fs *flag.FlagSet, err error) error {
	hint := fmt.Sprintf("run \"%s -h\" for its flags", fs.Name())
	if name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -"); ok {
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		if near := nearest(name, names); near != "" {
			hint = fmt.Sprintf("did you mean --%s? (%s)", near, hint)
		}
		return &cliError{code: exitUsage, err: fmt.Errorf("%s has no flag --%s", fs.Name(), name), hint: hint}
	}
	return &cliError{code: exitUsage, err: err, hint: hint}
}

// nearest returns the candidate closest to s in edit distance, if it is close enough to be a
// likely misspelling (at most 2 edits, and at most half its length), or "".
func nearest(s string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		d := editDistance(s, c)
		if d < bestDist && 2*d <= max(len(s), len(c)) {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
