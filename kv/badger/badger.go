// Package badgerkv implements the plugin key-value store (kv.Store,
// kv.Bucket; SPEC §9) on the runtime's shared Badger database.
//
// Keys live under storage.PrefixKV + namespace + "/" + key. A namespace is
// escaped so it never contains "/", which makes the first "/" the end of
// the namespace: no key of one bucket, however it looks ("a/../b"), can
// reach into another. Values are JSON documents, stored as given. TTLs are
// Badger's own entry TTLs, rounded up to whole seconds (Badger's
// granularity), so a key never expires before its TTL.
//
// Writes do not wait for Badger. A Set, Delete or Incr takes effect at
// once in an in-process cache of recently used keys, and a background
// writer applies the writes to Badger in the order they were made, many
// per transaction: a plugin's handler never stalls on the database while
// the journal and the outbox are syncing it. Reads see every write made
// before them (the cache holds a key until its write is in Badger). Flush
// waits until the writes made so far are in Badger; the runtime calls it
// before it records events as handled, so a crash can lose only writes of
// events that will be delivered again. Like every unsynced Badger write,
// a committed write survives a crash of the process and is on disk after
// the next sync of the database.
//
// Lifecycle: New over an open database; Close (which flushes) before the
// database is closed. A Store must be the only one over its database in
// the process: its cache assumes every write of a KV key goes through it.
// Threading: everything is safe for concurrent use; Incr is atomic
// (in-process key locks).
package badgerkv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/switchboard-dev/switchboard/kv"
	"github.com/switchboard-dev/switchboard/runtime/storage"
)

// Errors of this implementation, beside the kv package's.
var (
	// ErrInvalidNamespace is returned by every method of a Bucket whose
	// namespace is empty.
	ErrInvalidNamespace = errors.New("kv: invalid namespace")
	// ErrInvalidTTL is returned by Set for a negative TTL.
	ErrInvalidTTL = errors.New("kv: invalid ttl")
	// ErrClosed is returned by writes after Close.
	ErrClosed = errors.New("kv: store closed")
)

// DefaultListLimit is List's page size when the caller gives none.
const DefaultListLimit = 100

// Bounds of the cache of each of the Store's stripes: keys whose writes
// are not in Badger yet are kept whatever these say.
const (
	stripeKeys       = 64
	stripeBytes      = 64 << 10
	maxCachedValue   = 4 << 10
	numStripes       = 256
	evictionAttempts = 8
)

// Store is the Badger-backed kv.Store.
type Store struct {
	db      *badger.DB
	seed    maphash.Seed
	w       *writer
	stripes [numStripes]stripe
}

// stripe is the lock and the cache of the keys that hash to it. Every
// read and write of a key holds its stripe's lock, so a key's writes are
// queued in the order they were made and its cached value is its latest.
type stripe struct {
	mu    sync.Mutex
	cache map[string]cached
	bytes int // of the cached values
}

// cached is a key's value as this process last read or wrote it.
type cached struct {
	val       []byte // nil when !present
	present   bool
	expiresAt uint64 // Badger's expiry, unix seconds; 0 = never
	seq       uint64 // the writer's sequence of the write that made it; 0 = read from Badger
}

// live reports whether the value exists at now (unix seconds), with
// Badger's rule: a key expires at the second of its expiry.
func (c cached) live(now uint64) bool {
	return c.present && (c.expiresAt == 0 || c.expiresAt > now)
}

// Bucket is one namespace of a Store.
type Bucket struct {
	s      *Store
	ns     string
	prefix []byte // storage.PrefixKV + escaped namespace + "/"
	err    error  // set for an unusable namespace
}

var (
	_ kv.Store  = (*Store)(nil)
	_ kv.Bucket = (*Bucket)(nil)
)

// New returns a Store over db.
func New(db *badger.DB) *Store {
	s := &Store{db: db, seed: maphash.MakeSeed(), w: newWriter(db)}
	for i := range s.stripes {
		s.stripes[i].cache = map[string]cached{}
	}
	return s
}

// Flush waits until every write made before the call is in Badger, or
// returns the error that stopped the writer.
func (s *Store) Flush() error { return s.w.flush() }

// Close flushes and refuses later writes; reads keep working until the
// database is closed.
func (s *Store) Close() error { return s.w.close() }

// stripe locks and returns the stripe of key k.
func (s *Store) lock(k []byte) *stripe {
	st := &s.stripes[maphash.Bytes(s.seed, k)%numStripes]
	st.mu.Lock()
	return st
}

// load returns the current state of key k; the caller holds its stripe.
// A key not in the cache is read from Badger and cached.
func (s *Store) load(st *stripe, k []byte) (cached, error) {
	if c, ok := st.cache[string(k)]; ok {
		return c, nil
	}
	var c cached
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(k)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		c.present, c.expiresAt = true, item.ExpiresAt()
		c.val, err = item.ValueCopy(nil)
		return err
	})
	if err != nil {
		return cached{}, err
	}
	if len(c.val) <= maxCachedValue {
		s.remember(st, k, c)
	}
	return c, nil
}

