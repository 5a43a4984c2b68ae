package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/notary-dev/notary/service"
)

// ErrKeyExists is returned (wrapped) by CreateAPIKey for a name or token already taken.
var ErrKeyExists = errors.New("store/postgres: an API key with this name exists")

// APIKey is an integration's API key as stored: its token only as a SHA-256. It has the
// fields of store.APIKey, in the same order, so that one converts to the other.
type APIKey struct {
	ID      int64
	Name    string
	Webhook string // callback URL for the key's submissions; "" for none
	Created time.Time
	Revoked time.Time // zero while the key is valid
}

// uniqueViolation is PostgreSQL's SQLSTATE for a duplicate key.
const uniqueViolation = "23505"

// CreateAPIKey stores a new API key: its name, the SHA-256 of its token and its callback
// URL ("" for none). A name is never reused, even after its key is revoked: a taken name
// (or token) gives an error wrapping ErrKeyExists.
func (db *DB) CreateAPIKey(ctx context.Context, name string, tokenHash [32]byte, webhook string, now time.Time) error {
	_, err := db.pool.Exec(ctx,
		`INSERT INTO api_keys (name, token_hash, webhook, created_ms) VALUES ($1, $2, $3, $4)`,
		name, tokenHash[:], webhook, now.UnixMilli())
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == uniqueViolation {
		return fmt.Errorf("%w: %q", ErrKeyExists, name)
	}
	if err != nil {
		return dbErr(ctx, "create API key", err)
	}
	return nil
}

// APIKeys returns every API key, revoked ones included, by name.
func (db *DB) APIKeys(ctx context.Context) ([]APIKey, error) {
	rows, err := db.pool.Query(ctx,
		`SELECT id, name, webhook, created_ms, revoked_ms FROM api_keys ORDER BY name COLLATE "C"`)
	if err != nil {
		return nil, dbErr(ctx, "list API keys", err)
	}
	keys, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (APIKey, error) {
		var (
			k       APIKey
			created int64
			revoked *int64
		)
		if err := row.Scan(&k.ID, &k.Name, &k.Webhook, &created, &revoked); err != nil {
			return APIKey{}, err
		}
		k.Created = time.UnixMilli(created).UTC()
		if revoked != nil {
			k.Revoked = time.UnixMilli(*revoked).UTC()
		}
		return k, nil
	})
	if err != nil {
		return nil, dbErr(ctx, "list API keys", err)
	}
	if len(keys) == 0 {
		return nil, nil
	}
	return keys, nil
}

// RevokeAPIKey revokes the key of the given name for good. Revoking a revoked key is a
// no-op; an unknown name gives an error wrapping service.ErrNotFound.
func (db *DB) RevokeAPIKey(ctx context.Context, name string, now time.Time) error {
	tag, err := db.pool.Exec(ctx,
		`UPDATE api_keys SET revoked_ms = coalesce(revoked_ms, $1) WHERE name = $2`, now.UnixMilli(), name)
	if err != nil {
		return dbErr(ctx, "revoke API key", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("store/postgres: API key %q: %w", name, service.ErrNotFound)
	}
	return nil
}

// APIKeyByHash returns the name and callback URL of the key whose token has the given
// SHA-256, and whether it is revoked; an unknown hash gives an error wrapping
// service.ErrNotFound.
func (db *DB) APIKeyByHash(ctx context.Context, tokenHash [32]byte) (name, webhook string, revoked bool, err error) {
	err = db.pool.QueryRow(ctx,
		`SELECT name, webhook, revoked_ms IS NOT NULL FROM api_keys WHERE token_hash = $1`, tokenHash[:]).
		Scan(&name, &webhook, &revoked)
	if notFound(err) {
		return "", "", false, fmt.Errorf("store/postgres: API key: %w", service.ErrNotFound)
	}
	if err != nil {
		return "", "", false, dbErr(ctx, "API key", err)
	}
	return name, webhook, revoked, nil
}
