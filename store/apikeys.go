package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mattn/go-sqlite3"
	"github.com/notary-dev/notary/service"
)

// ErrKeyExists is returned (wrapped) by CreateAPIKey for a name or token already taken.
var ErrKeyExists = errors.New("store: an API key with this name exists")

// APIKey is an integration's API key as stored: its token only as a SHA-256.
type APIKey struct {
	ID      int64
	Name    string
	Webhook string // callback URL for the key's submissions; "" for none
	Created time.Time
	Revoked time.Time // zero while the key is valid
}

// CreateAPIKey stores a new API key: its name, the SHA-256 of its token and its callback
// URL ("" for none). A name is never reused, even after its key is revoked: a taken name
// gives an error wrapping ErrKeyExists.
func (db *DB) CreateAPIKey(ctx context.Context, name string, tokenHash [32]byte, webhook string, now time.Time) error {
	_, err := db.writer.ExecContext(ctx,
		`INSERT INTO api_keys (name, token_hash, webhook, created_ms) VALUES (?, ?, ?, ?)`,
		name, tokenHash[:], webhook, now.UnixMilli())
	var se sqlite3.Error
	if errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintUnique {
		return fmt.Errorf("%w: %q", ErrKeyExists, name)
	}
	if err != nil {
		return dbErr(ctx, "create API key", err)
	}
	return nil
}

// APIKeys returns every API key, revoked ones included, by name.
func (db *DB) APIKeys(ctx context.Context) ([]APIKey, error) {
	rows, err := db.readers.QueryContext(ctx,
		`SELECT id, name, webhook, created_ms, revoked_ms FROM api_keys ORDER BY name`)
	if err != nil {
		return nil, dbErr(ctx, "list API keys", err)
	}
	defer rows.Close()
	var keys []APIKey
	for rows.Next() {
		var (
			k       APIKey
			created int64
			revoked sql.NullInt64
		)
		if err := rows.Scan(&k.ID, &k.Name, &k.Webhook, &created, &revoked); err != nil {
			return nil, dbErr(ctx, "list API keys", err)
		}
		k.Created = time.UnixMilli(created).UTC()
		if revoked.Valid {
			k.Revoked = time.UnixMilli(revoked.Int64).UTC()
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(ctx, "list API keys", err)
	}
	return keys, nil
}

// RevokeAPIKey revokes the key of the given name for good. Revoking a revoked key is a
// no-op; an unknown name gives an error wrapping service.ErrNotFound.
func (db *DB) RevokeAPIKey(ctx context.Context, name string, now time.Time) error {
	res, err := db.writer.ExecContext(ctx,
		`UPDATE api_keys SET revoked_ms = coalesce(revoked_ms, ?) WHERE name = ?`, now.UnixMilli(), name)
	if err != nil {
		return dbErr(ctx, "revoke API key", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return dbErr(ctx, "revoke API key", err)
	} else if n == 0 {
		return fmt.Errorf("store: API key %q: %w", name, service.ErrNotFound)
	}
	return nil
}

// APIKeyByHash returns the name and callback URL of the key whose token has the given
// SHA-256, and whether it is revoked; an unknown hash gives an error wrapping
// service.ErrNotFound.
func (db *DB) APIKeyByHash(ctx context.Context, tokenHash [32]byte) (name, webhook string, revoked bool, err error) {
	var revokedMS sql.NullInt64
	err = db.readers.QueryRowContext(ctx,
		`SELECT name, webhook, revoked_ms FROM api_keys WHERE token_hash = ?`, tokenHash[:]).
		Scan(&name, &webhook, &revokedMS)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", false, fmt.Errorf("store: API key: %w", service.ErrNotFound)
	}
	if err != nil {
		return "", "", false, dbErr(ctx, "API key", err)
	}
	return name, webhook, revokedMS.Valid, nil
}

// Ping checks that the database answers a query that reads it.
func (db *DB) Ping(ctx context.Context) error {
	var n sql.NullInt64
	if err := db.readers.QueryRowContext(ctx, `SELECT max(size) FROM checkpoints`).Scan(&n); err != nil {
		return dbErr(ctx, "ping", err)
	}
	return nil
}
