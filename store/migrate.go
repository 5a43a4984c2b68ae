package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/notary-dev/notary/internal/migrations"
)

// migrationFS holds the schema migrations, migrations/NNNN_name.sql, numbered from 1
// without gaps. Migration n brings the database from version n-1 to version n. A
// migration, once released, is never edited: a change to the schema is a new file.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// applicationID marks a SQLite file as a notary database (PRAGMA application_id): "ntry".
const applicationID = 0x6e747279

// ErrSchemaTooNew is returned (wrapped) by Open for a database written by a newer
// version of the program, whose schema this one does not know.
var ErrSchemaTooNew = errors.New("store: database schema is newer than this program")

// migration is one numbered schema change.
type migration = migrations.Migration

// loadMigrations reads migrations/*.sql from fsys, in order, and checks their numbering.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	ms, err := migrations.Load(fsys)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return ms, nil
}

// migrate brings the schema of the database up to the newest version in migrations,
// each migration in its own transaction together with the new version number
// (PRAGMA user_version).
func migrate(ctx context.Context, db *sql.DB, migrations fs.FS) error {
	ms, err := loadMigrations(migrations)
	if err != nil {
		return err
	}
	newest := ms[len(ms)-1].Version

	version, err := checkVersion(ctx, db, newest)
	if err != nil {
		return err
	}
	for _, m := range ms[version:] {
		if err := apply(ctx, db, m); err != nil {
			return err
		}
	}
	return nil
}

// checkVersion returns the schema version of the database, after checking that it is a
// notary database (or an empty one) no newer than the newest version the program knows.
func checkVersion(ctx context.Context, db *sql.DB, newest int) (int, error) {
	var version, appID, objects int
	if err := db.QueryRowContext(ctx, `SELECT
		(SELECT user_version FROM pragma_user_version),
		(SELECT application_id FROM pragma_application_id),
		(SELECT count(*) FROM sqlite_schema)`).Scan(&version, &appID, &objects); err != nil {
		return 0, fmt.Errorf("store: read schema version: %v", err)
	}
	switch {
	case appID == 0 && version == 0 && objects == 0:
		// A new, empty database.
	case appID != applicationID:
		return 0, fmt.Errorf("store: not a notary database (application_id %#x, user_version %d)", appID, version)
	case version > newest:
		return 0, fmt.Errorf("%w: it has version %d, this program knows versions up to %d; upgrade the program",
			ErrSchemaTooNew, version, newest)
	}
	return version, nil
}

// apply runs one migration in a transaction, unless another process got there first.
func apply(ctx context.Context, db *sql.DB, m migration) error {
	tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: holds the write lock from here
	if err != nil {
		return fmt.Errorf("store: migration %s: %v", m.Name, err)
	}
	defer tx.Rollback()

	var version int
	if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return fmt.Errorf("store: migration %s: %v", m.Name, err)
	}
	if version >= m.Version {
		return nil
	}
	if version != m.Version-1 {
		return fmt.Errorf("store: migration %s: database is at version %d, want %d", m.Name, version, m.Version-1)
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return fmt.Errorf("store: migration %s: %v", m.Name, err)
	}
	// Pragmas take no parameters; both values are integers formatted here.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.Version)); err != nil {
		return fmt.Errorf("store: migration %s: %v", m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d", applicationID)); err != nil {
		return fmt.Errorf("store: migration %s: %v", m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: migration %s: commit: %v", m.Name, err)
	}
	return nil
}
