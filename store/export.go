package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/webhook"
)

// What notary migrate reads to move a log to another store; the service never needs it.

// Checkpoints calls fn for every stored checkpoint, by ascending size.
func (db *DB) Checkpoints(ctx context.Context, fn func(notary.Checkpoint) error) error {
	rows, err := db.readers.QueryContext(ctx, `SELECT size, origin, root, note FROM checkpoints ORDER BY size`)
	if err != nil {
		return dbErr(ctx, "list checkpoints", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c notary.Checkpoint
		var root []byte
		if err := rows.Scan(&c.Size, &c.Origin, &root, &c.Note); err != nil {
			return dbErr(ctx, "list checkpoints", err)
		}
		if len(root) != merkle.HashSize {
			return fmt.Errorf("store: checkpoint of size %d: corrupt root, %d bytes", c.Size, len(root))
		}
		c.Root = merkle.Hash(root)
		if err := fn(c); err != nil {
			return err
		}
	}
	return rows.Err()
}

// APIKeyTokenHashes returns the SHA-256 of each API key's token, by key name.
func (db *DB) APIKeyTokenHashes(ctx context.Context) (map[string][32]byte, error) {
	rows, err := db.readers.QueryContext(ctx, `SELECT name, token_hash FROM api_keys`)
	if err != nil {
		return nil, dbErr(ctx, "list API keys", err)
	}
	defer rows.Close()
	out := map[string][32]byte{}
	for rows.Next() {
		var name string
		var h []byte
		if err := rows.Scan(&name, &h); err != nil {
			return nil, dbErr(ctx, "list API keys", err)
		}
		if len(h) != 32 {
			return nil, fmt.Errorf("store: API key %q: corrupt token hash, %d bytes", name, len(h))
		}
		out[name] = [32]byte(h)
	}
	return out, rows.Err()
}

// PendingCallbacks calls fn for every webhook not yet delivered nor given up.
func (db *DB) PendingCallbacks(ctx context.Context, fn func(webhook.Callback) error) error {
	rows, err := db.readers.QueryContext(ctx, `SELECT owner, url, entries, batch FROM webhooks WHERE state = 'pending' ORDER BY id`)
	if err != nil {
		return dbErr(ctx, "list webhooks", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			c       webhook.Callback
			entries string
		)
		if err := rows.Scan(&c.Owner, &c.URL, &entries, &c.Batch); err != nil {
			return dbErr(ctx, "list webhooks", err)
		}
		if err := json.Unmarshal([]byte(entries), &c.Entries); err != nil {
			return fmt.Errorf("store: webhook entries %.100q: %v", entries, err)
		}
		if err := fn(c); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return dbErr(ctx, "list webhooks", err)
	}
	return nil
}
