package quntool

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/switchboard-dev/switchboard/bindings"
)

// The vendor's MQTT sending: a send is published on MQTTSendTopic as the
// JSON of the HTTP send plus "type" and "id", and the vendor answers
// {"id", "msgId"} on MQTTResponseTopic. The vendor's broker listens on port
// 1884 of the Quntool host.
const (
	MQTTSendTopic     = "SendMessage"
	MQTTResponseTopic = "SendMessageResp"
	DefaultMQTTPort   = 1884
)

// mqttQoS is the quality of service of the send and of the answers'
// subscription: the broker acknowledges every send.
const mqttQoS = 1

// mqttTypes maps the msg.* endpoints the vendor accepts over MQTT (by the
// last element of their path, lower-cased) onto the "type" the vendor
// names them by. msg.voice and msg.quote are not among them and go over
// HTTP, as do the sends by id (miniProgram.send, videonum.send).
var mqttTypes = func() map[string]string {
	m := map[string]string{}
	for _, t := range []string{"text", "image", "personCard", "link", "file", "video", "miniProgram", "roomAt", "gif", "videoNum"} {
		m[strings.ToLower(t)] = t
	}
	return m
}()

// MQTTType answers the vendor's MQTT "type" for ep ("text" for msg.text,
// "roomAt" for msg.roomAt...) and whether ep can be sent over MQTT at all.
func MQTTType(ep *bindings.Endpoint) (string, bool) {
	if ep == nil || ep.Class != bindings.Send {
		return "", false
	}
	dir, last, ok := strings.Cut(strings.TrimPrefix(ep.Path, "/"), "/")
	if !ok || dir != "msg" || strings.Contains(last, "/") {
		return "", false
	}
	t, ok := mqttTypes[strings.ToLower(last)]
	return t, ok
}

// Errors of the MQTT transport callers act on.
var (
	// ErrMQTTClosed: a send was asked of an MQTTClient after Close.
	ErrMQTTClosed = errors.New("quntool mqtt client is closed")
	// ErrMQTTTimeout: the vendor did not answer a published send in time.
	// The message may still be delivered: do not resend blindly.
	ErrMQTTTimeout = errors.New("no answer from quntool over mqtt")
)

// MQTTConfig configures an MQTTClient.
type MQTTConfig struct {
	// URL is the vendor's broker: "tcp://host:1884" (ssl://, ws:// and
	// wss:// also work). Required.
	URL string
	// Username and Password are sent when connecting, if set; the vendor
	// documents none.
	Username string
	Password string
	// ClientID identifies the connection to the broker; a random
	// "switchboard-..." id when empty. Two connections with one id push
	// each other off the broker.
	ClientID string
	// Timeout bounds connecting and each send's wait for its answer when
	// the context has no earlier deadline (DefaultTimeout when zero).
	Timeout time.Duration
	// HTTP carries every call that is not an MQTT send. Required.
	HTTP *Client
}

// MQTTClient is Quntool's bindings.Client with sends over MQTT: msg.text,
// msg.roomAt, msg.image, msg.personCard, msg.link, msg.file, msg.video,
// msg.miniProgram, msg.gif and msg.videoNum are published on MQTTSendTopic
// and answered on MQTTResponseTopic, matched by a random id; every other
// endpoint goes to the HTTP Client. It reconnects by itself when the
// broker connection drops; sends asked while it is disconnected fail at
// once. Build it with NewMQTTClient, call Close when done; it is safe for
// concurrent use.
type MQTTClient struct {
	http    *Client
	conn    paho.Client
	broker  string
	timeout time.Duration

	mu      sync.Mutex
	pending map[string]chan mqttAnswer
	ready   bool  // connected and subscribed to the answers
	down    error // why it is not ready, when it is not
	closed  bool
}

var _ bindings.Client = (*MQTTClient)(nil)

// mqttAnswer is what the vendor publishes on MQTTResponseTopic: id and
// msgId as documented, and for a refused send the envelope's code and msg.
type mqttAnswer struct {
	ID    string          `json:"id"`
	MsgID *string         `json:"msgId"`
	Code  json.RawMessage `json:"code"`
	Msg   json.RawMessage `json:"msg"`
	err   error           // set instead when the connection was lost
}

