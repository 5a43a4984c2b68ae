package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// StartStandby starts a hot standby of s: a base backup of s in a new directory,
// started on another free port and streaming from s. It returns once s shows the
// standby as streaming in pg_stat_replication, and with Sync as a synchronous
// standby: from then on every commit on s waits until this standby and every
// earlier synchronous one has flushed it. The standby accepts read-only queries
// until Promote; Stop it like any Server. ctx bounds the whole (StartTimeout if it
// has no deadline).
//
// The standby has s's settings, except synchronous_standby_names, which it does
// not inherit: a promoted standby waits for no one.
func (s *Server) StartStandby(ctx context.Context, mode Replication) (*Server, error) {
	ctx, cancel := withDefaultTimeout(ctx, StartTimeout)
	defer cancel()
	st, err := newServer(Options{BinDir: s.bin, Logger: s.logger})
	if err != nil {
		return nil, err
	}
	st.standby = true
	fail := func(err error) (*Server, error) {
		st.Stop()
		return nil, err
	}
	out, err := st.run(ctx, "pg_basebackup", "-D", st.DataDir(), "-h", "127.0.0.1", "-p", strconv.Itoa(s.port),
		"-U", User, "-X", "stream", "-c", "fast", "--no-sync")
	if err != nil {
		return fail(fmt.Errorf("pgtest: pg_basebackup from %s: %v\n%s", s.Addr(), err, out))
	}
	if err := st.configureStandby(s); err != nil {
		return fail(err)
	}
	if err := st.launchOnFreePort(ctx); err != nil {
		return fail(err)
	}
	want := "async"
	if mode == Sync {
		want = "sync"
		if err := s.setSyncStandby(ctx, st.name, true); err != nil {
			return fail(err)
		}
	}
	if err := s.waitReplication(ctx, st.name, want); err != nil {
		if mode == Sync {
			// Do not leave the primary waiting for a standby that is not coming.
			undo, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s.setSyncStandby(undo, st.name, false)
		}
		return fail(err)
	}
	return st, nil
}

// configureStandby makes the base backup in st a standby of primary.
func (st *Server) configureStandby(primary *Server) error {
	data := st.DataDir()
	if err := st.writeFile(filepath.Join(data, "standby.signal"), ""); err != nil {
		return err
	}
	auto := filepath.Join(data, "postgresql.auto.conf")
	old, err := os.ReadFile(auto)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("pgtest: %w", err)
	}
	var conf strings.Builder
	for line := range strings.Lines(string(old)) {
		key, _, _ := strings.Cut(strings.TrimSpace(line), "=")
		switch strings.TrimSpace(key) {
		case "synchronous_standby_names", "primary_conninfo":
			continue
		}
		conf.WriteString(line)
	}
	if conf.Len() > 0 && !strings.HasSuffix(conf.String(), "\n") {
		conf.WriteString("\n")
	}
	fmt.Fprintf(&conf, "primary_conninfo = 'host=127.0.0.1 port=%d user=%s application_name=%s'\n",
		primary.port, User, st.name)
	return st.writeFile(auto, conf.String())
}

// writeFile writes a file of the cluster, owned by the server's account.
func (s *Server) writeFile(path, text string) error {
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	if s.runAs != nil {
		if err := os.Chown(path, s.runAs.uid, s.runAs.gid); err != nil {
			return fmt.Errorf("pgtest: %w", err)
		}
	}
	return nil
}

// setSyncStandby adds standby name to the standbys every commit on s waits for, or
// removes it.
func (s *Server) setSyncStandby(ctx context.Context, name string, add bool) error {
	s.mu.Lock()
	s.syncs = slices.DeleteFunc(s.syncs, func(n string) bool { return n == name })
	if add {
		s.syncs = append(s.syncs, name)
	}
	names := make([]string, len(s.syncs))
	for i, n := range s.syncs {
		names[i] = pgx.Identifier{n}.Sanitize()
	}
	s.mu.Unlock()
	// Every listed standby is synchronous: a commit waits for all of them.
	list := ""
	if len(names) > 0 {
		list = fmt.Sprintf("FIRST %d (%s)", len(names), strings.Join(names, ", "))
	}
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return fmt.Errorf("pgtest: synchronous standby %s: %w", name, err)
	}
	defer conn.Close(context.Background())
	for _, stmt := range []string{
		"ALTER SYSTEM SET synchronous_standby_names = " + quoteLiteral(list),
		"ALTER SYSTEM SET synchronous_commit = on",
		"SELECT pg_reload_conf()",
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("pgtest: synchronous standby %s: %s: %w", name, stmt, err)
		}
	}
	return nil
}

// waitReplication waits until s's pg_stat_replication shows standby name
// streaming with sync_state want.
func (s *Server) waitReplication(ctx context.Context, name, want string) error {
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return fmt.Errorf("pgtest: wait for standby %s: %w", name, err)
	}
	defer conn.Close(context.Background())
	var state, syncState string
	for {
		err := conn.QueryRow(ctx, "SELECT state, sync_state FROM pg_stat_replication WHERE application_name = $1",
			name).Scan(&state, &syncState)
		if err == nil && state == "streaming" && syncState == want {
			return nil
		}
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("pgtest: wait for standby %s: %w", name, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pgtest: standby %s is not %s in the primary's pg_stat_replication (state %q, sync_state %q): %w",
				name, want, state, syncState, ctx.Err())
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// Promote turns a standby into a primary that accepts writes, and returns once it
// does. Its old primary should be gone (Kill) or it will go on alone. ctx bounds the
// promotion (StartTimeout if it has no deadline).
func (s *Server) Promote(ctx context.Context) error {
	ctx, cancel := withDefaultTimeout(ctx, StartTimeout)
	defer cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.standby {
		return fmt.Errorf("pgtest: Promote: %s is not a standby", s.name)
	}
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return fmt.Errorf("pgtest: promote %s: %w", s.name, err)
	}
	defer conn.Close(context.Background())
	var promoted bool
	if err := conn.QueryRow(ctx, "SELECT pg_promote(true, 60)").Scan(&promoted); err != nil {
		return fmt.Errorf("pgtest: promote %s: %w", s.name, err)
	}
	for {
		var inRecovery bool
		if err := conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery); err != nil {
			return fmt.Errorf("pgtest: promote %s: %w", s.name, err)
		}
		if !inRecovery {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pgtest: %s still in recovery after pg_promote: %w; log %s:\n%s",
				s.name, ctx.Err(), s.logPath, s.LogTail(2000))
		case <-time.After(25 * time.Millisecond):
		}
	}
	s.standby = false
	if s.logger != nil {
		s.logger.Info("postgres promoted", "name", s.name, "addr", s.Addr())
	}
	return nil
}
