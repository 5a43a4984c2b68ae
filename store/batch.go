package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// maxBatchRows is the most rows one INSERT statement carries. Multi-row statements append
// a batch of 1000 entries about four times as fast as one statement a row; past a few
// dozen rows a statement, the size makes no measurable difference.
const maxBatchRows = 256

// batchInsert inserts rows into one table with multi-row INSERT statements, prepared once
// on the writer: stmts[k] inserts 1<<k rows, so any number of rows takes at most
// n/maxBatchRows + log2(maxBatchRows) + 1 statement executions.
type batchInsert struct {
	cols  int
	stmts []*sql.Stmt
}

func prepareBatchInsert(ctx context.Context, db *sql.DB, table string, cols []string) (*batchInsert, error) {
	b := &batchInsert{cols: len(cols)}
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	head := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES "
	for n := 1; n <= maxBatchRows; n *= 2 {
		query := head + strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
		s, err := db.PrepareContext(ctx, query)
		if err != nil {
			return nil, fmt.Errorf("store: prepare insert of %d rows into %s: %v", n, table, err)
		}
		b.stmts = append(b.stmts, s)
	}
	return b, nil
}

// exec inserts the rows whose values are args, cols values a row, row after row.
func (b *batchInsert) exec(ctx context.Context, tx *sql.Tx, args []any) error {
	rows := len(args) / b.cols
	for rows > 0 {
		k := len(b.stmts) - 1
		for 1<<k > rows {
			k--
		}
		n := 1 << k
		if _, err := tx.StmtContext(ctx, b.stmts[k]).ExecContext(ctx, args[:n*b.cols]...); err != nil {
			return err
		}
		args = args[n*b.cols:]
		rows -= n
	}
	return nil
}
