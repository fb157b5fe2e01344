package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/bindings/quntool"
	"github.com/switchboard-dev/switchboard/runtime/storage"
)

// Environment of the crashing child process.
const (
	envCrashDir  = "OUTBOX_CRASH_DIR"  // its data_dir
	envCrashMode = "OUTBOX_CRASH_MODE" // before-send or after-send
	envCrashAPI  = "OUTBOX_CRASH_API"  // the simulator's API base URL
	crashExit    = 3
)

// TestCrashChild is the child of TestCrash: it stores one send and dies
// (os.Exit, no Close, no DB close) before the send, or right after the
// vendor accepted it. It does nothing when run as an ordinary test.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(envCrashDir)
	if dir == "" {
		t.Skip("the child process of TestCrash")
	}
	db, err := storage.Open(dir, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg := bindings.NewRegistry()
	if err := reg.Add(quntool.Vendor(quntool.NewClient(quntool.Config{BaseURL: os.Getenv(envCrashAPI), Timeout: 5 * time.Second}))); err != nil {
		t.Fatal(err)
	}
	mode := os.Getenv(envCrashMode)
	die := bindings.InvokerFunc(func(ctx context.Context, c bindings.Call) (json.RawMessage, error) {
		if mode == "after-send" {
			if _, err := reg.Invoke(ctx, c); err != nil {
				t.Errorf("send before the crash: %v", err)
				os.Exit(1)
			}
		}
		os.Exit(crashExit)
		return nil, nil
	})
	ob := start(t, db, Options{Next: die, Registry: reg})
	_, _ = ob.Invoke(context.Background(), text(acct1, cust1, "crash"))
	t.Fatal("the child outlived its send")
}

// TestCrash: a process killed after storing a send and before (or right
// after) sending it leaves it stored; the next run sends it, once. When
// the vendor had it already, that makes one duplicate: delivery is at
// least once.
func TestCrash(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode      string
		wantSends int
	}{
		{"before-send", 1},
		{"after-send", 2},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			w := newWorld(t)
			dir := t.TempDir()
			child := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
			child.Env = append(os.Environ(), envCrashDir+"="+dir, envCrashMode+"="+tc.mode, envCrashAPI+"="+w.api)
			out, err := child.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != crashExit {
				t.Fatalf("child: %v, want exit %d\n%s", err, crashExit, out)
			}
			before := len(w.sim.Sent())
			rec := &recorder{}
			ob := start(t, openDB(t, dir), Options{Next: w.reg, Registry: w.reg, Observer: rec})
			sent, err := w.sim.WaitSent(ctx, tc.wantSends)
			if err != nil {
				t.Fatalf("after the restart: %v (had %d before)", err, before)
			}
			waitFor(t, ctx, "the resent entry's delete", func() bool { return mustStats(t, ob).Pending == 0 })
			if got := len(w.sim.Sent()); got != tc.wantSends || before != tc.wantSends-1 || sent[len(sent)-1].Content != "crash" {
				t.Errorf("the vendor got %d sends (%d before the restart), want %d", got, before, tc.wantSends)
			}
			if s, r, _, _ := rec.counts(); s != 1 || r != 1 {
				t.Errorf("observer: %d sent, %d recovered; want 1, 1", s, r)
			}
		})
	}
}
