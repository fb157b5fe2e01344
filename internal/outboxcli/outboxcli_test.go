package outboxcli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/bindings/quntool"
	"github.com/switchboard-dev/switchboard/runtime/config"
	"github.com/switchboard-dev/switchboard/runtime/outbox"
	"github.com/switchboard-dev/switchboard/runtime/storage"
)

const account = "1688850000000001"

// fixture fills a store in a new data_dir with one dead letter (refused
// by the vendor) and one pending send (its caller gave up before the
// outbox started), and answers the configuration and both ids.
func fixture(t *testing.T) (cfg *config.Config, deadID, pendingID string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cfg = config.Default()
	cfg.DataDir = t.TempDir()
	db, err := storage.Open(cfg.DataDir, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg := bindings.NewRegistry()
	if err := reg.Add(quntool.Vendor(quntool.NewClient(quntool.Config{BaseURL: "http://127.0.0.1:1/gnapi/open"}))); err != nil {
		t.Fatal(err)
	}
	refuse := bindings.InvokerFunc(func(context.Context, bindings.Call) (json.RawMessage, error) {
		return nil, &bindings.VendorError{Vendor: "quntool", Code: 4001, Message: "contact gone"}
	})
	send := func(content string) bindings.Call {
		return bindings.Call{Plugin: "greeter", Vendor: "quntool", Method: "msg.text", Args: map[string]any{
			"wxId": account, "conversationId": "S:" + account + "_7881300000000001", "content": content}}
	}
	ob, err := outbox.Open(db, outbox.Options{Next: refuse, Registry: reg, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	gone, stop := context.WithCancel(ctx)
	stop()
	data, err := ob.Invoke(gone, send("later"))
	pendingID, queued := outbox.IsQueued(data)
	if err != nil || !queued {
		t.Fatalf("queued send: %s, %v", data, err)
	}
	if err := ob.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// Sent while handling event seq 42: the entry carries its send key.
	_, err = ob.Invoke(bindings.WithRedelivery(ctx, "greeter/42", false), send("refused"))
	var de *outbox.DeadError
	if !errors.As(err, &de) {
		t.Fatalf("err %v, want a dead letter", err)
	}
	// The pending send was refused too once started; make it pending again.
	for {
		st, err := ob.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if st.Dead == 2 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
	if err := ob.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopened without starting: a retried dead letter stays pending.
	idle, err := outbox.Open(db, outbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := idle.Retry(pendingID); err != nil {
		t.Fatal(err)
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return cfg, de.ID, pendingID
}

// run executes the command with args and answers its output.
func run(t *testing.T, cfg *config.Config, args ...string) (string, error) {
	t.Helper()
	cmd := Command(func() (*config.Config, error) { return cfg, nil })
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

// TestStoppedStore: ls, ls --dead, stats, retry and drop on the store in
// data_dir, and their refusals.
func TestStoppedStore(t *testing.T) {
	t.Parallel()
	cfg, deadID, pendingID := fixture(t)
	exercise(t, cfg, deadID, pendingID)
}

// TestRunningProcess: when a process holds the store, the command goes
// through its admin API, with the admin token.
func TestRunningProcess(t *testing.T) {
	t.Parallel()
	cfg, deadID, pendingID := fixture(t)
	db, err := storage.Open(cfg.DataDir, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := storage.Open(cfg.DataDir, storage.Options{}); !errors.Is(err, storage.ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked (the test needs the store locked)", err)
	}
	ob, err := outbox.Open(db, outbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ob.Close() })
	const token = "s3cret"
	api := outbox.Handler(ob)
	var calls int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		calls++
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	cfg.Listen = strings.TrimPrefix(srv.URL, "http://")
	cfg.Admin.Token = token
	exercise(t, cfg, deadID, pendingID)
	if calls == 0 {
		t.Error("the admin API was never called")
	}
	cfg.Admin.Token = "wrong"
	if _, err := run(t, cfg, "ls"); err == nil || !strings.Contains(err.Error(), "unauthorized") {
		t.Errorf("with a wrong token: %v, want the API's refusal", err)
	}
}

// exercise runs every subcommand against a fixture's store.
func exercise(t *testing.T, cfg *config.Config, deadID, pendingID string) {
	t.Helper()
	out, err := run(t, cfg, "ls")
	if err != nil || !strings.Contains(out, pendingID) || strings.Contains(out, deadID) ||
		!strings.Contains(out, "quntool.msg.text") || !strings.Contains(out, "greeter") {
		t.Errorf("ls: %v\n%s", err, out)
	}
	out, err = run(t, cfg, "ls", "--dead")
	if err != nil || !strings.Contains(out, deadID) || strings.Contains(out, pendingID) || !strings.Contains(out, "contact gone") ||
		!strings.Contains(out, "greeter/42#1") {
		t.Errorf("ls --dead (want the entry with its send key greeter/42#1): %v\n%s", err, out)
	}
	out, err = run(t, cfg, "ls", "--dead", "--json")
	var entries []outbox.Entry
	if err != nil || json.Unmarshal([]byte(out), &entries) != nil || len(entries) != 1 || entries[0].Args["content"] != "refused" {
		t.Errorf("ls --dead --json: %v\n%s", err, out)
	}
	out, err = run(t, cfg, "stats")
	var st outbox.Stats
	if err != nil || json.Unmarshal([]byte(out), &st) != nil || st.Pending != 1 || st.Dead != 1 {
		t.Errorf("stats: %v\n%s", err, out)
	}
	if out, err = run(t, cfg, "retry", deadID); err != nil || !strings.Contains(out, deadID+" pending") {
		t.Errorf("retry: %v\n%s", err, out)
	}
	if out, err = run(t, cfg, "drop", pendingID); err != nil || !strings.Contains(out, pendingID+" dropped") {
		t.Errorf("drop: %v\n%s", err, out)
	}
	out, err = run(t, cfg, "ls")
	if err != nil || !strings.Contains(out, deadID) || strings.Contains(out, pendingID) {
		t.Errorf("ls after retry and drop: %v\n%s", err, out)
	}
	if out, err = run(t, cfg, "ls", "--dead"); err != nil || !strings.Contains(out, "(none)") {
		t.Errorf("ls --dead after retry: %v\n%s", err, out)
	}

	for _, tc := range []struct {
		name string
		args []string
		want error
	}{
		{"drop unknown", []string{"drop", pendingID}, outbox.ErrNotFound},
		{"retry unknown", []string{"retry", "00000000000000ff"}, outbox.ErrNotFound},
		{"bad id", []string{"drop", "nope"}, nil},
		{"no id", []string{"retry"}, nil},
		{"bad limit", []string{"ls", "--limit", "0"}, nil},
	} {
		_, err := run(t, cfg, tc.args...)
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: err %v, want an error (%v)", tc.name, err, tc.want)
		}
	}
}

// TestConfigError: a configuration that does not load is the command's
// error.
func TestConfigError(t *testing.T) {
	t.Parallel()
	bad := errors.New("no config")
	cmd := Command(func() (*config.Config, error) { return nil, bad })
	cmd.SetArgs([]string{"ls"})
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	if err := cmd.Execute(); !errors.Is(err, bad) {
		t.Errorf("err %v, want the load error", err)
	}
}