// store queues a write of key k and caches its result; the caller holds
// its stripe.
func (s *Store) store(st *stripe, k []byte, c cached) error {
	seq, err := s.w.enqueue(write{key: k, val: c.val, expiresAt: c.expiresAt, del: !c.present})
	if err != nil {
		return err
	}
	c.seq = seq
	s.remember(st, k, c)
	return nil
}

// remember caches c for k, first making room by dropping a few keys whose
// writes are already in Badger when the stripe holds too many keys or
// bytes. The caller holds the stripe.
func (s *Store) remember(st *stripe, k []byte, c cached) {
	if old, ok := st.cache[string(k)]; ok {
		st.bytes -= len(old.val)
	}
	if len(st.cache) >= stripeKeys || st.bytes+len(c.val) > stripeBytes {
		tries := 0
		for key, old := range st.cache {
			if tries++; tries > evictionAttempts {
				break
			}
			if s.w.isCommitted(old.seq) && key != string(k) {
				delete(st.cache, key)
				st.bytes -= len(old.val)
			}
		}
	}
	st.cache[string(k)] = c
	st.bytes += len(c.val)
}

// Bucket returns the bucket of namespace. Any non-empty string is a valid
// namespace; the bucket of "" fails every call with ErrInvalidNamespace.
func (s *Store) Bucket(namespace string) kv.Bucket {
	b := &Bucket{s: s, ns: namespace}
	if namespace == "" {
		b.err = fmt.Errorf("%w: empty", ErrInvalidNamespace)
		return b
	}
	b.prefix = []byte(storage.PrefixKV + escape(namespace) + "/")
	return b
}

// Namespaces lists, sorted, the namespaces that hold at least one live
// key.
func (s *Store) Namespaces() ([]string, error) {
	if err := s.Flush(); err != nil {
		return nil, fmt.Errorf("list kv namespaces: %w", err)
	}
	var out []string
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(storage.PrefixKV)})
		defer it.Close()
		for it.Rewind(); it.Valid(); {
			rest := it.Item().Key()[len(storage.PrefixKV):]
			i := bytes.IndexByte(rest, '/')
			if i < 0 {
				it.Next()
				continue
			}
			ns, err := unescape(string(rest[:i]))
			if err != nil {
				return err
			}
			out = append(out, ns)
			// Skip the rest of this namespace: '0' follows '/'.
			it.Seek([]byte(storage.PrefixKV + string(rest[:i]) + "0"))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list kv namespaces: %w", err)
	}
	sort.Strings(out)
	return out, nil
}

