package main

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// A database dropped while the indexer had it open: SQLite leaves the -wal and -shm of an
// unlinked database file behind when the last connection closes; releaseIfDropped removes them.
func TestCompanionsOfADatabaseDroppedMidPassAreRemoved(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "dropped.sqlite")
	ferret, err := sql.Open("sqlite", "file:"+file+"?_pragma=journal_mode(wal)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err = ferret.ExecContext(ctx, "CREATE TABLE t (x)"); err != nil {
		t.Fatal(err)
	}

	ours, err := sql.Open("sqlite", "file:"+file+"?mode=rw")
	if err != nil {
		t.Fatal(err)
	}
	if err = ours.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
	opened, _ := os.Stat(file)
	var n int
	if err = ours.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
		t.Fatal(err)
	}

	ferret.Close() // FerretDB's drop: close its connections, remove the file
	if err = os.Remove(file); err != nil {
		t.Fatal(err)
	}
	ours.Close()
	if _, err = os.Stat(file + "-wal"); err != nil {
		t.Fatalf("expected SQLite to leave the -wal of an unlinked database: %v", err)
	}

	releaseIfDropped(file, opened, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, companion := range []string{file + "-wal", file + "-shm"} {
		if _, err := os.Stat(companion); !os.IsNotExist(err) {
			t.Errorf("%s left behind (%v)", companion, err)
		}
	}
}

// A database file whose creation was interrupted (no table at all) would stop FerretDB from
// starting ever again; it is moved aside, and a database with tables is left where it is.
func TestAnEmptyDatabaseFileIsMovedAsideAndOthersStay(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	empty := filepath.Join(dir, "interrupted.sqlite")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	kept := filepath.Join(dir, "kept.sqlite")
	db, err := sql.Open("sqlite", "file:"+kept)
	if err != nil {
		t.Fatal(err)
	}
	if _, err = db.ExecContext(ctx, "CREATE TABLE t (x)"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	quarantineEmptyDatabases(ctx, dir, slog.New(slog.NewTextHandler(io.Discard, nil)))

	if _, err = os.Stat(empty); !os.IsNotExist(err) {
		t.Fatalf("the empty database file is still in place: %v", err)
	}
	if moved, _ := filepath.Glob(filepath.Join(dir, "quarantine", "interrupted.sqlite.*")); len(moved) != 1 {
		t.Fatalf("expected the empty file in quarantine/, found %v", moved)
	}
	if _, err = os.Stat(kept); err != nil {
		t.Fatalf("a database with tables was moved: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "interrupted.sqlite*")); len(left) != 0 {
		t.Fatalf("files of the empty database left in place: %v", left)
	}
}
