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
// Lifecycle: New over an open database; the Store and its Buckets hold no
// goroutines and need no closing, but must not be used after the database
// is closed. Threading: everything is safe for concurrent use; Incr is
// atomic (in-process key locks plus a Badger transaction retried on
// conflict).
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
)

// DefaultListLimit is List's page size when the caller gives none.
const DefaultListLimit = 100

// maxIncrAttempts bounds Incr's retries on a transaction conflict.
const maxIncrAttempts = 64

// Store is the Badger-backed kv.Store.
type Store struct {
	db    *badger.DB
	seed  maphash.Seed
	locks [256]sync.Mutex // striped by key: serializes Incr in this process
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
	return &Store{db: db, seed: maphash.MakeSeed()}
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
	var val []byte
	err = b.s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(k)
		if err != nil {
			return err
		}
		val, err = item.ValueCopy(nil)
		return err
	})
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
		return nil, fmt.Errorf("get %.64q: %w", key, kv.ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("get %.64q: %w", key, err)
	}
	return val, nil
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
	e := badger.NewEntry(k, value)
	if ttl > 0 {
		e.ExpiresAt = expiry(time.Now(), ttl)
	}
	if err := b.s.db.Update(func(txn *badger.Txn) error { return txn.SetEntry(e) }); err != nil {
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
	if err := b.s.db.Update(func(txn *badger.Txn) error { return txn.Delete(k) }); err != nil {
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
	mu := &b.s.locks[maphash.Bytes(b.s.seed, k)%uint64(len(b.s.locks))]
	mu.Lock()
	defer mu.Unlock()
	for range maxIncrAttempts {
		n, err := b.incrOnce(k, delta)
		if errors.Is(err, badger.ErrConflict) {
			continue // a concurrent Set or Delete of the key: read again
		}
		if err != nil {
			return 0, fmt.Errorf("incr %.64q: %w", key, err)
		}
		return n, nil
	}
	return 0, fmt.Errorf("incr %.64q: %w after %d attempts", key, badger.ErrConflict, maxIncrAttempts)
}

func (b *Bucket) incrOnce(k []byte, delta int64) (int64, error) {
	var n int64
	err := b.s.db.Update(func(txn *badger.Txn) error {
		var cur int64
		var expiresAt uint64
		item, err := txn.Get(k)
		switch {
		case err == nil:
			expiresAt = item.ExpiresAt()
			if err := item.Value(func(v []byte) error {
				cur, err = parseInt(v)
				return err
			}); err != nil {
				return err
			}
		case !errors.Is(err, badger.ErrKeyNotFound):
			return err
		}
		if (delta > 0 && cur > math.MaxInt64-delta) || (delta < 0 && cur < math.MinInt64-delta) {
			return fmt.Errorf("%w: %d + %d overflows", kv.ErrNotNumber, cur, delta)
		}
		n = cur + delta
		e := badger.NewEntry(k, strconv.AppendInt(nil, n, 10))
		e.ExpiresAt = expiresAt
		return txn.SetEntry(e)
	})
	return n, err
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
