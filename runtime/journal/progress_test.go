package journal

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// manual keeps the flusher out of the way: progress is written only when
// the test says so.
var manual = Options{FlushInterval: time.Hour}

func consumer(t testing.TB, j *Journal, name string) *Progress {
	t.Helper()
	p, err := j.Consumer(name)
	if err != nil {
		t.Fatalf("consumer %s: %v", name, err)
	}
	return p
}

// marksOnDisk lists the stored per-seq marks of a consumer.
func marksOnDisk(t testing.TB, db *badger.DB, name string) []uint64 {
	t.Helper()
	var out []uint64
	err := db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: markPrefix(name)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			s, _ := seqOf(it.Item().Key())
			out = append(out, s)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// doneSet renders IsDone for seqs 1..n.
func doneSet(p *Progress, n uint64) string {
	var b strings.Builder
	for s := uint64(1); s <= n; s++ {
		if p.IsDone(s) {
			b.WriteByte('x')
		} else {
			b.WriteByte('.')
		}
	}
	return b.String()
}

func TestNewConsumerStartsAfterHead(t *testing.T) {
	t.Parallel()
	e := newEnv(t, manual)
	mustAppend(t, e.j, evs("a", "b", "c")...)
	p := consumer(t, e.j, "late")
	if p.Start() != 4 {
		t.Fatalf("Start = %d, want 4 (no history)", p.Start())
	}
	if again := consumer(t, e.j, "late"); again != p {
		t.Error("a second Consumer call returned another Progress")
	}
	// Created, then a crash-free restart with more events: still at 4.
	e.reopen()
	mustAppend(t, e.j, evs("d")...)
	if s := consumer(t, e.j, "late").Start(); s != 4 {
		t.Errorf("Start after reopen = %d, want 4", s)
	}
}

func TestConsumerNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t, manual)
	tests := []struct {
		name    string
		wantErr bool
	}{
		{"", true},
		{strings.Repeat("n", MaxConsumerBytes+1), true},
		{strings.Repeat("n", MaxConsumerBytes), false},
		{"a/b", false},
		{"a\x00b", false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%.12q", tc.name), func(t *testing.T) {
			_, err := e.j.Consumer(tc.name)
			if tc.wantErr != errors.Is(err, ErrInvalidArgument) {
				t.Errorf("Consumer err = %v, want error %v", err, tc.wantErr)
			}
			if err := e.j.Forget(tc.name); tc.wantErr != errors.Is(err, ErrInvalidArgument) {
				t.Errorf("Forget err = %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

func TestProgressOutOfOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		done  []uint64
		start uint64
		set   string // IsDone for 1..8
	}{
		{"nothing done", nil, 1, "........"},
		{"gap at the start", []uint64{3, 2}, 1, ".xx....."},
		{"gap filled", []uint64{3, 2, 1}, 4, "xxx....."},
		{"two gaps", []uint64{1, 3, 5, 6}, 2, "x.x.xx.."},
		{"out of order to the end", []uint64{8, 6, 7, 4, 5, 2, 3, 1}, 9, "xxxxxxxx"},
		{"repeats are harmless", []uint64{2, 2, 1, 1, 2}, 3, "xx......"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, manual)
			p := consumer(t, e.j, "p")
			mustAppend(t, e.j, evs("1", "2", "3", "4", "5", "6", "7", "8")...)
			for _, s := range tc.done {
				p.Done(s)
			}
			if p.Start() != tc.start || doneSet(p, 8) != tc.set {
				t.Errorf("Start %d, done %s; want %d, %s", p.Start(), doneSet(p, 8), tc.start, tc.set)
			}
			e.reopen()
			p = consumer(t, e.j, "p")
			if p.Start() != tc.start || doneSet(p, 8) != tc.set {
				t.Errorf("after reopen: Start %d, done %s; want %d, %s", p.Start(), doneSet(p, 8), tc.start, tc.set)
			}
		})
	}
}

func TestWatermarkDeletesMarksBelowIt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, manual)
	p := consumer(t, e.j, "p")
	other := consumer(t, e.j, "p2") // a name that extends "p"
	mustAppend(t, e.j, evs("1", "2", "3", "4", "5", "6", "7")...)
	for _, s := range []uint64{2, 3, 5, 7} {
		p.Done(s)
	}
	other.Done(2)
	if err := e.j.FlushProgress(); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(marksOnDisk(t, e.db, "p")); got != "[2 3 5 7]" {
		t.Fatalf("marks = %s, want [2 3 5 7]", got)
	}
	p.Done(1) // watermark 1 -> 4
	p.Done(4) // -> 6
	if err := e.j.FlushProgress(); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(marksOnDisk(t, e.db, "p")); got != "[7]" {
		t.Errorf("marks after the watermark moved = %s, want [7]", got)
	}
	if got := fmt.Sprint(marksOnDisk(t, e.db, "p2")); got != "[2]" {
		t.Errorf("other consumer's marks = %s, want [2]", got)
	}
	if p.Start() != 6 {
		t.Errorf("Start = %d, want 6", p.Start())
	}
}