// NewMQTTClient connects to cfg.URL and subscribes to the answers,
// within cfg.Timeout. An unreachable broker is an error matching
// bindings.ErrTransport; a bad configuration, a plain error.
func NewMQTTClient(cfg MQTTConfig) (*MQTTClient, error) {
	if cfg.HTTP == nil {
		return nil, errors.New("quntool mqtt: no HTTP client for the calls that are not sends")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("quntool mqtt: broker url %q: want tcp://host:port", cfg.URL)
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss":
	default:
		return nil, fmt.Errorf("quntool mqtt: broker url %q: scheme %q is not tcp, ssl, ws or wss", cfg.URL, u.Scheme)
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	id := cfg.ClientID
	if id == "" {
		id = "switchboard-" + randomID()
	}
	c := &MQTTClient{http: cfg.HTTP, broker: u.Redacted(), timeout: timeout,
		pending: map[string]chan mqttAnswer{}, down: errors.New("not yet connected")}
	subscribed := make(chan error, 1)
	opts := paho.NewClientOptions().AddBroker(cfg.URL).SetClientID(id).
		SetUsername(cfg.Username).SetPassword(cfg.Password).
		SetCleanSession(true).SetConnectTimeout(timeout).
		SetAutoReconnect(true).SetMaxReconnectInterval(30 * time.Second).
		SetOrderMatters(false).
		SetOnConnectHandler(func(conn paho.Client) {
			err := c.subscribe(conn)
			select {
			case subscribed <- err:
			default:
			}
		}).
		SetConnectionLostHandler(func(_ paho.Client, err error) { c.lost(err) })
	c.conn = paho.NewClient(opts)

	tok := c.conn.Connect()
	if !tok.WaitTimeout(timeout) {
		c.conn.Disconnect(0)
		return nil, fmt.Errorf("%w: quntool mqtt: connect to %s: no answer within %s", bindings.ErrTransport, c.broker, timeout)
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("%w: quntool mqtt: connect to %s: %w", bindings.ErrTransport, c.broker, err)
	}
	select {
	case err = <-subscribed:
	case <-time.After(timeout):
		err = fmt.Errorf("no answer within %s", timeout)
	}
	if err != nil {
		c.conn.Disconnect(0)
		return nil, fmt.Errorf("%w: quntool mqtt: subscribe to %s on %s: %w", bindings.ErrTransport, MQTTResponseTopic, c.broker, err)
	}
	return c, nil
}

// subscribe subscribes to the answers after each (re)connection: the
// session is clean, so the broker forgets the subscription with the
// connection.
func (c *MQTTClient) subscribe(conn paho.Client) error {
	tok := conn.Subscribe(MQTTResponseTopic, mqttQoS, func(_ paho.Client, m paho.Message) { c.answer(m.Payload()) })
	var err error
	switch {
	case !tok.WaitTimeout(c.timeout):
		err = fmt.Errorf("no answer within %s", c.timeout)
	case tok.Error() != nil:
		err = tok.Error()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.ready, c.down = false, fmt.Errorf("subscribe to %s: %w", MQTTResponseTopic, err)
		return err
	}
	c.ready, c.down = true, nil
	return nil
}

// lost fails every send waiting for its answer: the answer, if the vendor
// ever publishes it, went to the dropped connection.
func (c *MQTTClient) lost(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ready, c.down = false, fmt.Errorf("connection lost: %w", err)
	for id, ch := range c.pending {
		ch <- mqttAnswer{err: fmt.Errorf("%w: quntool mqtt: connection to %s lost while waiting for the answer: %w",
			bindings.ErrTransport, c.broker, err)}
		delete(c.pending, id)
	}
}

// answer hands an answer to the send waiting for its id. Answers to
// other clients' sends on the same broker, and late answers, are dropped.
func (c *MQTTClient) answer(payload []byte) {
	var a mqttAnswer
	if err := json.Unmarshal(payload, &a); err != nil || a.ID == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch, ok := c.pending[a.ID]; ok {
		ch <- a
		delete(c.pending, a.ID)
	}
}

// Do implements bindings.Client. An MQTT send answers {"msgId": ...} like
// the HTTP send, or: a *bindings.ArgumentError for arguments refused
// before sending (as Client.Do); a *bindings.VendorError for a refused
// send; an error matching ErrMQTTTimeout (and bindings.ErrTransport) when
// no answer came in time; an error matching bindings.ErrTransport when the
// broker is not connected or the connection drops before the answer;
// ErrMQTTClosed after Close. Any other endpoint is the HTTP Client's Do.
func (c *MQTTClient) Do(ctx context.Context, ep *bindings.Endpoint, args map[string]any) (json.RawMessage, error) {
	typ, ok := MQTTType(ep)
	if !ok {
		return c.http.Do(ctx, ep, args)
	}
	data, err := c.send(ctx, ep, typ, args)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ep.Permission(), err)
	}
	return data, nil
}

