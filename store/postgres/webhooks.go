package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// maxWebhookError caps the stored text of a delivery's last error, in bytes.
const maxWebhookError = 500

// AddWebhooks registers a callback to url for each entry index given, due at once: it is
// delivered once the entry's proof is complete. An (entry, url) pair registered before is
// left as it is. Everything is in one statement, durable before it returns.
func (db *DB) AddWebhooks(ctx context.Context, url string, entries []int64, now time.Time) error {
	if len(entries) == 0 {
		return nil
	}
	for _, e := range entries {
		if e < 0 {
			return fmt.Errorf("store/postgres: add webhooks: negative entry %d", e)
		}
	}
	ms := now.UnixMilli()
	_, err := db.pool.Exec(ctx, `INSERT INTO webhooks (entry, url, created_ms, next_ms)
		SELECT e, $1, $2, $2 FROM unnest($3::bigint[]) WITH ORDINALITY AS u(e, ord) ORDER BY ord
		ON CONFLICT (entry, url) DO NOTHING`, url, ms, entries)
	if err != nil {
		return dbErr(ctx, "add webhooks", err)
	}
	return nil
}

// dueWebhooks selects the pending webhooks $3 at most, whose entry is below $2 and whose
// next attempt is due by $1, by due time.
//
// One process delivers them now. For several, this becomes a claim, so that each
// webhook goes to one of them: UPDATE webhooks SET next_ms = $1 + lease WHERE id IN
// (this query … FOR UPDATE SKIP LOCKED) RETURNING …, where the lease is longer than an
// attempt; a process that dies with webhooks claimed leaves them due again after it.
const dueWebhooks = `SELECT id, entry, url, attempts FROM webhooks
WHERE state = 'pending' AND next_ms <= $1 AND entry < $2
ORDER BY next_ms, id LIMIT $3`

// DueWebhooks calls fn, in order of due time, for at most limit pending webhooks whose
// entry is below confirmed (their proofs are complete) and whose next attempt is due by
// now, with the webhook's ID, entry index, URL and the number of attempts made so far.
// fn runs after the query has ended: it may take long, and write.
func (db *DB) DueWebhooks(ctx context.Context, confirmed int64, now time.Time, limit int,
	fn func(id, entry int64, url string, attempts int) error) error {
	type due struct {
		id, entry int64
		url       string
		attempts  int
	}
	rows, err := db.pool.Query(ctx, dueWebhooks, now.UnixMilli(), confirmed, limit)
	if err != nil {
		return dbErr(ctx, "due webhooks", err)
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
	if err := rows.Err(); err != nil {
		return dbErr(ctx, "due webhooks", err)
	}
	for _, d := range list {
		if err := fn(d.id, d.entry, d.url, d.attempts); err != nil {
			return err
		}
	}
	return nil
}

// WebhookDelivered records that webhook id was delivered.
func (db *DB) WebhookDelivered(ctx context.Context, id int64, now time.Time) error {
	_, err := db.pool.Exec(ctx, `UPDATE webhooks
		SET state = 'delivered', attempts = attempts + 1, done_ms = $1, last_error = ''
		WHERE id = $2 AND state = 'pending'`, now.UnixMilli(), id)
	if err != nil {
		return dbErr(ctx, fmt.Sprintf("webhook %d delivered", id), err)
	}
	return nil
}

// WebhookFailed records a failed attempt to deliver webhook id, and why: the next attempt
// is due at next, unless giveUp is set, which marks it failed for good.
func (db *DB) WebhookFailed(ctx context.Context, id int64, reason string, next time.Time, giveUp bool) error {
	reason = storableText(reason, maxWebhookError)
	state, done := "pending", (*int64)(nil)
	if giveUp {
		ms := next.UnixMilli()
		state, done = "failed", &ms
	}
	_, err := db.pool.Exec(ctx, `UPDATE webhooks
		SET state = $1, attempts = attempts + 1, next_ms = $2, done_ms = $3, last_error = $4
		WHERE id = $5 AND state = 'pending'`, state, next.UnixMilli(), done, reason, id)
	if err != nil {
		return dbErr(ctx, fmt.Sprintf("webhook %d failed", id), err)
	}
	return nil
}

// storableText cuts s to at most n bytes and makes it text PostgreSQL takes: valid UTF-8
// without NUL (a reason may quote a response byte for byte).
func storableText(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// WebhookCounts returns the number of webhooks pending (waiting for their entry's proof or
// for their next attempt) and failed for good.
func (db *DB) WebhookCounts(ctx context.Context) (pending, failed int64, err error) {
	err = db.pool.QueryRow(ctx, `SELECT
		count(*) FILTER (WHERE state = 'pending'),
		count(*) FILTER (WHERE state = 'failed')
		FROM webhooks`).Scan(&pending, &failed)
	if err != nil {
		return 0, 0, dbErr(ctx, "webhook counts", err)
	}
	return pending, failed, nil
}

// WebhookState returns the state ("pending", "delivered" or "failed"), the number of
// attempts and the last error of the webhook for entry and url; ok is false if there is none.
func (db *DB) WebhookState(ctx context.Context, entry int64, url string) (state string, attempts int, lastErr string, ok bool, err error) {
	err = db.pool.QueryRow(ctx,
		`SELECT state, attempts, last_error FROM webhooks WHERE entry = $1 AND url = $2`, entry, url).
		Scan(&state, &attempts, &lastErr)
	if notFound(err) {
		return "", 0, "", false, nil
	}
	if err != nil {
		return "", 0, "", false, dbErr(ctx, "webhook state", err)
	}
	return state, attempts, lastErr, true, nil
}
