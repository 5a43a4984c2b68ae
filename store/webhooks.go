package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/notary-dev/notary/webhook"
)

// maxWebhookError caps the stored text of a delivery's last error.
const maxWebhookError = 500

// AddWebhook stores c, pending and due at now, and returns its ID, unless maxPending is
// positive and c's owner has that many pending webhooks already: then it stores nothing
// and added is false. The owner's count (webhook_owners, kept by triggers: one row read
// however many it has) and the insert are one statement of the one writer, so an owner
// never has more than maxPending. It is synced to disk before it returns.
func (db *DB) AddWebhook(ctx context.Context, c webhook.Callback, now time.Time, maxPending int) (id int64, added bool, err error) {
	if len(c.Entries) == 0 {
		return 0, false, errors.New("store: add webhook: no entries")
	}
	list := make([]byte, 0, 2+len(c.Entries)*8)
	list = append(list, '[')
	last := int64(-1)
	for k, e := range c.Entries {
		if e < 0 {
			return 0, false, fmt.Errorf("store: add webhook: negative entry %d", e)
		}
		if k > 0 {
			list = append(list, ',')
		}
		list = strconv.AppendInt(list, e, 10)
		last = max(last, e)
	}
	list = append(list, ']')
	ms := now.UnixMilli()
	err = db.writer.QueryRowContext(ctx, `INSERT INTO webhooks (owner, url, entries, last_entry, batch, created_ms, next_ms)
		SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?6
		WHERE ?7 <= 0 OR coalesce((SELECT pending FROM webhook_owners WHERE owner = ?1), 0) < ?7
		RETURNING id`, c.Owner, c.URL, string(list), last, c.Batch, ms, maxPending).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, dbErr(ctx, "add webhook", err)
	}
	return id, true, nil
}

// PendingWebhooks returns the number of pending webhooks of owner.
func (db *DB) PendingWebhooks(ctx context.Context, owner string) (n int64, err error) {
	err = db.readers.QueryRowContext(ctx,
		`SELECT coalesce((SELECT pending FROM webhook_owners WHERE owner = ?), 0)`, owner).Scan(&n)
	if err != nil {
		return 0, dbErr(ctx, "pending webhooks", err)
	}
	return n, nil
}

// DueWebhooks calls fn for pending webhooks whose entries are all below confirmed (their
// proofs are complete) and whose next attempt is due by now: at most perOwner of each
// owner and at most limit in all, every owner's first before any owner's second, each
// owner's in order of due time. fn runs after the rows are closed: it may take long, and
// write.
func (db *DB) DueWebhooks(ctx context.Context, confirmed int64, now time.Time, perOwner, limit int,
	fn func(webhook.Due) error) error {
	rows, err := db.readers.QueryContext(ctx, `SELECT id, owner, url, entries, batch, attempts FROM (
			SELECT *, row_number() OVER (PARTITION BY owner ORDER BY next_ms, id) AS turn
			FROM webhooks WHERE state = 'pending' AND next_ms <= ? AND last_entry < ?)
		WHERE turn <= ? ORDER BY turn, next_ms, id LIMIT ?`, now.UnixMilli(), confirmed, perOwner, limit)
	if err != nil {
		return dbErr(ctx, "due webhooks", err)
	}
	var list []webhook.Due
	for rows.Next() {
		var (
			d       webhook.Due
			entries string
		)
		if err := rows.Scan(&d.ID, &d.Owner, &d.URL, &entries, &d.Batch, &d.Attempts); err != nil {
			rows.Close()
			return dbErr(ctx, "due webhooks", err)
		}
		if err := json.Unmarshal([]byte(entries), &d.Entries); err != nil {
			rows.Close()
			return fmt.Errorf("store: webhook %d: entries %.100q: %v", d.ID, entries, err)
		}
		list = append(list, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return dbErr(ctx, "due webhooks", err)
	}
	for _, d := range list {
		if err := fn(d); err != nil {
			return err
		}
	}
	return nil
}

// WebhookDelivered records that webhook id was delivered.
func (db *DB) WebhookDelivered(ctx context.Context, id int64, now time.Time) error {
	_, err := db.writer.ExecContext(ctx, `UPDATE webhooks
		SET state = 'delivered', attempts = attempts + 1, done_ms = ?, last_error = ''
		WHERE id = ? AND state = 'pending'`, now.UnixMilli(), id)
	if err != nil {
		return dbErr(ctx, fmt.Sprintf("webhook %d delivered", id), err)
	}
	return nil
}

// WebhookFailed records a failed attempt to deliver webhook id, and why: the next attempt
// is due at next, unless giveUp is set, which marks it failed for good.
func (db *DB) WebhookFailed(ctx context.Context, id int64, reason string, next time.Time, giveUp bool) error {
	if len(reason) > maxWebhookError {
		reason = reason[:maxWebhookError]
	}
	state, done := "pending", any(nil)
	if giveUp {
		state, done = "failed", next.UnixMilli()
	}
	_, err := db.writer.ExecContext(ctx, `UPDATE webhooks
		SET state = ?, attempts = attempts + 1, next_ms = ?, done_ms = ?, last_error = ?
		WHERE id = ? AND state = 'pending'`, state, next.UnixMilli(), done, reason, id)
	if err != nil {
		return dbErr(ctx, fmt.Sprintf("webhook %d failed", id), err)
	}
	return nil
}

// WebhookCounts returns the number of webhooks pending (waiting for their entry's proof or
// for their next attempt) and failed for good.
func (db *DB) WebhookCounts(ctx context.Context) (pending, failed int64, err error) {
	err = db.readers.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM webhooks WHERE state = 'pending'),
		(SELECT count(*) FROM webhooks WHERE state = 'failed')`).Scan(&pending, &failed)
	if err != nil {
		return 0, 0, dbErr(ctx, "webhook counts", err)
	}
	return pending, failed, nil
}

// WebhookState returns the state ("pending", "delivered" or "failed"), the number of
// attempts and the last error of webhook id; ok is false if there is none.
func (db *DB) WebhookState(ctx context.Context, id int64) (state string, attempts int, lastErr string, ok bool, err error) {
	rows, err := db.readers.QueryContext(ctx,
		`SELECT state, attempts, last_error FROM webhooks WHERE id = ?`, id)
	if err != nil {
		return "", 0, "", false, dbErr(ctx, "webhook state", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return "", 0, "", false, dbErr(ctx, "webhook state", err)
		}
		return "", 0, "", false, nil
	}
	if err := rows.Scan(&state, &attempts, &lastErr); err != nil {
		return "", 0, "", false, dbErr(ctx, "webhook state", err)
	}
	return state, attempts, lastErr, true, nil
}