func (c *MQTTClient) send(ctx context.Context, ep *bindings.Endpoint, typ string, args map[string]any) (json.RawMessage, error) {
	msg, err := prepareArgs(ep, args)
	if err != nil {
		return nil, err
	}
	for k := range msg {
		if strings.EqualFold(k, "type") || strings.EqualFold(k, "id") {
			return nil, &bindings.ArgumentError{Endpoint: ep.Permission(), Param: k,
				Reason: "is reserved for the mqtt message's own type and id"}
		}
	}
	id := randomID()
	msg["type"], msg["id"] = typ, id
	payload, err := json.Marshal(msg)
	if err != nil {
		return nil, &bindings.ArgumentError{Endpoint: ep.Permission(), Reason: fmt.Sprintf("not encodable as JSON: %v", err)}
	}

	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	ch := make(chan mqttAnswer, 1)
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return nil, ErrMQTTClosed
	case !c.ready:
		down := c.down
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: quntool mqtt: not connected to %s: %w", bindings.ErrTransport, c.broker, down)
	}
	c.pending[id] = ch
	c.mu.Unlock()
	defer c.forget(id)

	tok := c.conn.Publish(MQTTSendTopic, mqttQoS, false, payload)
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return nil, fmt.Errorf("%w: quntool mqtt: publish to %s on %s: %w", bindings.ErrTransport, MQTTSendTopic, c.broker, err)
		}
	case a := <-ch: // answered before the broker's acknowledgement arrived
		return a.result()
	case <-ctx.Done():
		return nil, waitError(ctx, start, id, "the broker's acknowledgement", c.broker)
	}
	select {
	case a := <-ch:
		return a.result()
	case <-ctx.Done():
		return nil, waitError(ctx, start, id, "the answer on "+MQTTResponseTopic, c.broker)
	}
}

// waitError is the error for a send whose wait, begun at start, ended
// with ctx.
func waitError(ctx context.Context, start time.Time, id, what, broker string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w: waited %s for %s to send id %s on %s; the message may still be sent",
			bindings.ErrTransport, ErrMQTTTimeout, time.Since(start).Round(time.Millisecond), what, id, broker)
	}
	return fmt.Errorf("quntool mqtt: waiting for %s to send id %s: %w", what, id, ctx.Err())
}

func (c *MQTTClient) forget(id string) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// result turns an answer into the send's data or error.
func (a mqttAnswer) result() (json.RawMessage, error) {
	if a.err != nil {
		return nil, a.err
	}
	code, ok := int64(0), true
	if len(a.Code) > 0 && string(a.Code) != "null" {
		code, ok = bindings.EnvelopeCode(a.Code)
	}
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: quntool mqtt: answer to send id %s has code %s, not a number", bindings.ErrTransport, a.ID, a.Code)
	case code != 0:
		return nil, &bindings.VendorError{Vendor: Name, Code: int(code), Message: envelopeText(a.Msg)}
	case a.MsgID == nil || *a.MsgID == "":
		return nil, fmt.Errorf("%w: quntool mqtt: answer to send id %s has no msgId", bindings.ErrTransport, a.ID)
	}
	return json.Marshal(map[string]string{"msgId": *a.MsgID})
}

// Close fails the sends still waiting, disconnects from the broker and
// stops reconnecting. Sends asked afterwards fail with ErrMQTTClosed;
// other endpoints still go to the HTTP Client. Close is idempotent.
func (c *MQTTClient) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed, c.ready = true, false
	for id, ch := range c.pending {
		ch <- mqttAnswer{err: ErrMQTTClosed}
		delete(c.pending, id)
	}
	c.mu.Unlock()
	c.conn.Disconnect(250)
	return nil
}

// randomID is the send's "id": a random decimal number, as the vendor's
// document asks ("不重复的随机数").
func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return strconv.FormatUint(binary.BigEndian.Uint64(b[:])>>1, 10)
}
