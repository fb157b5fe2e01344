package weworkcli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/mdp/qrterminal/v3"
	"github.com/spf13/cobra"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/bindings/wework"
)

// MaxVerifyTries is how many verify codes login asks for before giving up.
const MaxVerifyTries = 3

// Errors of login.
var (
	// ErrLoginFailed: the login ended without the instance online (the QR
	// code failed or was refused, the verify code was wrong too often).
	ErrLoginFailed = errors.New("login failed")
	// ErrLoginTimeout: the login did not complete within --timeout.
	ErrLoginTimeout = errors.New("login timed out")
)

// Notify types login follows.
const (
	notifyQRCode = 11002
	notifyLogin  = 11003
	notifyLogout = 11004
)

// QR statuses of the 11002 callback.
const (
	qrWaiting  = 0
	qrScanned  = 1
	qrLoggedIn = 2
	qrFailed   = 3
	qrRefused  = 4
	qrVerify   = 10
)

// maxCallbackBytes bounds a callback body the login listener reads.
const maxCallbackBytes = 1 << 20

type loginOptions struct {
	listen      string
	callbackURL string
	notifyURL   string
	bridge      string
	clientType  int
	poll        time.Duration
	timeout     time.Duration
}

func (a *app) loginCmd() *cobra.Command {
	o := &loginOptions{}
	cmd := &cobra.Command{
		Use:   "login [GUID]",
		Short: "Log an instance in: draws its QR code in the terminal and asks for the verify code a new device needs",
		Long: "Log the instance GUID in (without GUID, a new instance is created). The QR code is drawn in the\n" +
			"terminal: scan it with WeCom on the phone. While the login runs, the instance posts its callbacks\n" +
			"to a listener of this command (--callback-listen, reachable by the vendor at --callback-url); a\n" +
			"login on a new device asks for the verify code WeCom shows on the phone (" + fmt.Sprint(MaxVerifyTries) + " tries). At the end\n" +
			"the instance's notify URL is set to --notify-url, by default this configuration's receiver.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.open()
			if err != nil {
				return err
			}
			if o.poll <= 0 || o.timeout <= 0 {
				return errors.New("--poll and --timeout must be positive")
			}
			if !cmd.Flags().Changed("notify-url") {
				if o.notifyURL, err = receiverURL(s.cfg); err != nil {
					return err
				}
			}
			guid := ""
			if len(args) == 1 {
				guid = args[0]
			}
			l := &login{s: s, o: o, out: cmd.OutOrStdout(), in: cmd.InOrStdin()}
			return l.run(cmd.Context(), guid)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "callback-listen", "127.0.0.1:0", "where this command listens for the instance's callbacks during the login")
	f.StringVar(&o.callbackURL, "callback-url", "", "the URL the vendor posts those callbacks to (default http://<callback-listen>/webhook)")
	f.StringVar(&o.notifyURL, "notify-url", "", "the instance's notify URL once the login ends (default: the runtime's /callback/wework; empty: leave it)")
	f.StringVar(&o.bridge, "bridge", "", "route the instance through this local proxy (bridge) id")
	f.IntVar(&o.clientType, "client-type", 0, "for a new instance: the WeCom client version to emulate")
	f.DurationVar(&o.poll, "poll", 2*time.Second, "how often to poll the instance's status")
	f.DurationVar(&o.timeout, "timeout", 5*time.Minute, "give up when the login takes longer")
	return cmd
}

// login is one run of `wework login`.
type login struct {
	s       *session
	o       *loginOptions
	out     io.Writer
	in      io.Reader
	reader  *bufio.Reader
	pending chan lineOrErr // a line being read
	qr      string         // the QR code on show
}

type lineOrErr struct {
	line string
	err  error
}

// note is a callback as the listener passes it on.
type note struct {
	NotifyType int             `json:"notify_type"`
	GUID       string          `json:"guid"`
	Data       json.RawMessage `json:"data"`
}

func (l *login) run(ctx context.Context, guid string) (err error) {
	ctx, cancel := context.WithTimeout(ctx, l.o.timeout)
	defer cancel()
	if guid == "" {
		if guid, err = l.s.create(ctx, l.o.clientType); err != nil {
			return err
		}
		printf(l.out, "created instance %s\n", guid)
	}
	switch st, err := l.s.status(ctx, guid); {
	case err != nil:
		return err
	case st == statusOnline:
		printf(l.out, "instance %s is already online\n", guid)
		return nil
	case st == statusStopped:
		return fmt.Errorf("%w: instance %s is stopped", ErrLoginFailed, guid)
	}
	if l.o.bridge != "" {
		if err := l.s.call(ctx, "/client/set_bridge", map[string]any{"guid": guid, "bridge": l.o.bridge}, nil); err != nil {
			return err
		}
	}

	notes, stop, err := l.listen(guid)
	if err != nil {
		return err
	}
	defer stop()
	defer func() {
		if l.o.notifyURL == "" {
			return
		}
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer rcancel()
		if rerr := l.s.call(rctx, "/client/set_notify_url", map[string]any{"guid": guid, "notify_url": l.o.notifyURL}, nil); rerr != nil {
			err = errors.Join(err, fmt.Errorf("set the notify url back to %s: %w", l.o.notifyURL, rerr))
			return
		}
		printf(l.out, "callbacks of %s now go to %s\n", guid, l.o.notifyURL)
	}()

	var qr struct {
		Content string `json:"qrcode_content"`
	}
	if err := l.s.call(ctx, "/login/get_login_qrcode", map[string]any{"guid": guid}, &qr); err != nil {
		return err
	}
	if qr.Content == "" {
		return errors.New("get_login_qrcode answered no qrcode_content")
	}
	l.show(qr.Content)
	return l.wait(ctx, guid, notes)
}

