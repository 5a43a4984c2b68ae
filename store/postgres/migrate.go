package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/notary-dev/notary/internal/migrations"
)

// migrationFS holds the schema migrations, migrations/NNNN_name.sql, numbered from 1
// without gaps. Migration n brings the database from version n-1 to version n. A
// migration, once released, is never edited: a change to the schema is a new file.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// ErrSchemaTooNew is returned (wrapped) by Open for a database written by a newer
// version of the program, whose schema this one does not know.
var ErrSchemaTooNew = errors.New("store/postgres: database schema is newer than this program")

// versionTable holds the schema version, in one row. Its name marks the database as the
// notary's: a database without it must be empty for Open to take it.
const versionTable = "notary_schema"

// Advisory lock keys, in the space of pg_advisory_xact_lock(bigint): "ntry" and a number.
const (
	lockMigrate    int64 = 0x6e747279_0001
	lockCheckpoint int64 = 0x6e747279_0002
	lockWriter     int64 = 0x6e747279_0003 // held by the writer for as long as it writes (Campaign)
)

// migration is one numbered schema change.
type migration = migrations.Migration

// loadMigrations reads migrations/*.sql from fsys, in order, and checks their numbering.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	ms, err := migrations.Load(fsys)
	if err != nil {
		return nil, fmt.Errorf("store/postgres: %w", err)
	}
	return ms, nil
}

// migrate brings the schema of the database up to the newest version in migrations,
// each migration in its own transaction together with the new version number. Processes
// that open the database at once take turns through an advisory lock: each migration is
// applied once.
func migrate(ctx context.Context, pool *pgxpool.Pool, migrations fs.FS) error {
	ms, err := loadMigrations(migrations)
	if err != nil {
		return err
	}
	newest := ms[len(ms)-1].Version
	for _, m := range ms {
		if err := apply(ctx, pool, m, newest); err != nil {
			return err
		}
	}
	return nil
}

// apply runs migration m in a transaction, unless the database already has it.
func apply(ctx context.Context, pool *pgxpool.Pool, m migration, newest int) error {
	fail := func(err error) error { return dbErr(ctx, "migration "+m.Name, err) }
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))

	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockMigrate); err != nil {
		return fail(err)
	}
	version, err := schemaVersion(ctx, tx, newest)
	if err != nil {
		return err
	}
	if version >= m.Version {
		return nil
	}
	if version != m.Version-1 {
		return fmt.Errorf("store/postgres: migration %s: database is at version %d, want %d", m.Name, version, m.Version-1)
	}
	// Without arguments, Exec runs the file as a simple query: several statements.
	if _, err := tx.Exec(ctx, m.SQL); err != nil {
		return fail(err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+versionTable+` (
		singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
		version   integer NOT NULL CHECK (version > 0))`); err != nil {
		return fail(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO `+versionTable+` (version) VALUES ($1)
		ON CONFLICT (singleton) DO UPDATE SET version = excluded.version`, m.Version); err != nil {
		return fail(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fail(err)
	}
	return nil
}

// schemaVersion returns the schema version of the database, after checking that it is a
// notary database (or an empty one) no newer than the newest version the program knows.
func schemaVersion(ctx context.Context, tx pgx.Tx, newest int) (int, error) {
	var (
		exists    bool
		schema    string
		relations int
	)
	err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL, coalesce(current_schema(), ''),
		(SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S'))`,
		versionTable).Scan(&exists, &schema, &relations)
	if err != nil {
		return 0, dbErr(ctx, "read schema version", err)
	}
	if !exists {
		if relations > 0 {
			return 0, fmt.Errorf("store/postgres: not a notary database: schema %q has %d tables, views or sequences but no table %s",
				schema, relations, versionTable)
		}
		return 0, nil
	}
	var version int
	if err := tx.QueryRow(ctx, `SELECT version FROM `+versionTable).Scan(&version); err != nil {
		return 0, dbErr(ctx, "read schema version", err)
	}
	if version > newest {
		return 0, fmt.Errorf("%w: it has version %d, this program knows versions up to %d; upgrade the program",
			ErrSchemaTooNew, version, newest)
	}
	return version, nil
}
