// Package kv is the per-plugin key-value store plugins see as `kv` (SPEC §9).
//
// A Store hands out one Bucket per plugin namespace; a plugin only ever
// holds its own Bucket, so it cannot read or write another plugin's keys.
// Values are JSON documents. Buckets are safe for concurrent use; Incr is
// atomic across goroutines and processes sharing the store.
//
// The implementation is kv/badger, sharing the runtime's Badger database.
package kv

import (
	"encoding/json"
	"errors"
	"time"
)

// Errors callers act on.
var (
	ErrNotFound    = errors.New("kv: key not found")
	ErrNotNumber   = errors.New("kv: value is not an integer")
	ErrInvalidKey  = errors.New("kv: invalid key")
	ErrInvalidJSON = errors.New("kv: value is not JSON")
	ErrTooLarge    = errors.New("kv: value too large")
)

// Limits on keys and values.
const (
	MaxKeyBytes   = 1024
	MaxValueBytes = 1 << 20
	MaxListLimit  = 1000
)

// Item is one key with its value, as List returns it.
type Item struct {
	Key       string          `json:"key"`
	Value     json.RawMessage `json:"value"`
	ExpiresAt int64           `json:"expires_at,omitempty"` // unix seconds, 0 = never
}

// Bucket is one plugin's namespace.
type Bucket interface {
	// Get returns the value, or ErrNotFound.
	Get(key string) (json.RawMessage, error)
	// Set stores a JSON value; ttl > 0 makes it expire (Badger's own TTL).
	Set(key string, value json.RawMessage, ttl time.Duration) error
	// Delete removes a key; deleting a missing key is not an error.
	Delete(key string) error
	// Incr adds delta to an integer value (missing counts as 0) and
	// returns the new value, atomically. A TTL on the key is kept.
	Incr(key string, delta int64) (int64, error)
	// List returns up to limit keys starting with prefix in key order,
	// after cursor (exclusive; "" from the start), and the cursor for the
	// next page ("" when there is none).
	List(prefix string, limit int, cursor string) ([]Item, string, error)
}

// Store hands out buckets. Bucket may be called any number of times for
// the same namespace; all handles see the same data.
type Store interface {
	Bucket(namespace string) Bucket
	// Namespaces lists the namespaces that hold at least one key.
	Namespaces() ([]string, error)
}

// CheckKey validates a key: non-empty, at most MaxKeyBytes, no NUL byte.
func CheckKey(key string) error {
	if key == "" || len(key) > MaxKeyBytes {
		return ErrInvalidKey
	}
	for i := 0; i < len(key); i++ {
		if key[i] == 0 {
			return ErrInvalidKey
		}
	}
	return nil
}
