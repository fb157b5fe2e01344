package weworkcli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/spf13/cobra"

	"github.com/switchboard-dev/switchboard/bindings/wework/sim"
	"github.com/switchboard-dev/switchboard/runtime/config"
)

// env is a simulator, a stand-in for the runtime's receiver, and a
// configuration pointing at both.
type env struct {
	sim       *sim.Sim
	cfg       *config.Config
	received  atomic.Int32
	notifyURL string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{sim: sim.New(sim.Options{SendInterval: -1})}
	t.Cleanup(e.sim.Close)
	api := httptest.NewServer(e.sim.Handler())
	t.Cleanup(api.Close)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.received.Add(1)
		_, _ = io.WriteString(w, `{"code":0}`)
	}))
	t.Cleanup(receiver.Close)
	e.cfg = config.Default()
	e.cfg.Vendors.Wework.BaseURL = api.URL
	e.cfg.Vendors.Wework.CallbackToken = "tok"
	e.cfg.Listen = strings.TrimPrefix(receiver.URL, "http://")
	e.notifyURL = receiver.URL + "/callback/wework/tok"
	return e
}

func (e *env) command() *cobra.Command {
	return Command(func() (*config.Config, error) { return e.cfg, nil })
}

func ctxFor(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// run runs the command with args, its output in a buffer.
func (e *env) run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := e.command()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetIn(strings.NewReader(""))
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctxFor(t))
	return out.String(), err
}

func (e *env) seed(t *testing.T, in sim.Instance) sim.Instance {
	t.Helper()
	got, err := e.sim.Seed(in)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestInstancesAndStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	out, err := e.run(t, "instances")
	if err != nil || !strings.Contains(out, "no instances") {
		t.Fatalf("empty list: %q, %v", out, err)
	}
	out, err = e.run(t, "instances", "--create", "--client-type", "244")
	if err != nil {
		t.Fatal(err)
	}
	all := e.sim.Instances()
	if len(all) != 1 || !strings.Contains(out, "created instance "+all[0].GUID) || all[0].ClientType != 244 {
		t.Fatalf("create: %q, instances %+v", out, all)
	}
	online := e.seed(t, sim.Instance{User: &sim.User{UserID: "1688"}})
	out, err = e.run(t, "instances")
	if err != nil || !strings.Contains(out, all[0].GUID+"  running (needs a login)") || !strings.Contains(out, online.GUID+"  online") {
		t.Errorf("list: %q, %v", out, err)
	}
	out, err = e.run(t, "status", online.GUID)
	if err != nil || out != online.GUID+": online (status 2)\n" {
		t.Errorf("status: %q, %v", out, err)
	}
	if _, err = e.run(t, "status", "nope"); err == nil || !strings.Contains(err.Error(), "-2") {
		t.Errorf("status of an unknown guid: %v", err)
	}
	out, err = e.run(t, "instances", "--remove", online.GUID)
	if err != nil || !strings.Contains(out, "removed instance "+online.GUID) {
		t.Errorf("remove: %q, %v", out, err)
	}
	if _, ok := e.sim.Instance(online.GUID); ok {
		t.Error("instance still there after --remove")
	}
	if _, err = e.run(t, "instances", "--create", "--remove", "x"); err == nil {
		t.Error("--create with --remove accepted")
	}
}

func TestSessionsAndSend(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := e.seed(t, sim.Instance{
		User:     &sim.User{UserID: "1688856214724417", Name: "郝永平"},
		Contacts: []sim.Contact{{UserID: "7881300000000001", Name: "张三"}, {UserID: "7881300000000002", NoExternalPermission: true}},
		Rooms:    []sim.Room{{ID: "1012345678901", Owner: "1688856214724417", Members: []string{"7881300000000001"}}},
	})
	out, err := e.run(t, "sessions", in.GUID, "--limit", "1")
	want := "S:7881300000000001\tprivate\nS:7881300000000002\tprivate\nR:1012345678901\tgroup\n3 sessions\n"
	if err != nil || out != want {
		t.Errorf("sessions over pages of one: %q, %v; want %q", out, err, want)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		kind    string
		at      []string
		errLike string
	}{
		{name: "text", args: []string{"S:7881300000000001", "你好"}, kind: "text"},
		{name: "at a member", args: []string{"R:1012345678901", "{$@} 大家好", "--at", "7881300000000001"}, kind: "room_at", at: []string{"7881300000000001"}},
		{name: "at everyone", args: []string{"R:1012345678901", "大家好", "--at", "all"}, kind: "room_at", at: []string{"0"}},
		{name: "bare id", args: []string{"7881300000000001", "hi"}, errLike: `"S:<user id>"`},
		{name: "at in a private chat", args: []string{"S:7881300000000001", "hi", "--at", "1"}, errLike: "mentions go to groups"},
		{name: "no permission", args: []string{"S:7881300000000002", "hi"}, errLike: "-4017"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.sim.Sent())
			out, err := e.run(t, append([]string{"send", in.GUID}, tc.args...)...)
			sent := e.sim.Sent()
			if tc.errLike != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errLike) || len(sent) != before {
					t.Errorf("error %v (want %q), %d sends", err, tc.errLike, len(sent)-before)
				}
				return
			}
			if err != nil || !strings.Contains(out, "sent to "+tc.args[0]) || len(sent) != before+1 {
				t.Fatalf("%q, %v", out, err)
			}
			last := sent[len(sent)-1]
			if last.Kind != tc.kind || last.Content != tc.args[1] || strings.Join(last.AtList, ",") != strings.Join(tc.at, ",") {
				t.Errorf("sent %+v", last)
			}
		})
	}
}

