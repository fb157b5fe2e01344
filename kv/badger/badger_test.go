package badgerkv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/switchboard-dev/switchboard/kv"
	"github.com/switchboard-dev/switchboard/runtime/storage"
)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func openDB(t testing.TB, dir string) *badger.DB {
	t.Helper()
	db, err := storage.Open(dir, storage.Options{})
	if err != nil {
		t.Fatalf("open db: %v", err)
	}
	return db
}

func newStore(t testing.TB) (*Store, *badger.DB) {
	t.Helper()
	db := openDB(t, t.TempDir())
	t.Cleanup(func() { db.Close() })
	s := New(db)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return s, db
}

func set(t testing.TB, b kv.Bucket, key, value string) {
	t.Helper()
	if err := b.Set(key, json.RawMessage(value), 0); err != nil {
		t.Fatalf("set %s: %v", key, err)
	}
}

func keys(items []kv.Item) string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.Key
	}
	return strings.Join(out, ",")
}

func TestSetGet(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	b := s.Bucket("plugin")
	tests := []struct {
		name    string
		key     string
		value   string
		ttl     time.Duration
		wantErr error
	}{
		{"object", "o", `{"a":[1,2,{"b":null}]}`, 0, nil},
		{"string", "s", `"héllo"`, 0, nil},
		{"number", "n", `-12.5e3`, 0, nil},
		{"null", "null", `null`, 0, nil},
		{"whitespace kept", "w", " [1, 2] ", 0, nil},
		{"path-like key", "a/../b", `true`, 0, nil},
		{"with ttl", "t", `1`, time.Hour, nil},
		{"largest value", "big", `"` + strings.Repeat("x", kv.MaxValueBytes-2) + `"`, 0, nil},
		{"longest key", strings.Repeat("k", kv.MaxKeyBytes), `1`, 0, nil},
		{"empty value", "e", ``, 0, kv.ErrInvalidJSON},
		{"broken json", "e", `{"a":`, 0, kv.ErrInvalidJSON},
		{"two documents", "e", `1 2`, 0, kv.ErrInvalidJSON},
		{"bare word", "e", `hello`, 0, kv.ErrInvalidJSON},
		{"too large", "e", `"` + strings.Repeat("x", kv.MaxValueBytes) + `"`, 0, kv.ErrTooLarge},
		{"empty key", "", `1`, 0, kv.ErrInvalidKey},
		{"key too long", strings.Repeat("k", kv.MaxKeyBytes+1), `1`, 0, kv.ErrInvalidKey},
		{"NUL in key", "a\x00b", `1`, 0, kv.ErrInvalidKey},
		{"negative ttl", "e", `1`, -time.Second, ErrInvalidTTL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := b.Set(tc.key, json.RawMessage(tc.value), tc.ttl)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Set err = %v, want %v", err, tc.wantErr)
				}
				if _, err := b.Get(tc.key); err == nil {
					t.Error("a refused value was stored")
				}
				return
			}
			if err != nil {
				t.Fatalf("Set: %v", err)
			}
			got, err := b.Get(tc.key)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if string(got) != tc.value {
				t.Errorf("Get = %.40s, want %.40s", got, tc.value)
			}
		})
	}
}

func TestGetDelete(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	b := s.Bucket("p")
	if _, err := b.Get("missing"); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("Get of a missing key = %v, want ErrNotFound", err)
	}
	if err := b.Delete("missing"); err != nil {
		t.Errorf("Delete of a missing key = %v, want nil", err)
	}
	set(t, b, "k", `1`)
	if err := b.Delete("k"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get("k"); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("Get after Delete = %v, want ErrNotFound", err)
	}
	if err := b.Delete(""); !errors.Is(err, kv.ErrInvalidKey) {
		t.Errorf("Delete of an empty key = %v, want ErrInvalidKey", err)
	}
}

func TestValuesSurviveReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := openDB(t, dir)
	s := New(db)
	set(t, s.Bucket("p"), "k", `{"v":1}`)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openDB(t, dir)
	defer db.Close()
	got, err := New(db).Bucket("p").Get("k")
	if err != nil || string(got) != `{"v":1}` {
		t.Errorf("after reopen: %s, %v", got, err)
	}
}

func TestIncr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		start   string // "" = missing
		delta   int64
		want    int64
		wantErr error
	}{
		{"missing counts as zero", "", 3, 3, nil},
		{"adds", `5`, 2, 7, nil},
		{"subtracts below zero", `1`, -4, -3, nil},
		{"zero delta reads", `42`, 0, 42, nil},
		{"spaces around", ` 9 `, 1, 10, nil},
		{"to the maximum", fmt.Sprint(math.MaxInt64 - 1), 1, math.MaxInt64, nil},
		{"overflow", fmt.Sprint(math.MaxInt64), 1, 0, kv.ErrNotNumber},
		{"underflow", fmt.Sprint(math.MinInt64), -1, 0, kv.ErrNotNumber},
		{"string", `"5"`, 1, 0, kv.ErrNotNumber},
		{"fraction", `1.5`, 1, 0, kv.ErrNotNumber},
		{"object", `{}`, 1, 0, kv.ErrNotNumber},
	}
	s, _ := newStore(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := s.Bucket("incr " + tc.name)
			if tc.start != "" {
				set(t, b, "n", tc.start)
			}
			got, err := b.Incr("n", tc.delta)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if v, _ := b.Get("n"); string(v) != tc.start {
					t.Errorf("value changed to %s by a failed Incr", v)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Incr = %d, %v; want %d", got, err, tc.want)
			}
			if v, _ := b.Get("n"); string(v) != fmt.Sprint(tc.want) {
				t.Errorf("stored %s, want %d", v, tc.want)
			}
		})
	}
}

func TestIncrKeepsTTL(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	b := s.Bucket("p")
	if err := b.Set("n", json.RawMessage(`1`), time.Hour); err != nil {
		t.Fatal(err)
	}
	before, _, err := b.List("n", 1, "")
	if err != nil || len(before) != 1 || before[0].ExpiresAt == 0 {
		t.Fatalf("List before = %+v, %v", before, err)
	}
	if _, err := b.Incr("n", 1); err != nil {
		t.Fatal(err)
	}
	after, _, err := b.List("n", 1, "")
	if err != nil || len(after) != 1 {
		t.Fatalf("List after = %+v, %v", after, err)
	}
	if after[0].ExpiresAt != before[0].ExpiresAt || string(after[0].Value) != "2" {
		t.Errorf("after Incr: %+v, want value 2 expiring at %d", after[0], before[0].ExpiresAt)
	}
}

// TestIncrConcurrent runs 50 goroutines x 100 increments, split over two
// Buckets of one namespace, from goroutines: the key locks make every
// increment count.
func TestIncrConcurrent(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := testCtx(t)
	const workers, each = 50, 100
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		b := s.Bucket("p") // a handle of its own per worker
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if ctx.Err() != nil {
					errs <- ctx.Err()
					return
				}
				if _, err := b.Incr("hits", 1); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, err := s.Bucket("p").Get("hits")
	if err != nil || string(got) != fmt.Sprint(workers*each) {
		t.Errorf("hits = %s, %v; want %d", got, err, workers*each)
	}
}

