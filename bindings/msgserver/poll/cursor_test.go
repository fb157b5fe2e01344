package poll

import (
	"encoding/json"
	"testing"

	kvbadger "github.com/switchboard-dev/switchboard/kv/badger"
	"github.com/switchboard-dev/switchboard/runtime/storage"
)

func TestKVCursors(t *testing.T) {
	t.Parallel()
	db, err := storage.Open("", storage.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	store := kvbadger.New(db)
	t.Cleanup(func() { _ = store.Close() })
	bucket := store.Bucket("msgserver.poll")
	s := NewKVCursors(bucket)

	if c, err := s.Get("corp", "staff"); err != nil || c != (Cursor{}) {
		t.Fatalf("Get of a missing cursor = %+v, %v", c, err)
	}
	tests := []struct {
		name        string
		corp, staff string
		seq         int64
	}{
		{"plain", "corp", "staff", 7},
		{"slash in the corp", "a/b", "c", 11},
		{"slash in the staff", "a", "b/c", 13},
		{"percent", "a%2Fb", "c", 17},
	}
	for _, tt := range tests {
		if err := s.Put(tt.corp, tt.staff, Cursor{Seq: tt.seq}); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := s.Get(tt.corp, tt.staff)
			if err != nil || c.Seq != tt.seq || c.Updated == 0 {
				t.Errorf("Get = %+v, %v; want seq %d, stamped", c, err, tt.seq)
			}
		})
	}

	if err := bucket.Set(cursorKey("x", "y"), json.RawMessage(`"not a cursor"`), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("x", "y"); err == nil {
		t.Error("a stored value that is not a cursor was read without error")
	}
}