func TestMissingBaseURL(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.cfg.Vendors.Wework.BaseURL = ""
	if _, err := e.run(t, "instances"); err == nil || !strings.Contains(err.Error(), "base_url") {
		t.Errorf("error %v, want one naming base_url", err)
	}
	e.cfg.Vendors.Wework.BaseURL = "http://127.0.0.1:1"
	if _, err := e.run(t, "instances"); err == nil || !strings.Contains(err.Error(), "is the WeCom API running") {
		t.Errorf("unreachable vendor: %v", err)
	}
}

// terminal runs a command on a pseudo-terminal and reads what it shows.
type terminal struct {
	t    *testing.T
	ptmx *os.File
	mu   sync.Mutex
	buf  bytes.Buffer
	more chan struct{} // closed and replaced on new output
	done chan error
}

func (e *env) onTerminal(t *testing.T, args ...string) *terminal {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	term := &terminal{t: t, ptmx: ptmx, more: make(chan struct{}), done: make(chan error, 1)}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := ptmx.Read(b)
			term.mu.Lock()
			term.buf.Write(b[:n])
			close(term.more)
			term.more = make(chan struct{})
			term.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	cmd := e.command()
	cmd.SetIn(tty)
	cmd.SetOut(tty)
	cmd.SetErr(tty)
	cmd.SetArgs(args)
	ctx := ctxFor(t)
	go func() { term.done <- cmd.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		_ = tty.Close()
		_ = ptmx.Close()
	})
	return term
}

// waitFor waits until the output holds s at least n times.
func (term *terminal) waitFor(s string, n int) {
	term.t.Helper()
	ctx := ctxFor(term.t)
	for {
		term.mu.Lock()
		have, more := strings.Count(term.buf.String(), s), term.more
		term.mu.Unlock()
		if have >= n {
			return
		}
		select {
		case <-more:
		case <-ctx.Done():
			term.t.Fatalf("waiting for %q ×%d; the terminal shows:\n%s", s, n, term.output())
		}
	}
}

func (term *terminal) output() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.buf.String()
}

func (term *terminal) typeLine(s string) {
	term.t.Helper()
	if _, err := term.ptmx.WriteString(s + "\n"); err != nil {
		term.t.Fatal(err)
	}
}

func (term *terminal) result() error {
	term.t.Helper()
	select {
	case err := <-term.done:
		return err
	case <-ctxFor(term.t).Done():
		term.t.Fatalf("the command did not end; the terminal shows:\n%s", term.output())
		return nil
	}
}

func wrongCode(right string) string {
	if right == "000000" {
		return "111111"
	}
	return "000000"
}

var loginFlags = []string{"--poll", "50ms", "--timeout", "20s"}

