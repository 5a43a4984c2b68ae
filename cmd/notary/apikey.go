//go:build cgo

package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"regexp"
	"text/tabwriter"
	"time"

	"github.com/notary-dev/notary/service"
	"github.com/notary-dev/notary/webhook"
)

// apiKeyPrefix starts every API key token, so that secret scanners and people can tell one.
const apiKeyPrefix = "notary_"

// apiKeyName is what a key's name may be.
var apiKeyName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

const apikeyUsage = `Usage:
  notary apikey create [flags] NAME   create a key; print its token, once, on stdout
  notary apikey list   [flags]        list the keys
  notary apikey revoke [flags] NAME   revoke a key for good

Flags:
  --data DIR       the data directory of the service (default notary-data)
  --webhook URL    (create) call URL back when a proof of the key's submissions is complete

An integration sends the token as "Authorization: Bearer TOKEN". Only its SHA-256 is
stored; a lost token cannot be shown again: revoke the key and create another. Keys take
effect within seconds, without restarting the service.

Examples:
  TOKEN=$(notary apikey create --data /var/lib/notary ci-pipeline)
  notary apikey list --data /var/lib/notary
  notary apikey revoke --data /var/lib/notary ci-pipeline
`

func cmdAPIKey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, apikeyUsage)
		return &cliError{code: exitUsage, err: errors.New("apikey needs a subcommand: create, list or revoke")}
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		return helpText(apikeyUsage)
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet("apikey "+sub, "[flags]", stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), apikeyUsage) }
	data := fs.String("data", "notary-data", "the service's data `DIR`")
	dbFlag := fs.String("db", "", dbFlagUsage)
	webhook := fs.String("webhook", "", "callback `URL` for the key's submissions")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	names := fs.Args()
	if err := applyConfig(fs, ""); err != nil {
		return err
	}
	wantNames := map[string]int{"create": 1, "list": 0, "revoke": 1}
	want, ok := wantNames[sub]
	switch {
	case !ok:
		hint := "use create, list or revoke"
		if near := nearest(sub, []string{"create", "list", "revoke"}); near != "" {
			hint = fmt.Sprintf("did you mean %q? (%s)", near, hint)
		}
		return &cliError{code: exitUsage, err: fmt.Errorf("unknown apikey subcommand %q", sub), hint: hint}
	case len(names) != want:
		return &cliError{code: exitUsage, err: fmt.Errorf("apikey %s takes %d name(s), got %d", sub, want, len(names)), hint: `run "notary apikey help"`}
	case *webhook != "" && sub != "create":
		return usageError("--webhook is for apikey create")
	}
	db, err := openDatabase(ctx, databasePath(*dbFlag, *data), true)
	if err != nil {
		return err
	}
	defer db.Close()

	switch sub {
	case "create":
		return createAPIKey(ctx, db, names[0], *webhook, stdout, stderr)
	case "revoke":
		err := db.RevokeAPIKey(ctx, names[0], time.Now())
		if errors.Is(err, service.ErrNotFound) {
			return &cliError{code: exitUsage, err: fmt.Errorf("no API key is named %q", names[0]), hint: `"notary apikey list" shows the keys`}
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "API key %q revoked; requests with it are refused within seconds.\n", names[0])
		return nil
	default:
		return listAPIKeys(ctx, db, stdout)
	}
}

func createAPIKey(ctx context.Context, db database, name, hook string, stdout, stderr io.Writer) error {
	if !apiKeyName.MatchString(name) {
		return usageError("the key name %q must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	if hook != "" {
		// serve decides whether callbacks may reach private addresses; here only the form counts.
		if err := webhook.CheckURL(hook, true); err != nil {
			return usageError("--webhook: %v", err)
		}
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return err
	}
	token := apiKeyPrefix + base64.RawURLEncoding.EncodeToString(secret)
	err := db.CreateAPIKey(ctx, name, sha256.Sum256([]byte(token)), hook, time.Now())
	if isKeyExists(err) {
		return &cliError{code: exitUsage, err: fmt.Errorf("an API key named %q exists (names are never reused)", name), hint: "choose another name"}
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, token)
	fmt.Fprintf(stderr, "API key %q created. Its token, above, is shown only this once.\n"+
		"Send it as \"Authorization: Bearer TOKEN\"; revoke it with \"notary apikey revoke %s\".\n", name, name)
	return nil
}

func listAPIKeys(ctx context.Context, db database, stdout io.Writer) error {
	keys, err := apiKeys(ctx, db)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tCREATED\tSTATUS\tWEBHOOK")
	for _, k := range keys {
		status := "active"
		if !k.Revoked.IsZero() {
			status = "revoked " + k.Revoked.Format(time.DateOnly)
		}
		webhook := k.Webhook
		if webhook == "" {
			webhook = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.Name, k.Created.Format(time.DateTime), status, webhook)
	}
	return tw.Flush()
}
