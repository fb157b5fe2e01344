package journal

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Limits of Rejected.
const (
	DefaultRejectedLimit = 100
	MaxRejectedLimit     = 1000
)

// Rejected is a callback the receiver refused as malformed, kept for
// inspection (SPEC §4). Rejected callbacks expire with Options.Retention.
type Rejected struct {
	Vendor   string `json:"vendor"`
	Remote   string `json:"remote"`
	Reason   string `json:"reason"`
	Received int64  `json:"received"` // ms since epoch
	Body     []byte `json:"body"`
}

// Reject durably keeps a malformed callback: it returns after the record
// is synced to disk, sharing the sync with concurrent appends. body is
// not retained after the call.
func (j *Journal) Reject(vendor, remoteAddr string, body []byte, reason string) error {
	now := time.Now()
	val, err := json.Marshal(Rejected{Vendor: vendor, Remote: remoteAddr, Reason: reason, Received: now.UnixMilli(), Body: body})
	if err != nil {
		return fmt.Errorf("encode rejected callback: %w", err)
	}
	// Keys sort by time; the counter keeps two rejects in one nanosecond
	// apart.
	key := appendKey(prefixRejected, be64(uint64(now.UnixNano())), binary.BigEndian.AppendUint32(nil, j.rejSeq.Add(1)))
	r := &request{rej: key, rejV: val, done: make(chan struct{})}
	if err := j.submit(context.Background(), r); err != nil {
		return err
	}
	<-r.done
	if r.err != nil {
		return fmt.Errorf("keep rejected callback from %s: %w", vendor, r.err)
	}
	return nil
}

// Rejected lists kept callbacks, newest first. limit <= 0 means
// DefaultRejectedLimit; it is capped at MaxRejectedLimit.
func (j *Journal) Rejected(limit int) ([]Rejected, error) {
	if limit <= 0 {
		limit = DefaultRejectedLimit
	}
	limit = min(limit, MaxRejectedLimit)
	var out []Rejected
	err := j.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{
			Reverse:        true,
			Prefix:         prefixRejected,
			PrefetchValues: true,
			PrefetchSize:   min(limit, 100),
		})
		defer it.Close()
		for it.Seek(appendKey(prefixRejected, []byte{0xff})); it.Valid() && len(out) < limit; it.Next() {
			var rj Rejected
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &rj) }); err != nil {
				return fmt.Errorf("decode rejected callback %x: %w", it.Item().Key(), err)
			}
			out = append(out, rj)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list rejected callbacks: %w", err)
	}
	return out, nil
}