// Marks are written only after BeforeProgress succeeded; a failure keeps
// them for the next flush.
func TestBeforeProgressGatesTheMarks(t *testing.T) {
	t.Parallel()
	var fail error
	calls := 0
	opts := manual
	opts.BeforeProgress = func() error { calls++; return fail }
	e := newEnv(t, opts)
	p := consumer(t, e.j, "p")
	mustAppend(t, e.j, evs("1", "2", "3")...)
	p.Done(3)
	fail = errors.New("kv writes not in the store")
	if err := e.j.FlushProgress(); !errors.Is(err, fail) {
		t.Fatalf("FlushProgress = %v, want the BeforeProgress error", err)
	}
	if got := marksOnDisk(t, e.db, "p"); len(got) != 0 {
		t.Fatalf("marks written although BeforeProgress failed: %v", got)
	}
	fail = nil
	if err := e.j.FlushProgress(); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(marksOnDisk(t, e.db, "p")); got != "[3]" {
		t.Errorf("marks after BeforeProgress succeeded = %s, want [3]", got)
	}
	if calls != 2 {
		t.Errorf("BeforeProgress called %d times, want 2", calls)
	}
	if err := e.j.FlushProgress(); err != nil || calls != 2 {
		t.Errorf("a flush with nothing to write: %v, BeforeProgress called %d times, want 2", err, calls)
	}
}

func TestBackgroundFlush(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{FlushInterval: 10 * time.Millisecond})
	p := consumer(t, e.j, "p")
	mustAppend(t, e.j, evs("1", "2", "3")...)
	p.Done(1)
	p.Done(3)
	ctx := testCtx(t)
	for fmt.Sprint(marksOnDisk(t, e.db, "p")) != "[3]" {
		select {
		case <-ctx.Done():
			t.Fatalf("the flusher did not write the marks: %v", marksOnDisk(t, e.db, "p"))
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func TestForget(t *testing.T) {
	t.Parallel()
	e := newEnv(t, manual)
	p := consumer(t, e.j, "gone")
	mustAppend(t, e.j, evs("1", "2", "3")...)
	p.Done(2)
	if err := e.j.FlushProgress(); err != nil {
		t.Fatal(err)
	}
	if err := e.j.Forget("gone"); err != nil {
		t.Fatal(err)
	}
	p.Done(1) // an old handle is inert
	if err := e.j.FlushProgress(); err != nil {
		t.Fatal(err)
	}
	if m := marksOnDisk(t, e.db, "gone"); len(m) != 0 {
		t.Errorf("marks left after Forget: %v", m)
	}
	if err := e.j.Forget("never-existed"); err != nil {
		t.Errorf("Forget of an unknown consumer: %v", err)
	}
	e.reopen()
	if _, ok := e.j.consumers["gone"]; ok {
		t.Fatal("a forgotten consumer was restored on reopen")
	}
	if again := consumer(t, e.j, "gone"); again.Start() != 4 {
		t.Errorf("re-added consumer starts at %d, want 4 (after the head, not at its old watermark 1)", again.Start())
	}
}

const (
	crashEnv  = "JOURNAL_CRASH_DIR"
	crashCode = 3 // the helper's exit status when it crashed as planned
)

// TestCrashChild is the process that crashes for TestCrashRedelivers: it
// runs only when that test starts it.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("helper process of TestCrashRedelivers")
	}
	db := openDB(t, dir)
	j, err := Open(db, manual)
	if err != nil {
		t.Fatal(err)
	}
	p := consumer(t, j, "p")
	mustAppend(t, j, evs("1", "2", "3", "4", "5", "6", "7", "8", "9", "10")...)
	for _, s := range []uint64{1, 2, 3, 4, 5, 7} {
		p.Done(s)
	}
	if err := j.FlushProgress(); err != nil {
		t.Fatal(err)
	}
	p.Done(8) // never written: lost in the crash
	p.Done(6)
	// Die without Close: no final flush, no clean database shutdown.
	os.Exit(crashCode)
}

func TestCrashRedelivers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.CommandContext(testCtx(t), os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != crashCode {
		t.Fatalf("crashing process ended with %v, want exit status %d\n%s", err, crashCode, out)
	}
	e := &env{t: t, dir: dir, opts: manual}
	e.open()
	t.Cleanup(e.close)
	if h := e.j.Head(); h != 10 {
		t.Fatalf("Head after the crash = %d, want 10: acknowledged events lost", h)
	}
	p := consumer(t, e.j, "p")
	if p.Start() != 6 || doneSet(p, 10) != "xxxxx.x..." {
		t.Fatalf("after the crash: Start %d, done %s; want 6, xxxxx.x...", p.Start(), doneSet(p, 10))
	}
	got, err := e.j.Read(p.Start(), 100)
	if err != nil {
		t.Fatal(err)
	}
	var pending []string
	for _, x := range got {
		if !p.IsDone(x.Seq) {
			pending = append(pending, x.ID)
		}
	}
	if s := strings.Join(pending, ","); s != "6,8,9,10" {
		t.Errorf("pending after the crash = %s, want 6,8,9,10", s)
	}
}
