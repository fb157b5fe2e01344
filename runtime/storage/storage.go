// Package storage opens the one Badger database the runtime keeps in
// data_dir, and names the key spaces inside it. The journal, the KV store,
// the outbox and the rejected-callback store each own one prefix; nothing
// else writes to the database.
//
// Lifecycle: Open once at start-up, share the *badger.DB, Close once at
// shutdown after every user of it has stopped.
package storage

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/go-hclog"
)

// Key prefixes, one per owner.
const (
	PrefixJournal  = "j/" // runtime/journal: events, dedupe index, progress
	PrefixRejected = "r/" // runtime/journal: callbacks refused as malformed
	PrefixKV       = "k/" // kv/badger: plugin namespaces
	PrefixOutbox   = "o/" // runtime/outbox
	PrefixMeta     = "m/" // schema version and the like
)

// Options tune the database. The zero value is the production default.
type Options struct {
	// InMemory keeps everything in memory (tests, replay).
	InMemory bool
	// Logger receives Badger's own messages at warn and above.
	Logger hclog.Logger
}

// ErrLocked is Open's error when another process (a running switchboard)
// holds the data_dir. Commands that work on a stopped store fall back to
// the running process's admin API on it.
var ErrLocked = errors.New("the store is in use by another process")

// Open opens (creating if needed) the database in dir. Writes are not
// synced one by one: the journal group-commits and calls DB.Sync before it
// acknowledges, which is what makes an acknowledged callback durable.
func Open(dir string, o Options) (*badger.DB, error) {
	var opts badger.Options
	if o.InMemory {
		opts = badger.DefaultOptions("").WithInMemory(true)
	} else {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create data_dir %s: %w", dir, err)
		}
		opts = badger.DefaultOptions(dir)
	}
	opts = opts.
		WithSyncWrites(false).
		WithNumVersionsToKeep(1).
		WithMemTableSize(32 << 20).
		WithValueLogFileSize(256 << 20).
		WithBlockCacheSize(32 << 20).
		WithIndexCacheSize(16 << 20).
		WithNumCompactors(2).
		WithCompactL0OnClose(false).
		WithLogger(badgerLogger{logger(o.Logger)})
	db, err := badger.Open(opts)
	if err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) || strings.Contains(err.Error(), "Another process is using this Badger database") {
			return nil, fmt.Errorf("open badger in %s: %w", dir, ErrLocked)
		}
		return nil, fmt.Errorf("open badger in %s: %w", dir, err)
	}
	return db, nil
}

// RunGC runs Badger's value-log GC every interval until stop is closed.
func RunGC(db *badger.DB, interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			for db.RunValueLogGC(0.5) == nil {
			}
		}
	}
}

func logger(l hclog.Logger) hclog.Logger {
	if l == nil {
		return hclog.NewNullLogger()
	}
	return l.Named("badger")
}

type badgerLogger struct{ l hclog.Logger }

func (b badgerLogger) Errorf(f string, a ...any)   { b.l.Error(fmt.Sprintf(f, a...)) }
func (b badgerLogger) Warningf(f string, a ...any) { b.l.Warn(fmt.Sprintf(f, a...)) }
func (b badgerLogger) Infof(string, ...any)        {}
func (b badgerLogger) Debugf(string, ...any)       {}
