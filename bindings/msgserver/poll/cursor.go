package poll

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/kv"
)

// Cursor is how far the poller got in one staff member's archive: every
// message with a seq up to Seq has been appended.
type Cursor struct {
	// Seq is the highest archive seq appended (0: nothing yet).
	Seq int64 `json:"seq"`
	// Updated is when the cursor last moved (ms since the epoch).
	Updated int64 `json:"updated,omitempty"`
}

// CursorStore keeps a Cursor per corp and staff member. Get answers the
// zero Cursor for a pair never Put. Implementations are safe for
// concurrent use.
type CursorStore interface {
	Get(corp, staff string) (Cursor, error)
	Put(corp, staff string, c Cursor) error
}

// KVCursors is a CursorStore on a kv.Bucket, so cursors survive restarts
// when the bucket is durable (kv/badger). Keys are "cursor/{corp}/{staff}"
// with both ids escaped. Safe for concurrent use as the bucket is.
type KVCursors struct {
	bucket kv.Bucket
}

var _ CursorStore = (*KVCursors)(nil)

// NewKVCursors returns a CursorStore keeping its cursors in b.
func NewKVCursors(b kv.Bucket) *KVCursors { return &KVCursors{bucket: b} }

// cursorKey escapes the ids so that "a/b"+"c" and "a"+"b/c" differ.
func cursorKey(corp, staff string) string {
	esc := strings.NewReplacer("%", "%25", "/", "%2F")
	return "cursor/" + esc.Replace(corp) + "/" + esc.Replace(staff)
}

// Get implements CursorStore.
func (s *KVCursors) Get(corp, staff string) (Cursor, error) {
	raw, err := s.bucket.Get(cursorKey(corp, staff))
	if errors.Is(err, kv.ErrNotFound) {
		return Cursor{}, nil
	}
	if err != nil {
		return Cursor{}, fmt.Errorf("read cursor of %s/%s: %w", corp, staff, err)
	}
	var c Cursor
	if err := json.Unmarshal(raw, &c); err != nil {
		return Cursor{}, fmt.Errorf("read cursor of %s/%s: %w", corp, staff, err)
	}
	return c, nil
}

// Put implements CursorStore.
func (s *KVCursors) Put(corp, staff string, c Cursor) error {
	if c.Updated == 0 {
		c.Updated = time.Now().UnixMilli()
	}
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("write cursor of %s/%s: %w", corp, staff, err)
	}
	if err := s.bucket.Set(cursorKey(corp, staff), b, 0); err != nil {
		return fmt.Errorf("write cursor of %s/%s: %w", corp, staff, err)
	}
	return nil
}
