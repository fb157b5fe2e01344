// Package sim is an in-memory, stateful fake of msg-server, the WeCom
// chat-archive service: the four endpoints under /api/v1/chat-msg (sync,
// sessions, session-msgs, search) with the vendor's {code, message, data}
// envelope, its HMAC-SHA256 signature in either of its encodings, its
// error codes (400, 401, 1001-1006, ...) and its documented limits (pages
// of at most 100, at most 100 requests per second).
//
// The archive is kept per company (corp) and staff member. Tests add
// messages with AddMessage; like messages WeCom has archived but the
// service has not yet synced, they stay pending, invisible to every query,
// until a sync (POST /chat-msg/sync, or Sync) makes them visible and gives
// them their archive id and seq, in the order they were added. Seed adds
// messages and syncs at once.
//
// The simulator speaks the vendor's wire format from the vendor's document
// directly and shares no code with the msgserver binding (not even the
// signature), so it checks the binding independently.
//
// Lifecycle: New builds a Sim; Handler serves the API (mount it at the
// root of an http.Server or an httptest.Server); Close makes every further
// request fail with the vendor's internal error; Reset returns the state
// to what New made. All methods are safe for concurrent use: one mutex
// guards the state, and no method calls out while holding it.
package sim

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Defaults for Options.
const (
	// DefaultRequestsPerSecond is the vendor's documented limit.
	DefaultRequestsPerSecond = 100
	// DefaultPageSize is the page size when a query gives none.
	DefaultPageSize = 20
	// MaxPageSize is the largest page the vendor answers.
	MaxPageSize = 100
)

// Envelope codes the simulator answers, as the vendor documents them.
const (
	CodeOK                 = 0
	CodeBadRequest         = 400
	CodeUnauthorized       = 401
	CodeForbidden          = 403
	CodeNotFound           = 404
	CodeInternal           = 500
	CodeInvalidCorp        = 1001
	CodeInvalidStaff       = 1002
	CodeInvalidSessionType = 1003
	CodeInvalidMsgType     = 1004
	CodeInvalidTime        = 1005
	CodeInvalidPaging      = 1006
	// CodeTooManyRequests answers a request over RequestsPerSecond: the
	// vendor documents the limit but not its code, so the simulator uses
	// the HTTP status that means it, in the vendor's envelope.
	CodeTooManyRequests = 429
)

// Signature encodings (the vendor's two examples disagree).
const (
	EncodingURL = "urlencoded" // Python's urlencode: form-encoded keys and values (the default)
	EncodingRaw = "raw"        // the JavaScript example: keys and values as they are
)

// Session types.
const (
	SessionInternal = "internal"
	SessionExternal = "external"
	SessionGroup    = "group"
)

// Peer types of chatMsg.sessions' peer_type.
const (
	PeerWeChat = "1"
	PeerWeCom  = "2"
)

// Errors of the driving methods. Requests to the Handler are answered with
// envelope codes instead.
var (
	ErrInvalid = errors.New("invalid argument")
)

// msgTypes are the message types the archive documents.
var msgTypes = []string{"text", "image", "file", "voice", "video", "card", "location", "emotion", "link", "revoke"}

// Options configures a Sim. The zero value is usable: an empty secret, the
// Python (urlencoded) signature form, the vendor's documented rate, the real
// clock.
type Options struct {
	// Secret is the HMAC key requests must be signed with. An empty secret
	// is a valid key: requests are still checked.
	Secret string
	// Encoding is the signature form requests must use: EncodingURL
	// (default) or EncodingRaw.
	Encoding string
	// RequestsPerSecond is how many requests the service accepts in any
	// second (DefaultRequestsPerSecond when zero; negative disables the
	// limit).
	RequestsPerSecond int
	// Clock gives the time of messages without one and of the rate limit
	// (time.Now when nil); it is called from any goroutine.
	Clock func() time.Time
	// Logger receives the simulator's log (silent when nil).
	Logger hclog.Logger
}