func TestLoginOnATerminal(t *testing.T) {
	t.Parallel()
	user := sim.User{UserID: "1688856214724417", Name: "郝永平"}
	for _, tc := range []struct {
		name    string
		scan    sim.Scan
		codes   func(right string) []string
		failed  bool
		errLike string
		shows   []string
	}{
		{name: "plain scan", scan: sim.Scan{User: user}, errLike: "", shows: []string{"scanned: confirm the login", "login succeeded: 郝永平 (1688856214724417)"}},
		{name: "wrong verify code then the right one", scan: sim.Scan{User: user, Verify: true},
			codes: func(right string) []string { return []string{wrongCode(right), right} },
			shows: []string{"verify code refused", "(tries left: 2)", "verify code accepted", "login succeeded: 郝永平"}},
		{name: "three wrong verify codes", scan: sim.Scan{User: user, Verify: true}, failed: true,
			codes:   func(right string) []string { w := wrongCode(right); return []string{w, "", w} },
			errLike: "refused 3 times", shows: []string{"(tries left: 1)", "no code entered", "(tries left: 0)"}},
		{name: "refused on the phone", scan: sim.Scan{User: user, Refuse: true}, failed: true,
			errLike: "refused on the phone", shows: []string{"scanned: confirm the login"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			in := e.seed(t, sim.Instance{})
			term := e.onTerminal(t, append([]string{"login", in.GUID}, loginFlags...)...)
			term.waitFor("waiting for the scan", 1)
			if !strings.Contains(term.output(), "▀") && !strings.Contains(term.output(), "▄") {
				t.Errorf("no QR code drawn:\n%s", term.output())
			}
			login, err := e.sim.ScanQR(ctxFor(t), in.GUID, tc.scan)
			if err != nil {
				t.Fatal(err)
			}
			if tc.codes != nil {
				for i, code := range tc.codes(login.VerifyCode) {
					term.waitFor("verify code: ", i+1)
					term.typeLine(code)
				}
			}
			err = term.result()
			if tc.failed != errors.Is(err, ErrLoginFailed) {
				t.Fatalf("result %v (want failed: %v); terminal:\n%s", err, tc.failed, term.output())
			}
			if tc.failed && !strings.Contains(err.Error(), tc.errLike) {
				t.Errorf("error %q lacks %q", err, tc.errLike)
			}
			for _, s := range tc.shows {
				term.waitFor(s, 1) // the output may trail the result
			}
			got, _ := e.sim.Instance(in.GUID)
			if want := map[bool]int{true: sim.StatusRunning, false: sim.StatusOnline}[tc.failed]; got.Status != want {
				t.Errorf("instance status %d, want %d", got.Status, want)
			}
			if got.NotifyURL != e.notifyURL {
				t.Errorf("notify url %q after the login, want the receiver's %q", got.NotifyURL, e.notifyURL)
			}
		})
	}
}

func TestLoginCreatesAnInstanceAndTimesOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	out, err := e.run(t, "login", "--poll", "20ms", "--timeout", "300ms", "--notify-url", "")
	if !errors.Is(err, ErrLoginTimeout) {
		t.Fatalf("error %v, want a timeout; output:\n%s", err, out)
	}
	all := e.sim.Instances()
	if len(all) != 1 || !strings.Contains(out, "created instance "+all[0].GUID) || all[0].QRCodeKey == "" {
		t.Errorf("instances %+v, output:\n%s", all, out)
	}
	if !strings.HasPrefix(all[0].NotifyURL, "http://127.0.0.1:") || !strings.HasSuffix(all[0].NotifyURL, "/webhook") {
		t.Errorf("with --notify-url \"\" the login's listener stays: %q", all[0].NotifyURL)
	}
}

func TestLoginOfAnOnlineOrStoppedInstance(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	online := e.seed(t, sim.Instance{User: &sim.User{UserID: "1688"}})
	out, err := e.run(t, "login", online.GUID)
	if err != nil || !strings.Contains(out, "already online") {
		t.Errorf("online: %q, %v", out, err)
	}
	stopped := e.seed(t, sim.Instance{Stopped: true})
	if _, err := e.run(t, "login", stopped.GUID); !errors.Is(err, ErrLoginFailed) {
		t.Errorf("stopped: %v", err)
	}
	if _, err := e.run(t, "login", online.GUID, "--poll", "0s"); err == nil {
		t.Error("--poll 0 accepted")
	}
}

func TestReceiverURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		listen, token, want string
		bad                 bool
	}{
		{listen: "0.0.0.0:8088", want: "http://127.0.0.1:8088/callback/wework"},
		{listen: ":8088", token: "s3cret", want: "http://127.0.0.1:8088/callback/wework/s3cret"},
		{listen: "[::]:9000", want: "http://127.0.0.1:9000/callback/wework"},
		{listen: "10.0.0.5:8088", want: "http://10.0.0.5:8088/callback/wework"},
		{listen: "[fd00::1]:8088", want: "http://[fd00::1]:8088/callback/wework"},
		{listen: "8088", bad: true},
	} {
		t.Run(tc.listen, func(t *testing.T) {
			t.Parallel()
			cfg := config.Default()
			cfg.Listen, cfg.Vendors.Wework.CallbackToken = tc.listen, tc.token
			got, err := receiverURL(cfg)
			if tc.bad != (err != nil) || got != tc.want {
				t.Errorf("receiverURL(%q) = %q, %v; want %q", tc.listen, got, err, tc.want)
			}
		})
	}
}

func TestStatusText(t *testing.T) {
	t.Parallel()
	for status, want := range map[int]string{0: "stopped", 1: "running (needs a login)", 2: "online", 7: "unknown (7)"} {
		if got := StatusText(status); got != want {
			t.Errorf("StatusText(%d) = %q, want %q", status, got, want)
		}
	}
}