// listen starts the callback listener and points the instance at it.
func (l *login) listen(guid string) (<-chan note, func(), error) {
	ln, err := net.Listen("tcp", l.o.listen)
	if err != nil {
		return nil, nil, fmt.Errorf("callback listener: %w", err)
	}
	notes := make(chan note, 64)
	done := make(chan struct{})
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			_, _ = io.WriteString(w, "ok\n")
			return
		}
		var n note
		if err := json.NewDecoder(io.LimitReader(r.Body, maxCallbackBytes)).Decode(&n); err != nil {
			http.Error(w, "not a callback: "+err.Error(), http.StatusBadRequest)
			return
		}
		if n.GUID == guid {
			select {
			case notes <- n:
			case <-done:
			case <-r.Context().Done():
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"code":0}`)
	})}
	go func() { _ = srv.Serve(ln) }()
	stop := func() {
		close(done)
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}
	url := l.o.callbackURL
	if url == "" {
		url = "http://" + ln.Addr().String() + "/webhook"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := l.s.call(ctx, "/client/set_notify_url", map[string]any{"guid": guid, "notify_url": url}, nil); err != nil {
		stop()
		return nil, nil, err
	}
	return notes, stop, nil
}

// show draws a QR code, unless it is the one on show.
func (l *login) show(content string) {
	if content == l.qr {
		return
	}
	l.qr = content
	printf(l.out, "\nScan this QR code with WeCom on your phone:\n\n")
	qrterminal.GenerateHalfBlock(content, qrterminal.L, l.out)
	printf(l.out, "\n%s\nwaiting for the scan...\n", content)
}

// wait follows the login until the instance is online, the login fails,
// or ctx ends.
func (l *login) wait(ctx context.Context, guid string, notes <-chan note) error {
	tick := time.NewTicker(l.o.poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%w after %s: instance %s is not online", ErrLoginTimeout, l.o.timeout, guid)
			}
			return ctx.Err()
		case <-tick.C:
			st, err := l.s.status(ctx, guid)
			if err == nil && st == statusOnline {
				printf(l.out, "login succeeded: instance %s is online\n", guid)
				return nil
			}
		case n := <-notes:
			done, err := l.handle(ctx, guid, n)
			if done || err != nil {
				return err
			}
		}
	}
}

// handle acts on one callback; done reports a completed login.
func (l *login) handle(ctx context.Context, guid string, n note) (done bool, err error) {
	var d map[string]any
	_ = json.Unmarshal(n.Data, &d)
	switch n.NotifyType {
	case notifyLogin:
		who := firstString(d, "nickname", "nick_name", "name")
		id := firstString(d, "user_id", "userid")
		printf(l.out, "login succeeded: %s (%s) is online on instance %s\n", who, id, guid)
		return true, nil
	case notifyLogout:
		printf(l.out, "the instance logged out\n")
		return false, nil
	case notifyQRCode:
	default:
		return false, nil
	}
	status, hasStatus := d["status"].(float64)
	if content := firstString(d, "qrcode_content", "qrcode"); content != "" && (!hasStatus || status == qrWaiting) {
		l.show(content)
	}
	switch {
	case !hasStatus:
	case status == qrScanned:
		printf(l.out, "scanned: confirm the login on your phone\n")
	case status == qrLoggedIn:
		printf(l.out, "confirmed on the phone\n")
	case status == qrFailed:
		return false, fmt.Errorf("%w: the QR code login failed (status 3); run login again for a new code", ErrLoginFailed)
	case status == qrRefused:
		return false, fmt.Errorf("%w: the login was refused on the phone (status 4)", ErrLoginFailed)
	case status == qrVerify:
		return false, l.verify(ctx, guid, firstString(d, "qrcode_key"))
	}
	return false, nil
}

// verify asks for the verify code up to MaxVerifyTries times.
func (l *login) verify(ctx context.Context, guid, key string) error {
	printf(l.out, "\nThis is a new device: enter the verify code WeCom shows on your phone.\n")
	for try := 1; try <= MaxVerifyTries; try++ {
		printf(l.out, "verify code: ")
		line, err := l.readLine(ctx)
		if err != nil {
			return fmt.Errorf("read the verify code: %w", err)
		}
		code := strings.TrimSpace(line)
		left := MaxVerifyTries - try
		if code == "" {
			printf(l.out, "no code entered (tries left: %d)\n", left)
			continue
		}
		args := map[string]any{"guid": guid, "code": code}
		if key != "" {
			args["qrcode_key"] = key
		}
		err = l.s.call(ctx, wework.VerifyPath, args, nil)
		var ve *bindings.VendorError
		switch {
		case err == nil:
			printf(l.out, "verify code accepted; waiting for the login to complete...\n")
			return nil
		case !errors.As(err, &ve) || bindings.Transient(err):
			return err
		}
		printf(l.out, "verify code refused: %s (tries left: %d)\n", ve.Message, left)
	}
	return fmt.Errorf("%w: the verify code was refused %d times", ErrLoginFailed, MaxVerifyTries)
}

// readLine reads one line of input, giving up when ctx ends. A read that
// ctx gave up on stays pending and answers the next call.
func (l *login) readLine(ctx context.Context) (string, error) {
	if l.reader == nil {
		l.reader = bufio.NewReader(l.in)
	}
	if l.pending == nil {
		ch, r := make(chan lineOrErr, 1), l.reader
		go func() {
			line, err := r.ReadString('\n')
			if err != nil && line != "" {
				err = nil
			}
			ch <- lineOrErr{line: line, err: err}
		}()
		l.pending = ch
	}
	select {
	case le := <-l.pending:
		l.pending = nil
		return le.line, le.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func firstString(d map[string]any, keys ...string) string {
	for _, k := range keys {
		if s, ok := d[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}
