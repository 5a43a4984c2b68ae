package store

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// maxWebhookError caps the stored text of a delivery's last error.
const maxWebhookError = 500

// AddWebhooks registers a callback to url for each entry index given, due at once: it is
// delivered once the entry's proof is complete. An (entry, url) pair registered before is
// left as it is. Everything is in one transaction, synced to disk before it returns.
func (db *DB) AddWebhooks(ctx context.Context, url string, entries []int64, now time.Time) error {
	if len(entries) == 0 {
		return nil
	}
	list := make([]byte, 0, 2+len(entries)*8)
	list = append(list, '[')
	for k, e := range entries {
		if e < 0 {
			return fmt.Errorf("store: add webhooks: negative entry %d", e)
		}
		if k > 0 {
			list = append(list, ',')
		}
		list = strconv.AppendInt(list, e, 10)
	}
	list = append(list, ']')
	ms := now.UnixMilli()
	// "WHERE true" lets SQLite tell the upsert's ON CONFLICT from a join's ON.
	_, err := db.writer.ExecContext(ctx, `INSERT INTO webhooks (entry, url, created_ms, next_ms)
		SELECT value, ?, ?, ? FROM json_each(?) WHERE true
		ON CONFLICT (entry, url) DO NOTHING`, url, ms, ms, string(list))
	if err != nil {
		return dbErr(ctx, "add webhooks", err)
	}
	return nil
}

// DueWebhooks calls fn, in order of due time, for at most limit pending webhooks whose
// entry is below confirmed (their proofs are complete) and whose next attempt is due by
// now, with the webhook's ID, entry index, URL and the number of attempts made so far.
func (db *DB) DueWebhooks(ctx context.Context, confirmed int64, now time.Time, limit int,
	fn func(id, entry int64, url string, attempts int) error) error {
	rows, err := db.readers.QueryContext(ctx, `SELECT id, entry, url, attempts FROM webhooks
		WHERE state = 'pending' AND next_ms <= ? AND entry < ?
		ORDER BY next_ms, id LIMIT ?`, now.UnixMilli(), confirmed, limit)
	if err != nil {
		return dbErr(ctx, "due webhooks", err)
	}
	type due struct {
		id, entry int64
		url       string
		attempts  int
	}
	var list []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.id, &d.entry, &d.url, &d.attempts); err != nil {
			rows.Close()
			return dbErr(ctx, "due webhooks", err)
		}
		list = append(list, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return dbErr(ctx, "due webhooks", err)
	}
	// fn runs after the rows are closed: it may take long, and write.
	for _, d := range list {
		if err := fn(d.id, d.entry, d.url, d.attempts); err != nil {
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
// attempts and the last error of the webhook for entry and url; ok is false if there is none.
func (db *DB) WebhookState(ctx context.Context, entry int64, url string) (state string, attempts int, lastErr string, ok bool, err error) {
	rows, err := db.readers.QueryContext(ctx,
		`SELECT state, attempts, last_error FROM webhooks WHERE entry = ? AND url = ?`, entry, url)
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
