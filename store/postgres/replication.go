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