func TestIsolation(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	writes := []struct{ ns, key string }{
		{"a", "x"},
		{"a", "../b/x"},
		{"a", "b/x"},
		{"a/b", "x"},
		{"b", "x"},
		{"a%2Fb", "x"},
		{"a/..", "b/x"},
	}
	for i, w := range writes {
		set(t, s.Bucket(w.ns), w.key, fmt.Sprint(i))
	}
	for i, w := range writes {
		got, err := s.Bucket(w.ns).Get(w.key)
		if err != nil || string(got) != fmt.Sprint(i) {
			t.Errorf("%s %s = %s, %v; want %d (overwritten by another bucket?)", w.ns, w.key, got, err, i)
		}
	}
	tests := []struct {
		ns   string
		want string
	}{
		{"a", "../b/x,b/x,x"},
		{"a/b", "x"},
		{"b", "x"},
		{"a%2Fb", "x"},
		{"a/..", "b/x"},
		{"..", ""},
		{"a/", ""},
	}
	for _, tc := range tests {
		items, _, err := s.Bucket(tc.ns).List("", 0, "")
		if err != nil {
			t.Fatal(err)
		}
		if keys(items) != tc.want {
			t.Errorf("bucket %q lists %q, want %q", tc.ns, keys(items), tc.want)
		}
	}
	if _, err := s.Bucket("b").Get("../a/x"); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf(`bucket b reached a's key through "../a/x": %v`, err)
	}
	ns, err := s.Namespaces()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ns, " "); got != "a a%2Fb a/.. a/b b" {
		t.Errorf("Namespaces = %q", got)
	}
}

func TestEmptyNamespace(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	b := s.Bucket("")
	_, getErr := b.Get("k")
	_, incrErr := b.Incr("k", 1)
	_, _, listErr := b.List("", 0, "")
	for name, err := range map[string]error{
		"get": getErr, "set": b.Set("k", json.RawMessage(`1`), 0), "delete": b.Delete("k"), "incr": incrErr, "list": listErr,
	} {
		if !errors.Is(err, ErrInvalidNamespace) {
			t.Errorf("%s: err = %v, want ErrInvalidNamespace", name, err)
		}
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	b := s.Bucket("p")
	for _, k := range []string{"a1", "a2", "a3", "a4", "a5", "b1", "a"} {
		set(t, b, k, `"`+k+`"`)
	}
	set(t, s.Bucket("p2"), "a0", `0`) // a neighbouring namespace
	tests := []struct {
		name     string
		prefix   string
		limit    int
		cursor   string
		want     string
		wantNext string
		wantErr  error
	}{
		{"everything", "", 0, "", "a,a1,a2,a3,a4,a5,b1", "", nil},
		{"prefix", "a", 0, "", "a,a1,a2,a3,a4,a5", "", nil},
		{"first page", "a", 2, "", "a,a1", "a1", nil},
		{"middle page", "a", 2, "a1", "a2,a3", "a3", nil},
		{"last full page", "a", 2, "a3", "a4,a5", "", nil},
		{"cursor before the prefix", "b", 5, "a9", "b1", "", nil},
		{"cursor past the end", "a", 5, "zz", "", "", nil},
		{"cursor between keys", "", 2, "a35", "a4,a5", "a5", nil},
		{"no match", "c", 5, "", "", "", nil},
		{"NUL in prefix", "a\x00", 5, "", "", "", kv.ErrInvalidKey},
		{"NUL in cursor", "", 5, "a\x00", "", "", kv.ErrInvalidKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			items, next, err := b.List(tc.prefix, tc.limit, tc.cursor)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if keys(items) != tc.want || next != tc.wantNext {
				t.Errorf("List = %q next %q; want %q next %q", keys(items), next, tc.want, tc.wantNext)
			}
			for _, it := range items {
				if string(it.Value) != `"`+it.Key+`"` || it.ExpiresAt != 0 {
					t.Errorf("item %+v: wrong value or expiry", it)
				}
			}
		})
	}
}

