package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/notary-dev/notary/webhook"
)

// maxWebhookError caps the stored text of a delivery's last error, in bytes.
const maxWebhookError = 500

// AddWebhook stores c, pending and due at now, and returns its ID, unless maxPending is
// positive and c's owner has that many pending webhooks already: then it stores nothing
// and added is false. The owner's count (webhook_owners, kept by a trigger: one row read
// however many it has) and the insert are one statement; statements running at once (in
// several processes on one database) may each see the owner below its cap.
func (db *DB) AddWebhook(ctx context.Context, c webhook.Callback, now time.Time, maxPending int) (id int64, added bool, err error) {
	if len(c.Entries) == 0 {
		return 0, false, errors.New("store/postgres: add webhook: no entries")
	}
	last := int64(-1)
	for _, e := range c.Entries {
		if e < 0 {
			return 0, false, fmt.Errorf("store/postgres: add webhook: negative entry %d", e)
		}
		last = max(last, e)
	}
	ms := now.UnixMilli()
	err = db.pool.QueryRow(ctx, `INSERT INTO webhooks (owner, url, entries, last_entry, batch, created_ms, next_ms)
		SELECT $1, $2, $3, $4, $5, $6, $6
		WHERE $7 <= 0 OR coalesce((SELECT pending FROM webhook_owners WHERE owner = $1), 0) < $7
		RETURNING id`, c.Owner, c.URL, c.Entries, last, c.Batch, ms, maxPending).Scan(&id)
	if notFound(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, dbErr(ctx, "add webhook", err)
	}
	return id, true, nil
}

// PendingWebhooks returns the number of pending webhooks of owner.
func (db *DB) PendingWebhooks(ctx context.Context, owner string) (n int64, err error) {
	err = db.pool.QueryRow(ctx,
		`SELECT coalesce((SELECT pending FROM webhook_owners WHERE owner = $1), 0)`, owner).Scan(&n)
	if err != nil {
		return 0, dbErr(ctx, "pending webhooks", err)
	}
	return n, nil
}

// dueWebhooks selects the pending webhooks whose entries are all below $2 and whose next
// attempt is due by $1: at most $3 of each owner and $4 in all, every owner's first
// before any owner's second, each owner's by due time.
//
// One process delivers them now. For several, this becomes a claim, so that each
// webhook goes to one of them: UPDATE webhooks SET next_ms = $1 + lease WHERE id IN
// (this query … FOR UPDATE SKIP LOCKED) RETURNING …, where the lease is longer than an
// attempt; a process that dies with webhooks claimed leaves them due again after it.
const dueWebhooks = `SELECT id, owner, url, entries, batch, attempts FROM (
	SELECT *, row_number() OVER (PARTITION BY owner ORDER BY next_ms, id) AS turn
	FROM webhooks WHERE state = 'pending' AND next_ms <= $1 AND last_entry < $2) AS due
WHERE turn <= $3 ORDER BY turn, next_ms, id LIMIT $4`

// DueWebhooks calls fn for pending webhooks whose entries are all below confirmed (their
// proofs are complete) and whose next attempt is due by now: at most perOwner of each
// owner and at most limit in all, every owner's first before any owner's second, each
// owner's in order of due time. fn runs after the query has ended: it may take long, and
// write.
func (db *DB) DueWebhooks(ctx context.Context, confirmed int64, now time.Time, perOwner, limit int,
	fn func(webhook.Due) error) error {
	rows, err := db.pool.Query(ctx, dueWebhooks, now.UnixMilli(), confirmed, perOwner, limit)
	if err != nil {
		return dbErr(ctx, "due webhooks", err)
	}
	var list []webhook.Due
	for rows.Next() {
		var d webhook.Due
		if err := rows.Scan(&d.ID, &d.Owner, &d.URL, &d.Entries, &d.Batch, &d.Attempts); err != nil {
			rows.Close()
			return dbErr(ctx, "due webhooks", err)
		}
		list = append(list, d)
	}
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
// attempts and the last error of webhook id; ok is false if there is none.
func (db *DB) WebhookState(ctx context.Context, id int64) (state string, attempts int, lastErr string, ok bool, err error) {
	err = db.pool.QueryRow(ctx,
		`SELECT state, attempts, last_error FROM webhooks WHERE id = $1`, id).
		Scan(&state, &attempts, &lastErr)
	if notFound(err) {
		return "", 0, "", false, nil
	}
	if err != nil {
		return "", 0, "", false, dbErr(ctx, "webhook state", err)
	}
	return state, attempts, lastErr, true, nil
}
