package postgres

import (
	"context"
	"fmt"
	"strings"
)

// ReplicationRisks returns what, in the server's replication settings, could let a
// failover lose commits that the service acknowledged: a receipt promises that its entry
// is in the log, so only a standby that confirmed every commit before it was acknowledged
// (a synchronous one) may be promoted. Nothing returned means no risk seen from here.
func (db *DB) ReplicationRisks(ctx context.Context) ([]string, error) {
	var names, commit string
	err := db.pool.QueryRow(ctx, `SELECT current_setting('synchronous_standby_names'), current_setting('synchronous_commit')`).
		Scan(&names, &commit)
	if err != nil {
		return nil, dbErr(ctx, "replication settings", err)
	}
	rows, err := db.pool.Query(ctx, `SELECT coalesce(application_name, ''), coalesce(sync_state, '') FROM pg_stat_replication`)
	if err != nil {
		return nil, dbErr(ctx, "replication state", err)
	}
	defer rows.Close()
	var risks []string
	for rows.Next() {
		var name, state string
		if err := rows.Scan(&name, &state); err != nil {
			return nil, dbErr(ctx, "replication state", err)
		}
		if state != "sync" && state != "quorum" {
			risks = append(risks, fmt.Sprintf("standby %q replicates asynchronously (%s): promoting it can lose acknowledged entries, "+
				"so that the log would contradict receipts it signed; name it in synchronous_standby_names", name, state))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(ctx, "replication state", err)
	}
	if strings.TrimSpace(names) != "" && (commit == "off" || commit == "local") {
		risks = append(risks, fmt.Sprintf("synchronous_commit is %q on the server: sessions that keep it lose the standby's confirmation "+
			"(this service sets it to on for its own)", commit))
	}
	return risks, nil
}

// Standby is a standby server replicating the database, as the primary sees it.
type Standby struct {
	Name string // its application_name
	// Sync is its sync_state: "sync" or "quorum" when commits wait for it, "async" or
	// "potential" when they do not.
	Sync string
	// LagBytes is how much WAL the primary has written that the standby has not yet
	// replayed; LagSeconds how long its latest replay took to follow the commit, or -1
	// when the server has no measure (a standby that has caught up and been idle since).
	LagBytes   int64
	LagSeconds float64
}

// Standbys returns the standbys replicating the database, from the primary's
// pg_stat_replication. A standby promoted to take the primary's place has what it replayed;
// a synchronous one has every commit the service acknowledged.
func (db *DB) Standbys(ctx context.Context) ([]Standby, error) {
	rows, err := db.pool.Query(ctx, `SELECT coalesce(application_name, ''), coalesce(sync_state, ''),
	coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), 0)::bigint,
	coalesce(extract(epoch FROM replay_lag), -1)::float8
FROM pg_stat_replication ORDER BY application_name`)
	if err != nil {
		return nil, dbErr(ctx, "standbys", err)
	}
	defer rows.Close()
	var out []Standby
	for rows.Next() {
		var s Standby
		if err := rows.Scan(&s.Name, &s.Sync, &s.LagBytes, &s.LagSeconds); err != nil {
			return nil, dbErr(ctx, "standbys", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(ctx, "standbys", err)
	}
	return out, nil
}
