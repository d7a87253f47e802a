// Command docstore serves the MongoDB wire protocol on a local address by embedding FerretDB v1
// with its SQLite backend. It is the development and CI stand-in for MongoDB: the real wire
// protocol and a real store, without a MongoDB binary (none can be installed on these machines).
//
// Limits worth knowing (FerretDB v1.24): no multi-document transactions, and update/findAndModify
// read-modify-write without a lock. Timebank's correctness rests on inserts under unique keys,
// which are atomic here as on MongoDB.
//
// One fix of ours: FerretDB pushes a find by _id down to SQLite as
// "WHERE _ferretdb_sjson->'$._id' = ?", but indexes _id as (_ferretdb_sjson->"_id"); SQLite only
// uses an expression index for the very same expression, so every _id lookup was a full table
// scan (a miss read the whole collection). indexIDPaths adds an index on the expression the
// queries use, for every collection, shortly after FerretDB creates it.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	_ "modernc.org/sqlite" // the SQLite driver FerretDB itself uses
)

// idIndexInterval is how soon after a collection is created its _id lookups become indexed.
const idIndexInterval = 500 * time.Millisecond

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to serve the MongoDB wire protocol on")
	dataDir := flag.String("data", "var/docstore", "directory for the SQLite database files")
	logLevel := flag.String("log-level", "warn", "log level: debug, info, warn, error")
	flag.Parse()

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "docstore: bad -log-level: %v\n", err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	dir, err := filepath.Abs(*dataDir)
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "docstore: data directory: %v\n", err)
		os.Exit(1)
	}

	removeOrphanedCompanions(dir, logger)
	quarantineEmptyDatabases(context.Background(), dir, logger)

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "docstore: %v\n", err)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	go indexIDPaths(ctx, dir, logger)

	logger.Warn("docstore serving", "listen", *listen, "data", dir)
	if err := f.Run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "docstore: %v\n", err)
		os.Exit(1)
	}
}

// removeOrphanedCompanions deletes -wal and -shm files whose database file is gone (left by
// earlier versions of this program, see indexIDPaths). Before FerretDB starts nothing has them
// open, and SQLite would otherwise take a stale -wal for the journal of a new database of the
// same name.
func removeOrphanedCompanions(dir string, logger *slog.Logger) {
	for _, suffix := range []string{"-wal", "-shm"} {
		companions, _ := filepath.Glob(filepath.Join(dir, "*.sqlite"+suffix))
		for _, companion := range companions {
			if _, err := os.Stat(strings.TrimSuffix(companion, suffix)); !os.IsNotExist(err) {
				continue
			}
			if err := os.Remove(companion); err != nil {
				logger.Warn("docstore: orphaned file", "file", companion, "error", err)
			}
		}
	}
}

// quarantineEmptyDatabases moves aside database files that hold no table at all: FerretDB
// creates the file, then its metadata table, and a process killed in between leaves a file that
// FerretDB refuses at every later start ("no such table: _ferretdb_collections"), so the store
// would never come up again. Such a file holds nothing to lose; it goes to quarantine/ with a
// warning. A file with tables but no metadata is left alone: that needs a person.
func quarantineEmptyDatabases(ctx context.Context, dir string, logger *slog.Logger) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.sqlite"))
	for _, file := range files {
		tables, err := countTables(ctx, file)
		if err != nil || tables > 0 {
			continue
		}
		aside := filepath.Join(dir, "quarantine")
		stamp := "." + time.Now().UTC().Format("20060102T150405")
		if err = os.MkdirAll(aside, 0o755); err == nil {
			err = os.Rename(file, filepath.Join(aside, filepath.Base(file)+stamp))
		}
		// Its -wal and -shm go with it (reading it may have made them): left behind, SQLite
		// would take them for the journal of a new database of the same name.
		for _, suffix := range []string{"-wal", "-shm"} {
			if _, statErr := os.Stat(file + suffix); statErr == nil {
				_ = os.Rename(file+suffix, filepath.Join(aside, filepath.Base(file)+stamp+suffix))
			}
		}
		logger.Warn("docstore: a database file without any table (creation interrupted) moved "+
			"aside", "file", file, "error", err)
	}
}

// countTables counts the tables of a database file, opened read-only (a -wal is read too).
func countTables(ctx context.Context, file string) (int, error) {
	db, err := sql.Open("sqlite", "file:"+file+"?mode=ro")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int
	err = db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'table'").Scan(&n)
	return n, err
}

// indexIDPaths keeps an index on _ferretdb_sjson->'$._id' for every collection of every database.
//
// Each pass opens a database, indexes what is missing and closes it again. A connection kept
// open across passes (as this once did) outlives a dropped database: FerretDB closes its own
// connections and removes the file, but ours kept the deleted file and its -wal and -shm open
// for the life of the process (disk never freed, handles growing with every database ever
// created, the -wal and -shm left behind).
func indexIDPaths(ctx context.Context, dir string, logger *slog.Logger) {
	ticker := time.NewTicker(idIndexInterval)
	defer ticker.Stop()

	for {
		files, _ := filepath.Glob(filepath.Join(dir, "*.sqlite"))
		for _, file := range files {
			if err := indexFile(ctx, file, logger); err != nil {
				if _, statErr := os.Stat(file); os.IsNotExist(statErr) {
					continue // dropped since the glob: nothing to index
				}
				logger.Warn("docstore: _id index", "file", file, "error", err)
			}
		}

		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// indexFile indexes one database file through a connection that is closed before it returns.
func indexFile(ctx context.Context, file string, logger *slog.Logger) error {
	// mode=rw: a database dropped since the glob must not be created again as an empty file.
	db, err := sql.Open("sqlite", "file:"+file+"?mode=rw&_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	db.SetMaxOpenConns(1)
	if err = db.PingContext(ctx); err != nil { // opens the file
		db.Close()
		return err
	}
	opened, _ := os.Stat(file)
	err = indexTables(ctx, db)
	db.Close()
	releaseIfDropped(file, opened, logger)
	return err
}

// releaseIfDropped removes the -wal and -shm of a database dropped while this pass had it open.
// Ours was then the last connection, and SQLite neither checkpoints nor deletes the -wal and
// -shm of a database file that was unlinked under it. A database created anew under the same
// name in that instant keeps its files.
func releaseIfDropped(file string, opened os.FileInfo, logger *slog.Logger) {
	now, err := os.Stat(file)
	if err == nil {
		if opened != nil && !os.SameFile(opened, now) {
			logger.Warn("docstore: database dropped and created again while indexed", "file", file)
		}
		return
	}
	if !os.IsNotExist(err) {
		return
	}
	for _, companion := range []string{file + "-wal", file + "-shm"} {
		if err := os.Remove(companion); err != nil && !os.IsNotExist(err) {
			logger.Warn("docstore: orphaned file", "file", companion, "error", err)
		}
	}
}

// indexTables adds the index to the collections that lack it; a pass with nothing to do reads
// one small query's worth.
func indexTables(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, `SELECT table_name FROM _ferretdb_collections AS c
		WHERE NOT EXISTS (SELECT 1 FROM sqlite_master
			WHERE type = 'index' AND name = c.table_name || '_timebank_id_path')`)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return nil // a database FerretDB has not created a collection in yet
		}
		return err
	}
	var tables []string
	for rows.Next() {
		var table string
		if err := rows.Scan(&table); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, table)
	}
	rows.Close()

	for _, table := range tables {
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (_ferretdb_sjson->'$._id')`,
			table+"_timebank_id_path", table)
		if _, err := db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}