// Message is one archived message. Tests fill what matters to them; the
// simulator fills the rest when the message is added (MsgID, Type,
// Time, Action) and when a sync makes it visible (ID, Seq).
type Message struct {
	// ID is the archive's row id, assigned at sync: decimal, increasing in
	// the order messages became visible. max_id and min_id compare it.
	ID string
	// MsgID is WeCom's message id ("msg" and a number when empty).
	MsgID string
	// Action is "send" when empty.
	Action string
	// From is the sender: the staff member, a colleague or a customer.
	// Required.
	From string
	// ToList are the receivers; for a private message without one, the
	// staff member (when From is someone else). Required when From is the
	// staff member and RoomID is empty.
	ToList []string
	// RoomID makes it a group message.
	RoomID string
	// Time is when it was sent (the clock when zero).
	Time time.Time
	// Type is the msg_type: text (the default), image, file, voice, video,
	// card, location, emotion, link, revoke, or anything else.
	Type string
	// Text is content_text: the text of a text message.
	Text string
	// Attachments are the media fields of other types ({md5sum, sdkfileid,
	// filesize} for an image...): the answer's attachments and the JSON in
	// chat_msg_content.content.
	Attachments map[string]any
	// FileURL and FileName go to chat_msg_content.
	FileURL, FileName string
	// SenderName and SenderAvatar are the sender's; when empty, those of a
	// Person added with AddPerson.
	SenderName, SenderAvatar string
	// Seq is the archive's sequence number, assigned at sync: increasing
	// per corp in the order messages became visible.
	Seq int64
	// SessionID and SessionType are derived from the parties when empty:
	// a group for a RoomID, internal when the other party is a staff
	// member of the corp, external otherwise.
	SessionID, SessionType string
}

// Person is a party's profile as sessions show it: a customer, a
// colleague, or a group (by its room id).
type Person struct {
	ID     string // required
	Name   string
	Avatar string
	// Type is the peer_type: PeerWeChat or PeerWeCom (the default is WeCom
	// for staff members, WeChat for others).
	Type string
}

// Sim is the simulated service. Build it with New.
type Sim struct {
	opts    Options
	log     hclog.Logger
	now     func() time.Time
	handler http.Handler

	mu       sync.Mutex
	closed   bool
	corps    map[string]*corp
	nextID   int64
	nextMsg  int64
	window   []time.Time // accepted requests of the last second, oldest first
	requests map[string]int
	failures []failure
}

// failure is an error answer queued by FailNext.
type failure struct {
	code    int
	message string
}

// corp is one company's archive.
type corp struct {
	staff    map[string]*archive
	people   map[string]Person
	pending  []pendingMessage
	seq      int64
	sessions map[string]string // session id -> row id of chatMsg.sessions
}

// archive is one staff member's visible messages, in the order they became
// visible.
type archive struct {
	msgs []*Message
}

type pendingMessage struct {
	staff string
	msg   *Message
}

// New returns a Sim for o. It fails on an unknown signature encoding.
func New(o Options) (*Sim, error) {
	switch o.Encoding {
	case "":
		o.Encoding = EncodingURL
	case EncodingURL, EncodingRaw:
	default:
		return nil, fmt.Errorf("msgserver sim: %w: signature encoding %q (want %q or %q)", ErrInvalid, o.Encoding, EncodingURL, EncodingRaw)
	}
	if o.RequestsPerSecond == 0 {
		o.RequestsPerSecond = DefaultRequestsPerSecond
	}
	s := &Sim{opts: o, log: o.Logger, now: o.Clock}
	if s.log == nil {
		s.log = hclog.NewNullLogger()
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.reset()
	s.handler = s.routes()
	return s, nil
}

// Close makes every further request fail with the vendor's internal error
// (500). It is idempotent and always returns nil.
func (s *Sim) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// Reset forgets every corp, message and counter, and any queued failure,
// as if the Sim were new. It does not reopen a closed Sim.
func (s *Sim) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reset()
}