func TestListLimits(t *testing.T) {
	t.Parallel()
	s, db := newStore(t)
	b := s.Bucket("many")
	wb := db.NewWriteBatch()
	for i := range kv.MaxListLimit + 5 {
		if err := wb.Set([]byte(fmt.Sprintf("%smany/k%05d", storage.PrefixKV, i)), []byte("1")); err != nil {
			t.Fatal(err)
		}
	}
	if err := wb.Flush(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		limit int
		want  int
	}{
		{"default", 0, DefaultListLimit},
		{"negative is the default", -5, DefaultListLimit},
		{"capped", kv.MaxListLimit * 10, kv.MaxListLimit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			items, next, err := b.List("", tc.limit, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(items) != tc.want || next != items[len(items)-1].Key {
				t.Errorf("got %d items, next %q; want %d", len(items), next, tc.want)
			}
		})
	}
	// Paging visits every key once.
	seen, cursor := 0, ""
	for page := 0; ; page++ {
		if page > kv.MaxListLimit {
			t.Fatal("paging does not end")
		}
		items, next, err := b.List("k", 300, cursor)
		if err != nil {
			t.Fatal(err)
		}
		seen += len(items)
		if next == "" {
			break
		}
		cursor = next
	}
	if seen != kv.MaxListLimit+5 {
		t.Errorf("paged through %d keys, want %d", seen, kv.MaxListLimit+5)
	}
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	b := s.Bucket("short")
	set(t, s.Bucket("long"), "k", `1`)
	start := time.Now()
	if err := b.Set("k", json.RawMessage(`"soon gone"`), time.Second); err != nil {
		t.Fatal(err)
	}
	items, _, err := b.List("", 0, "")
	if err != nil || len(items) != 1 {
		t.Fatalf("List = %+v, %v", items, err)
	}
	if exp := items[0].ExpiresAt; exp < start.Add(time.Second).Unix() || exp > start.Add(2*time.Second).Unix() {
		t.Errorf("ExpiresAt = %d, want about %d", exp, start.Add(time.Second).Unix())
	}
	ctx := testCtx(t)
	for {
		_, err := b.Get("k")
		if errors.Is(err, kv.ErrNotFound) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-ctx.Done():
			t.Fatal("the key did not expire")
		case <-time.After(50 * time.Millisecond):
		}
	}
	if since := time.Since(start); since < time.Second {
		t.Errorf("expired after %v, before its 1s TTL", since)
	}
	ns, err := s.Namespaces()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(ns, ",") != "long" {
		t.Errorf("Namespaces = %v, want only long (short holds only an expired key)", ns)
	}
}

func TestExpiryRoundsUp(t *testing.T) {
	t.Parallel()
	base := time.Unix(1000, 0)
	tests := []struct {
		name string
		now  time.Time
		ttl  time.Duration
		want uint64
	}{
		{"whole seconds", base, 2 * time.Second, 1002},
		{"sub-second ttl", base, 10 * time.Millisecond, 1001},
		{"now not on a second", base.Add(900 * time.Millisecond), time.Second, 1002},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := expiry(tc.now, tc.ttl); got != tc.want {
				t.Errorf("expiry = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestNamespaceEscaping(t *testing.T) {
	t.Parallel()
	for _, ns := range []string{"plain", "a/b", "100%", "%2F", "x\x00y", "/"} {
		esc := escape(ns)
		if strings.ContainsAny(esc, "/\x00") {
			t.Errorf("escape(%q) = %q still holds a separator", ns, esc)
		}
		if back, err := unescape(esc); err != nil || back != ns {
			t.Errorf("unescape(escape(%q)) = %q, %v", ns, back, err)
		}
	}
	for _, bad := range []string{"%", "%2", "%zz"} {
		if _, err := unescape(bad); err == nil {
			t.Errorf("unescape(%q) accepted a broken escape", bad)
		}
	}
}

func BenchmarkGet(b *testing.B) {
	s, _ := newStore(b)
	bk := s.Bucket("bench")
	set(b, bk, "k", `{"count":1,"name":"value"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bk.Get("k"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSet(b *testing.B) {
	s, _ := newStore(b)
	bk := s.Bucket("bench")
	val := json.RawMessage(`{"count":1,"name":"value"}`)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := bk.Set(fmt.Sprintf("k%d", i%1024), val, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIncr(b *testing.B) {
	s, _ := newStore(b)
	bk := s.Bucket("bench")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bk.Incr("n", 1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIncrParallel(b *testing.B) {
	s, _ := newStore(b)
	bk := s.Bucket("bench")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := bk.Incr("n", 1); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
