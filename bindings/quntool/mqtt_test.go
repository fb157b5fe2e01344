package quntool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/bindings/quntool/sim"
)

// Ids of the MQTT tests' world.
const (
	mqttAccount  = "1688850000000001"
	mqttCustomer = "7881300000000001"
	mqttMember   = "7881300000000002"
)

// mqttWorld is a simulated vendor with an account, a customer and a
// group, serving its HTTP API and its MQTT broker on local ports.
type mqttWorld struct {
	sim    *sim.Sim
	http   *Client
	broker string // tcp://127.0.0.1:port
	room   string
	stop   func() // stops the broker and waits for it
}

func newMQTTWorld(t *testing.T, opts sim.Options) *mqttWorld {
	t.Helper()
	s := sim.New(opts)
	t.Cleanup(s.Close)
	if _, err := s.Seed(sim.Account{WxID: mqttAccount, Nickname: "Alice"}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{mqttCustomer, mqttMember} {
		if err := s.AddContact(mqttAccount, sim.Contact{UserID: id, Name: "c" + id[len(id)-1:]}); err != nil {
			t.Fatal(err)
		}
	}
	rm, err := s.AddRoom(sim.Room{Owner: mqttAccount, Name: "team", Members: []string{mqttCustomer, mqttMember}})
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(s.Handler())
	t.Cleanup(api.Close)

	w := &mqttWorld{sim: s, room: rm.ID,
		http: NewClient(Config{BaseURL: api.URL + sim.APIPrefix, HTTP: api.Client(), Timeout: 5 * time.Second})}
	w.serve(t, "127.0.0.1:0")
	return w
}

// serve runs the simulator's broker on addr, setting w.broker and w.stop.
func (w *mqttWorld) serve(t *testing.T, addr string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- w.sim.ServeMQTT(ctx, ln) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-served; err != nil {
				t.Errorf("ServeMQTT: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	w.broker, w.stop = "tcp://"+ln.Addr().String(), stop
}

// client connects an MQTTClient to the world's broker.
func (w *mqttWorld) client(t *testing.T, timeout time.Duration) *MQTTClient {
	t.Helper()
	c, err := NewMQTTClient(MQTTConfig{URL: w.broker, Timeout: timeout, HTTP: w.http})
	if err != nil {
		t.Fatalf("NewMQTTClient: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// bareBroker runs a broker nobody answers on, and answers its URL and a
// func that stops it.
func bareBroker(t *testing.T) (string, func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := mochi.New(&mochi.Options{InlineClient: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := server.AddHook(new(openBroker), nil); err != nil {
		t.Fatal(err)
	}
	if err := server.AddListener(listeners.NewNet("bare", ln)); err != nil {
		t.Fatal(err)
	}
	if err := server.Serve(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() { once.Do(func() { _ = server.Close() }) }
	t.Cleanup(stop)
	return "tcp://" + ln.Addr().String(), stop
}

// openBroker lets every client connect, publish and subscribe.
type openBroker struct{ mochi.HookBase }

func (*openBroker) ID() string { return "open" }

func (*openBroker) Provides(b byte) bool {
	return b == mochi.OnConnectAuthenticate || b == mochi.OnACLCheck
}

func (*openBroker) OnConnectAuthenticate(*mochi.Client, packets.Packet) bool { return true }

func (*openBroker) OnACLCheck(*mochi.Client, string, bool) bool { return true }

func msgID(t *testing.T, data json.RawMessage) string {
	t.Helper()
	var d struct {
		MsgID string `json:"msgId"`
	}
	if err := json.Unmarshal(data, &d); err != nil || d.MsgID == "" {
		t.Fatalf("answer %s has no msgId (%v)", data, err)
	}
	return d.MsgID
}

// TestMQTTType follows the vendor's list of MQTT types.
func TestMQTTType(t *testing.T) {
	t.Parallel()
	cases := []struct {
		endpoint string
		want     string // "" when the endpoint does not go over MQTT
	}{
		{"msg.text", "text"},
		{"msg.roomAt", "roomAt"},
		{"msg.image", "image"},
		{"msg.personCard", "personCard"},
		{"msg.link", "link"},
		{"msg.file", "file"},
		{"msg.video", "video"},
		{"msg.miniProgram", "miniProgram"},
		{"msg.gif", "gif"},
		{"msg.videoNum", "videoNum"},
		{"msg.voice", ""},
		{"msg.quote", ""},
		{"miniProgram.send", ""},
		{"videonum.send", ""},
		{"group.list", ""},
	}
	for _, tc := range cases {
		t.Run(tc.endpoint, func(t *testing.T) {
			t.Parallel()
			got, ok := MQTTType(endpoint(t, tc.endpoint))
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("MQTTType = %q, %v; want %q", got, ok, tc.want)
			}
		})
	}
	if _, ok := MQTTType(nil); ok {
		t.Error("MQTTType(nil) is an MQTT send")
	}
}

// TestMQTTSends sends text and roomAt messages over MQTT: they arrive as
// the vendor's sends, with the msgId the answer carried.
func TestMQTTSends(t *testing.T) {
	t.Parallel()
	w := newMQTTWorld(t, sim.Options{SendInterval: -1})
	c := w.client(t, 5*time.Second)
	ctx := testContext(t)
	private := PrivateConversationID(mqttCustomer, mqttAccount)
	cases := []struct {
		name, endpoint string
		args           map[string]any
		wantKind       string
		wantConv       string
		wantContent    string
	}{
		{"text", "msg.text", map[string]any{"wxId": mqttAccount, "conversationId": private, "content": "你好啊"},
			"text", private, "你好啊"},
		{"text to a reversed private id", "msg.text",
			map[string]any{"wxId": mqttAccount, "conversationId": "S:" + mqttCustomer + "_" + mqttAccount, "content": "again"},
			"text", private, "again"},
		{"roomAt", "msg.roomAt", map[string]any{"wxId": mqttAccount, "conversationId": w.room,
			"content": "{$@} look", "atList": []string{mqttMember}}, "roomAt", w.room, "{$@} look"},
	}
	for i, tc := range cases {
		data, err := c.Do(ctx, endpoint(t, tc.endpoint), tc.args)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		id := msgID(t, data)
		sent, err := w.sim.WaitSent(ctx, i+1)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got := sent[i]
		if got.Kind != tc.wantKind || got.ConversationID != tc.wantConv || got.Content != tc.wantContent || got.MsgID != id {
			t.Errorf("%s: sent %+v, want kind %s in %s with %q and msgId %s", tc.name, got, tc.wantKind, tc.wantConv, tc.wantContent, id)
		}
	}
}

// TestMQTTOtherEndpointsGoOverHTTP: endpoints the vendor does not take
// over MQTT are the HTTP client's.
func TestMQTTOtherEndpointsGoOverHTTP(t *testing.T) {
	t.Parallel()
	w := newMQTTWorld(t, sim.Options{SendInterval: -1})
	c := w.client(t, 5*time.Second)
	ctx := testContext(t)
	data, err := c.Do(ctx, endpoint(t, "group.list"), map[string]any{"wxId": mqttAccount})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), w.room) {
		t.Errorf("group.list answered %s, without %s", data, w.room)
	}
	// The vendor takes no quote over MQTT: this one goes over HTTP.
	data, err = c.Do(ctx, endpoint(t, "msg.quote"), map[string]any{"wxId": mqttAccount,
		"conversationId": w.room, "content": "re", "serverId": "1"})
	if err != nil {
		t.Fatalf("msg.quote: %v", err)
	}
	id := msgID(t, data)
	if sent := w.sim.Sent(); len(sent) != 1 || sent[0].Kind != "quote" || sent[0].MsgID != id {
		t.Errorf("msg.quote answered %s; sent %+v", data, sent)
	}
}

// TestMQTTVendorError: a refused send is a *bindings.VendorError with the
// vendor's code, and arguments are checked before anything is published.
func TestMQTTVendorError(t *testing.T) {
	t.Parallel()
	w := newMQTTWorld(t, sim.Options{SendInterval: time.Hour})
	c := w.client(t, 5*time.Second)
	ctx := testContext(t)
	text := endpoint(t, "msg.text")
	private := PrivateConversationID(mqttCustomer, mqttAccount)
	if _, err := c.Do(ctx, text, map[string]any{"wxId": mqttAccount, "conversationId": private, "content": "one"}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		args     map[string]any
		wantCode int
		wantIs   error
	}{
		{"too soon", map[string]any{"wxId": mqttAccount, "conversationId": private, "content": "two"},
			sim.CodeFrequency, bindings.ErrVendorThrottled},
		{"unknown account", map[string]any{"wxId": "1688859999999999", "conversationId": private, "content": "x"},
			0, nil},
	}
	for _, tc := range cases {
		_, err := c.Do(ctx, text, tc.args)
		var ve *bindings.VendorError
		if !errors.As(err, &ve) {
			t.Fatalf("%s: %v, want a *bindings.VendorError", tc.name, err)
		}
		if ve.Vendor != Name || ve.Message == "" || ve.Code == 0 || (tc.wantCode != 0 && ve.Code != tc.wantCode) {
			t.Errorf("%s: %+v, want code %d with a message", tc.name, ve, tc.wantCode)
		}
		if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
			t.Errorf("%s: %v is not %v", tc.name, err, tc.wantIs)
		}
		if !strings.HasPrefix(err.Error(), "quntool.msg.text: ") {
			t.Errorf("%s: %q does not name the endpoint", tc.name, err)
		}
	}

	refused := []struct {
		name string
		args map[string]any
		want error
	}{
		{"no conversation prefix", map[string]any{"wxId": mqttAccount, "conversationId": mqttCustomer, "content": "x"}, bindings.ErrInvalidConversation},
		{"reserved id", map[string]any{"wxId": mqttAccount, "conversationId": private, "content": "x", "ID": "1"}, nil},
		{"reserved type", map[string]any{"wxId": mqttAccount, "conversationId": private, "content": "x", "type": "image"}, nil},
	}
	for _, tc := range refused {
		_, err := c.Do(ctx, text, tc.args)
		var ae *bindings.ArgumentError
		if !errors.As(err, &ae) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: %v, want a *bindings.ArgumentError matching %v", tc.name, err, tc.want)
		}
	}
	if n := len(w.sim.Sent()); n != 1 {
		t.Errorf("%d sends recorded, want only the first", n)
	}
}

// TestMQTTConcurrentSends: answers are matched to their sends by id.
func TestMQTTConcurrentSends(t *testing.T) {
	t.Parallel()
	w := newMQTTWorld(t, sim.Options{SendInterval: -1})
	c := w.client(t, 10*time.Second)
	ctx := testContext(t)
	text := endpoint(t, "msg.text")
	private := PrivateConversationID(mqttCustomer, mqttAccount)
	const n = 24
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			data, err := c.Do(ctx, text, map[string]any{"wxId": mqttAccount, "conversationId": private, "content": fmt.Sprintf("message %d", i)})
			if err != nil {
				errs[i] = err
				return
			}
			var d struct {
				MsgID string `json:"msgId"`
			}
			errs[i] = json.Unmarshal(data, &d)
			ids[i] = d.MsgID
		})
	}
	wg.Wait()
	sent, err := w.sim.WaitSent(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	byMsgID := map[string]string{}
	for _, s := range sent {
		byMsgID[s.MsgID] = s.Content
	}
	for i := range n {
		if errs[i] != nil {
			t.Errorf("send %d: %v", i, errs[i])
			continue
		}
		if want := fmt.Sprintf("message %d", i); byMsgID[ids[i]] != want {
			t.Errorf("send %d answered msgId %q, which sent %q", i, ids[i], byMsgID[ids[i]])
		}
	}
}

// TestMQTTLostBroker: a send while the broker is gone, or whose broker
// goes away before answering, fails with a transport error that says so.
func TestMQTTLostBroker(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	text := endpoint(t, "msg.text")
	args := map[string]any{"wxId": mqttAccount, "conversationId": PrivateConversationID(mqttCustomer, mqttAccount), "content": "x"}

	t.Run("gone before the send", func(t *testing.T) {
		t.Parallel()
		w := newMQTTWorld(t, sim.Options{SendInterval: -1})
		c := w.client(t, 5*time.Second)
		w.stop()
		waitState(t, ctx, c, false)
		_, err := c.Do(ctx, text, args)
		if !errors.Is(err, bindings.ErrTransport) || !strings.Contains(err.Error(), "not connected to tcp://127.0.0.1:") {
			t.Errorf("send after the broker stopped: %v, want a transport error naming the broker", err)
		}
	})

	t.Run("gone while waiting", func(t *testing.T) {
		t.Parallel()
		url, stop := bareBroker(t)
		c, err := NewMQTTClient(MQTTConfig{URL: url, Timeout: 10 * time.Second, HTTP: NewClient(Config{BaseURL: "http://127.0.0.1:1/gnapi/open"})})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		done := make(chan error, 1)
		go func() {
			_, err := c.Do(ctx, text, args)
			done <- err
		}()
		waitPending(t, ctx, c, 1)
		stop()
		select {
		case err = <-done:
		case <-ctx.Done():
			t.Fatal("the send did not end when the broker went away")
		}
		if !errors.Is(err, bindings.ErrTransport) || !strings.Contains(err.Error(), "connection to tcp://127.0.0.1:") ||
			!strings.Contains(err.Error(), "lost") {
			t.Errorf("send whose broker went away: %v, want a transport error saying the connection was lost", err)
		}
	})

	t.Run("no broker", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		_ = ln.Close()
		_, err = NewMQTTClient(MQTTConfig{URL: "tcp://" + addr, Timeout: 5 * time.Second, HTTP: NewClient(Config{})})
		if !errors.Is(err, bindings.ErrTransport) || !strings.Contains(err.Error(), addr) {
			t.Errorf("NewMQTTClient without a broker: %v, want a transport error naming %s", err, addr)
		}
	})
}

// waitState waits until c is connected and subscribed, or not.
func waitState(t *testing.T, ctx context.Context, c *MQTTClient, ready bool) {
	t.Helper()
	waitClient(t, ctx, c, fmt.Sprintf("ready %v", ready), func() bool { return c.ready == ready })
}

// waitPending waits until c has n sends waiting for their answers.
func waitPending(t *testing.T, ctx context.Context, c *MQTTClient, n int) {
	t.Helper()
	waitClient(t, ctx, c, fmt.Sprintf("%d sends pending", n), func() bool { return len(c.pending) == n })
}

// waitClient polls cond, under c's lock, until it holds.
func waitClient(t *testing.T, ctx context.Context, c *MQTTClient, what string, cond func() bool) {
	t.Helper()
	for {
		c.mu.Lock()
		ok := cond()
		c.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the client never had %s", what)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestMQTTReconnects: when the broker comes back, the client reconnects,
// subscribes again and sends.
func TestMQTTReconnects(t *testing.T) {
	t.Parallel()
	w := newMQTTWorld(t, sim.Options{SendInterval: -1})
	c := w.client(t, 5*time.Second)
	ctx := testContext(t)
	w.stop()
	waitState(t, ctx, c, false)
	w.serve(t, strings.TrimPrefix(w.broker, "tcp://"))
	waitState(t, ctx, c, true)
	data, err := c.Do(ctx, endpoint(t, "msg.text"), map[string]any{"wxId": mqttAccount,
		"conversationId": PrivateConversationID(mqttCustomer, mqttAccount), "content": "back"})
	if err != nil {
		t.Fatalf("send after reconnecting: %v", err)
	}
	if sent := w.sim.Sent(); len(sent) != 1 || sent[0].MsgID != msgID(t, data) || sent[0].Content != "back" {
		t.Errorf("sent %+v, answered %s", sent, data)
	}
}

// TestMQTTTimeout: a send nobody answers fails after the timeout with
// ErrMQTTTimeout; a cancelled context ends the wait with its error.
func TestMQTTTimeout(t *testing.T) {
	t.Parallel()
	url, _ := bareBroker(t)
	c, err := NewMQTTClient(MQTTConfig{URL: url, Timeout: 300 * time.Millisecond, HTTP: NewClient(Config{})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	text := endpoint(t, "msg.text")
	args := map[string]any{"wxId": mqttAccount, "conversationId": PrivateConversationID(mqttCustomer, mqttAccount), "content": "x"}

	_, err = c.Do(testContext(t), text, args)
	if !errors.Is(err, ErrMQTTTimeout) || !errors.Is(err, bindings.ErrTransport) || !strings.Contains(err.Error(), "may still be sent") {
		t.Errorf("unanswered send: %v, want ErrMQTTTimeout", err)
	}

	ctx, cancel := context.WithCancel(testContext(t))
	cancel()
	if _, err = c.Do(ctx, text, args); !errors.Is(err, context.Canceled) || errors.Is(err, ErrMQTTTimeout) {
		t.Errorf("cancelled send: %v, want context.Canceled", err)
	}
	waitPending(t, testContext(t), c, 0)
}

// TestMQTTClose: sends after Close fail with ErrMQTTClosed, other
// endpoints still go over HTTP, and Close is idempotent.
func TestMQTTClose(t *testing.T) {
	t.Parallel()
	w := newMQTTWorld(t, sim.Options{SendInterval: -1})
	c := w.client(t, 5*time.Second)
	ctx := testContext(t)
	for i := range 2 {
		if err := c.Close(); err != nil {
			t.Fatalf("Close %d: %v", i, err)
		}
	}
	_, err := c.Do(ctx, endpoint(t, "msg.text"), map[string]any{"wxId": mqttAccount,
		"conversationId": PrivateConversationID(mqttCustomer, mqttAccount), "content": "x"})
	if !errors.Is(err, ErrMQTTClosed) {
		t.Errorf("send after Close: %v, want ErrMQTTClosed", err)
	}
	if _, err := c.Do(ctx, endpoint(t, "group.list"), map[string]any{"wxId": mqttAccount}); err != nil {
		t.Errorf("group.list after Close: %v", err)
	}
}

// TestNewMQTTClientConfig: a bad configuration is refused before
// connecting.
func TestNewMQTTClientConfig(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		cfg  MQTTConfig
		want string
	}{
		{"no http client", MQTTConfig{URL: "tcp://127.0.0.1:1884"}, "no HTTP client"},
		{"no url", MQTTConfig{HTTP: NewClient(Config{})}, "want tcp://host:port"},
		{"no host", MQTTConfig{URL: "tcp://", HTTP: NewClient(Config{})}, "want tcp://host:port"},
		{"http scheme", MQTTConfig{URL: "http://127.0.0.1:1884", HTTP: NewClient(Config{})}, `scheme "http"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewMQTTClient(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) || errors.Is(err, bindings.ErrTransport) {
				t.Errorf("NewMQTTClient: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestMQTTAnswerResult reads the vendor's answers, including the shapes
// it may send that the simulator does not.
func TestMQTTAnswerResult(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		answer   string
		want     string // the data, when accepted
		wantCode int    // the vendor error's code, when refused
	}{
		{"documented", `{"id":"1234567","msgId":"7B8D35DA-1D52-46E0-8A7C-356CF52C3007"}`, `{"msgId":"7B8D35DA-1D52-46E0-8A7C-356CF52C3007"}`, 0},
		{"code 0", `{"id":"1","msgId":"m","code":0,"msg":""}`, `{"msgId":"m"}`, 0},
		{"refused", `{"id":"1","msgId":null,"code":-1000999,"msg":"Abnormal request frequency"}`, "", -1000999},
		{"code as string", `{"id":"1","code":"-2003","msg":"bad conversation"}`, "", -2003},
		{"no msgId", `{"id":"1"}`, "", 0},
		{"code not a number", `{"id":"1","code":"x"}`, "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var a mqttAnswer
			if err := json.Unmarshal([]byte(tc.answer), &a); err != nil {
				t.Fatal(err)
			}
			data, err := a.result()
			var ve *bindings.VendorError
			switch {
			case tc.want != "":
				if err != nil || string(data) != tc.want {
					t.Errorf("result = %s, %v; want %s", data, err, tc.want)
				}
			case tc.wantCode != 0:
				if !errors.As(err, &ve) || ve.Code != tc.wantCode || ve.Message == "" {
					t.Errorf("result error %v, want vendor code %d", err, tc.wantCode)
				}
			default:
				if !errors.Is(err, bindings.ErrTransport) {
					t.Errorf("result error %v, want a transport error", err)
				}
			}
		})
	}
}