func (s *Sim) reset() {
	s.corps = map[string]*corp{}
	s.nextID = 1000
	s.nextMsg = 100000
	s.window = nil
	s.requests = map[string]int{}
	s.failures = nil
}

// corp returns the named company, creating it.
func (s *Sim) corp(id string) *corp {
	c, ok := s.corps[id]
	if !ok {
		c = &corp{staff: map[string]*archive{}, people: map[string]Person{}, sessions: map[string]string{}}
		s.corps[id] = c
	}
	return c
}

// AddStaff makes staff members of corp known, with empty archives, so
// queries about them answer an empty list rather than 1002.
func (s *Sim) AddStaff(corpID string, staff ...string) error {
	if corpID == "" {
		return fmt.Errorf("msgserver sim: add staff: %w: empty corp id", ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.corp(corpID)
	for _, id := range staff {
		if id == "" {
			return fmt.Errorf("msgserver sim: add staff: %w: empty staff id", ErrInvalid)
		}
		if c.staff[id] == nil {
			c.staff[id] = &archive{}
		}
	}
	return nil
}

// AddPerson records a party's (or a group's) name, avatar and type, shown
// by chatMsg.sessions and used as the sender's name.
func (s *Sim) AddPerson(corpID string, p Person) error {
	if corpID == "" || p.ID == "" {
		return fmt.Errorf("msgserver sim: add person: %w: corp and person ids are required", ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.corp(corpID).people[p.ID] = p
	return nil
}

// AddMessage adds a message to staff's archive in corp, pending until the
// corp's next sync. It answers the message as it will be shown, without
// the ID and Seq only a sync gives.
func (s *Sim) AddMessage(corpID, staff string, m Message) (Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	msg, err := s.add(corpID, staff, m)
	if err != nil {
		return Message{}, err
	}
	return *msg, nil
}

// Seed adds messages to staff's archive and syncs the corp, so they are
// visible at once. It answers them with their ID and Seq. Nothing is added
// when one of them is invalid.
func (s *Sim) Seed(corpID, staff string, msgs ...Message) ([]Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range msgs {
		if _, err := checkMessage(corpID, staff, m); err != nil {
			return nil, err
		}
	}
	added := make([]*Message, 0, len(msgs))
	for _, m := range msgs {
		msg, err := s.add(corpID, staff, m)
		if err != nil {
			return nil, err
		}
		added = append(added, msg)
	}
	s.corp(corpID).sync(s)
	out := make([]Message, len(added))
	for i, m := range added {
		out[i] = *m
	}
	return out, nil
}

// checkMessage validates a message for staff's archive and completes its
// receivers.
func checkMessage(corpID, staff string, m Message) (Message, error) {
	if corpID == "" || staff == "" {
		return m, fmt.Errorf("msgserver sim: add message: %w: corp and staff ids are required", ErrInvalid)
	}
	if m.From == "" {
		return m, fmt.Errorf("msgserver sim: add message: %w: no sender (From)", ErrInvalid)
	}
	if m.RoomID == "" && m.From != staff && len(m.ToList) == 0 {
		m.ToList = []string{staff}
	}
	if m.RoomID == "" && len(m.ToList) == 0 {
		return m, fmt.Errorf("msgserver sim: add message: %w: a private message from the staff member needs a receiver (ToList)", ErrInvalid)
	}
	if m.RoomID == "" && m.From != staff && !slices.Contains(m.ToList, staff) {
		return m, fmt.Errorf("msgserver sim: add message: %w: private message from %s to %v is not in %s's archive", ErrInvalid, m.From, m.ToList, staff)
	}
	return m, nil
}

// add validates m, completes it and queues it for the next sync. Called
// with s.mu held.
func (s *Sim) add(corpID, staff string, m Message) (*Message, error) {
	m, err := checkMessage(corpID, staff, m)
	if err != nil {
		return nil, err
	}
	c := s.corp(corpID)
	if c.staff[staff] == nil {
		c.staff[staff] = &archive{}
	}
	m.ID, m.Seq = "", 0
	m.ToList = slices.Clone(m.ToList)
	if m.MsgID == "" {
		s.nextMsg++
		m.MsgID = "msg" + strconv.FormatInt(s.nextMsg, 10)
	}
	if m.Action == "" {
		m.Action = "send"
	}
	if m.Type == "" {
		m.Type = "text"
	}
	if m.Time.IsZero() {
		m.Time = s.now()
	}
	if m.SessionType == "" {
		m.SessionType = c.sessionType(staff, &m)
	}
	if m.SessionID == "" {
		m.SessionID = sessionID(staff, &m)
	}
	c.pending = append(c.pending, pendingMessage{staff: staff, msg: &m})
	return &m, nil
}

// Sync makes corp's pending messages visible, as POST /chat-msg/sync does,
// and answers how many it made visible (0 for an unknown corp).
func (s *Sim) Sync(corpID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.corps[corpID]
	if !ok {
		return 0
	}
	return len(c.sync(s))
}

// Pending is how many of corp's messages wait for a sync.
func (s *Sim) Pending(corpID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.corps[corpID]; ok {
		return len(c.pending)
	}
	return 0
}

// Messages answers staff's visible archive in corp, oldest first.
func (s *Sim) Messages(corpID, staff string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.corps[corpID]
	if !ok || c.staff[staff] == nil {
		return nil
	}
	out := make([]Message, 0, len(c.staff[staff].msgs))
	for _, m := range c.staff[staff].msgs {
		out = append(out, *m)
	}
	return out
}

// Requests is how many requests reached path ("/api/v1/chat-msg/sessions"),
// answered or refused.
func (s *Sim) Requests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[path]
}

// FailNext makes the next n well-signed requests fail with code and
// message, as a failing service would (500 for an internal error).
func (s *Sim) FailNext(n, code int, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, failure{code: code, message: message})
	}
}

// sync moves the pending messages into their archives, giving each the
// next row id and seq. Called with s.mu held.
func (c *corp) sync(s *Sim) []pendingMessage {
	done := c.pending
	c.pending = nil
	for _, p := range done {
		s.nextID++
		c.seq++
		p.msg.ID = strconv.FormatInt(s.nextID, 10)
		p.msg.Seq = c.seq
		a := c.staff[p.staff]
		a.msgs = append(a.msgs, p.msg)
		if _, ok := c.sessions[p.msg.SessionID]; !ok {
			c.sessions[p.msg.SessionID] = fmt.Sprintf("session%03d", len(c.sessions)+1)
		}
	}
	return done
}

// sessionType derives a message's session type. Called with s.mu held.
func (c *corp) sessionType(staff string, m *Message) string {
	if m.RoomID != "" {
		return SessionGroup
	}
	if p := peerOf(staff, m); c.staff[p] != nil {
		return SessionInternal
	}
	return SessionExternal
}

// peerOf is the other party of a message in staff's archive: the room of a
// group message, else whoever of sender and first receiver is not staff.
func peerOf(staff string, m *Message) string {
	if m.RoomID != "" {
		return m.RoomID
	}
	if m.From != staff {
		return m.From
	}
	if len(m.ToList) > 0 {
		return m.ToList[0]
	}
	return ""
}

func sessionID(staff string, m *Message) string {
	if m.RoomID != "" {
		return "sess_" + m.RoomID
	}
	a, b := staff, peerOf(staff, m)
	if b < a {
		a, b = b, a
	}
	return "sess_" + a + "_" + b
}

// matches reports whether every word of keyword is in text, ignoring case.
func matches(text, keyword string) bool {
	text = strings.ToLower(text)
	words := strings.Fields(strings.ToLower(keyword))
	for _, w := range words {
		if !strings.Contains(text, w) {
			return false
		}
	}
	return len(words) > 0
}