// escape makes a namespace safe as a key segment: '%', '/' and NUL
// become %XX, so the result contains no '/'. Plugin names contain none of
// them and are stored as they are.
func escape(ns string) string {
	if !strings.ContainsAny(ns, "%/\x00") {
		return ns
	}
	var b strings.Builder
	for i := 0; i < len(ns); i++ {
		switch c := ns[i]; c {
		case '%', '/', 0:
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func unescape(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("bad namespace escape in %q", s)
		}
		v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("bad namespace escape in %q: %w", s, err)
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), nil
}

// Namespace is the bucket's namespace.
func (b *Bucket) Namespace() string { return b.ns }

func (b *Bucket) key(key string) ([]byte, error) {
	if b.err != nil {
		return nil, b.err
	}
	if err := kv.CheckKey(key); err != nil {
		return nil, fmt.Errorf("key %.64q: %w", key, err)
	}
	k := make([]byte, 0, len(b.prefix)+len(key))
	return append(append(k, b.prefix...), key...), nil
}

// Get returns the value of key, or an error wrapping kv.ErrNotFound.
func (b *Bucket) Get(key string) (json.RawMessage, error) {
	k, err := b.key(key)
	if err != nil {
		return nil, err
	}
	st := b.s.lock(k)
	c, err := b.s.load(st, k)
	st.mu.Unlock()
	switch {
	case err != nil:
		return nil, fmt.Errorf("get %.64q: %w", key, err)
	case !c.live(uint64(time.Now().Unix())):
		return nil, fmt.Errorf("get %.64q: %w", key, kv.ErrNotFound)
	}
	return bytes.Clone(c.val), nil
}

// Set stores value under key. value must be one JSON document of at most
// kv.MaxValueBytes. ttl > 0 makes the key expire after it (rounded up to a
// whole second); 0 keeps it until deleted.
func (b *Bucket) Set(key string, value json.RawMessage, ttl time.Duration) error {
	k, err := b.key(key)
	if err != nil {
		return err
	}
	if len(value) > kv.MaxValueBytes {
		return fmt.Errorf("set %.64q: %w: %d bytes, at most %d", key, kv.ErrTooLarge, len(value), kv.MaxValueBytes)
	}
	if !json.Valid(value) {
		return fmt.Errorf("set %.64q: %w", key, kv.ErrInvalidJSON)
	}
	if ttl < 0 {
		return fmt.Errorf("set %.64q: %w: %v", key, ErrInvalidTTL, ttl)
	}
	c := cached{val: bytes.Clone(value), present: true}
	if ttl > 0 {
		c.expiresAt = expiry(time.Now(), ttl)
	}
	st := b.s.lock(k)
	err = b.s.store(st, k, c)
	st.mu.Unlock()
	if err != nil {
		return fmt.Errorf("set %.64q: %w", key, err)
	}
	return nil
}

// expiry is the Badger expiry (unix seconds) of a TTL starting at now,
// rounded up.
func expiry(now time.Time, ttl time.Duration) uint64 {
	at := now.Add(ttl)
	sec := at.Unix()
	if at.Nanosecond() > 0 {
		sec++
	}
	return uint64(sec)
}

// Delete removes key; a missing key is not an error.
func (b *Bucket) Delete(key string) error {
	k, err := b.key(key)
	if err != nil {
		return err
	}
	st := b.s.lock(k)
	err = b.s.store(st, k, cached{})
	st.mu.Unlock()
	if err != nil {
		return fmt.Errorf("delete %.64q: %w", key, err)
	}
	return nil
}

// Incr adds delta to the integer stored under key (a missing key counts
// as 0) and returns the new value. It fails with kv.ErrNotNumber when the
// value is not an integer or the sum would overflow. The key's TTL, if
// any, is kept.
func (b *Bucket) Incr(key string, delta int64) (int64, error) {
	k, err := b.key(key)
	if err != nil {
		return 0, err
	}
	st := b.s.lock(k)
	defer st.mu.Unlock()
	c, err := b.s.load(st, k)
	if err != nil {
		return 0, fmt.Errorf("incr %.64q: %w", key, err)
	}
	var cur int64
	if c.live(uint64(time.Now().Unix())) {
		if cur, err = parseInt(c.val); err != nil {
			return 0, fmt.Errorf("incr %.64q: %w", key, err)
		}
	} else {
		c.expiresAt = 0 // an expired key starts again from 0, without its old TTL
	}
	if (delta > 0 && cur > math.MaxInt64-delta) || (delta < 0 && cur < math.MinInt64-delta) {
		return 0, fmt.Errorf("incr %.64q: %w: %d + %d overflows", key, kv.ErrNotNumber, cur, delta)
	}
	n := cur + delta
	if err := b.s.store(st, k, cached{val: strconv.AppendInt(nil, n, 10), present: true, expiresAt: c.expiresAt}); err != nil {
		return 0, fmt.Errorf("incr %.64q: %w", key, err)
	}
	return n, nil
}

// parseInt reads a stored integer: a JSON number without fraction or
// exponent, within int64.
func parseInt(v []byte) (int64, error) {
	n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %.32s", kv.ErrNotNumber, v)
	}
	return n, nil
}

// List returns up to limit items whose key starts with prefix, in key
// order, after cursor (exclusive; "" from the start), and the cursor of
// the next page ("" when there is none). limit <= 0 means
// DefaultListLimit; it is capped at kv.MaxListLimit.
func (b *Bucket) List(prefix string, limit int, cursor string) ([]kv.Item, string, error) {
	if b.err != nil {
		return nil, "", b.err
	}
	for _, s := range []string{prefix, cursor} {
		if len(s) > kv.MaxKeyBytes || strings.IndexByte(s, 0) >= 0 {
			return nil, "", fmt.Errorf("list %.64q: %w", s, kv.ErrInvalidKey)
		}
	}
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, kv.MaxListLimit)
	scope := append(bytes.Clone(b.prefix), prefix...)
	start := scope
	if cursor != "" {
		// Keys hold no NUL, so cursor+"\x00" is the first key after it.
		after := append(append(bytes.Clone(b.prefix), cursor...), 0)
		if bytes.Compare(after, start) > 0 {
			start = after
		}
	}
	if err := b.s.Flush(); err != nil {
		return nil, "", fmt.Errorf("list %.64q: %w", prefix, err)
	}
	items := []kv.Item{}
	var next string
	err := b.s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: min(limit, 100), Prefix: scope})
		defer it.Close()
		for it.Seek(start); it.Valid(); it.Next() {
			item := it.Item()
			key := string(item.Key()[len(b.prefix):])
			if len(items) == limit {
				next = items[len(items)-1].Key
				return nil
			}
			val, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			items = append(items, kv.Item{Key: key, Value: val, ExpiresAt: int64(item.ExpiresAt())})
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("list %.64q: %w", prefix, err)
	}
	return items, next, nil
}
