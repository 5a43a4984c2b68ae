//go:build cgo

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/notary-dev/notary/anchor"
	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/service"
	"github.com/notary-dev/notary/store"
	"github.com/notary-dev/notary/store/postgres"
	"github.com/notary-dev/notary/webhook"
)

// database is what the commands need of the store that holds a log: the SQLite file of the
// data directory (package store) or a PostgreSQL database (package store/postgres).
type database interface {
	service.Store
	anchor.Store
	api.KeyStore
	webhook.Store
	api.Pinger
	CreateAPIKey(ctx context.Context, name string, tokenHash [32]byte, webhook string, now time.Time) error
	RevokeAPIKey(ctx context.Context, name string, now time.Time) error
	Close() error
}

// isPostgres reports whether the --db value names a PostgreSQL database.
func isPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// dbFlagUsage is the help of every --db flag.
const dbFlagUsage = "the log's database: a SQLite `FILE` (default DIR/notary.db) or a postgres:// URL " +
	"(or set NOTARY_DB, which keeps a password out of the process list)"

// databasePath returns the database to open: the --db value, else the SQLite file of the
// data directory.
func databasePath(db, dataDir string) string {
	if db != "" {
		return db
	}
	return filepath.Join(dataDir, "notary.db")
}

// openDatabase opens the database db names. With mustExist, a SQLite file that does not
// exist is a usage error rather than a new empty log.
func openDatabase(ctx context.Context, db string, mustExist bool) (database, error) {
	if isPostgres(db) {
		return postgres.Open(ctx, db)
	}
	if mustExist {
		if _, err := os.Stat(db); err != nil {
			return nil, &cliError{code: exitUsage, err: fmt.Errorf("no notary database at %s", db), hint: "pass the --data directory (or --db) that serve uses"}
		}
	}
	return store.Open(db)
}

// apiKeys returns the API keys of db, by name, whichever store holds them.
func apiKeys(ctx context.Context, db database) ([]store.APIKey, error) {
	switch db := db.(type) {
	case *store.DB:
		return db.APIKeys(ctx)
	case *postgres.DB:
		keys, err := db.APIKeys(ctx)
		out := make([]store.APIKey, len(keys))
		for i, k := range keys {
			out[i] = store.APIKey(k)
		}
		return out, err
	}
	return nil, fmt.Errorf("listing API keys: unknown database %T", db)
}

// isKeyExists reports whether err says an API key of that name exists.
func isKeyExists(err error) bool {
	return errors.Is(err, store.ErrKeyExists) || errors.Is(err, postgres.ErrKeyExists)
}
