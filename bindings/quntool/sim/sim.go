// Package sim is an in-memory, stateful fake of the Quntool (聚合聊天)
// openAPI: the 57 endpoints under /gnapi/open with the vendor's
// {"msg","code","data"} envelope, its apikey header, its case-insensitive
// request fields, its QR login flow (including the status-10 verification
// code), contacts, groups, labels, ID conversions, file uploads and sends of
// every message kind, paced by the vendor's limits (500 ms between sends of
// one account, 50,000 sends per hour per company, -1000999 otherwise).
//
// ServeMQTT adds the vendor's other way of sending: an MQTT broker taking
// sends on the SendMessage topic and answering on SendMessageResp.
//
// Like the real vendor it POSTs callbacks to a configured URL: QR status,
// logins, the "sent" variant of every accepted send, room and contact
// notifications, and received messages that a test or a script makes up
// (Say, PostCallback, Play). Every accepted send is recorded (Sent,
// WaitSent) so tests can assert on what a plugin did.
//
// The simulator speaks the vendor's wire format from the vendor's document
// directly and shares no code with the quntool binding, so it checks the
// binding independently.
//
// Lifecycle: New builds a Sim and starts its callback sender; Handler serves
// the API (mount it at the root of an http.Server or an httptest.Server);
// ServeMQTT, optionally, runs the broker until its context ends; Close
// stops the callback sender. Reset returns the state to what New made
// without touching the callback sender. All methods are safe for concurrent
// use: one mutex guards the state, callbacks are posted in the order they
// were produced by a single sender goroutine, and methods that post a
// callback on behalf of a caller (Say, PostCallback, ScanQR, QuitRoom,
// DisbandRoom, PostBatchConfirm, Play) wait for its delivery outside the
// lock.
package sim

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/switchboard-dev/switchboard/bindings/internal/simkit"
)

// Defaults for Options.
const (
	DefaultSendInterval    = 500 * time.Millisecond
	DefaultHourlyCorpCap   = 50000
	DefaultCallbackTimeout = simkit.DefaultCallbackTimeout
	DefaultCallbackRetries = simkit.DefaultCallbackRetries
	DefaultCallbackBackoff = simkit.DefaultCallbackBackoff
	// DefaultUserID is the Quntool user that exists from the start and owns
	// accounts seeded without a UserID.
	DefaultUserID = "apps-1"
	// DefaultCorpID is the company of accounts seeded without a CorpID, so
	// that by default every account shares one hourly cap.
	DefaultCorpID = "1970325000000001"
	// WeChatCorpID is the corp_id WeCom reports for WeChat users (ids
	// starting with 788): WeChat's own.
	WeChatCorpID = "1970325134026788"
)

// Envelope codes the simulator answers besides 0. The vendor documents only
// -1000999; the others follow its style (a negative code and a message in
// the envelope, HTTP 200) and are stable so tests can assert on them.
const (
	CodeOK = 0
	// CodeBadRequest: a required field is missing, has the wrong type, or
	// the body is not a JSON object.
	CodeBadRequest = -1
	// CodeNotFound: an unknown account, container, Quntool user, contact,
	// label, room, file, mini program or video.
	CodeNotFound = -2
	// CodeOffline: the account exists but its container is not online.
	CodeOffline = -3
	// CodeFailed: the request is well formed but cannot be carried out in
	// the current state (a container that must log in again, a send of
	// the wrong kind for the conversation).
	CodeFailed = -4
	// CodeInvalidConversation: WeCom's parameter error for a conversation
	// id that is malformed ("S:"/"R:" missing, a private id not in
	// "S:{smaller}_{larger}" order) or that the account has no part in.
	CodeInvalidConversation = -2003
	// CodeFrequency: "Abnormal request frequency", the vendor's answer to a
	// send closer than SendInterval to the account's previous one, or over
	// the company's hourly cap.
	CodeFrequency = -1000999
	// CodeUnauthorized is the code (and HTTP status) of a request without
	// the right apikey header.
	CodeUnauthorized = 401
)

// QR code status values of qrcode_status_msg callbacks (the vendor's
// QrcodeStatus enum).
const (
	QRNever         = 0
	QRScanned       = 1
	QRSucceeded     = 2
	QRFailed        = 3
	QRRefused       = 4
	QRScannedWX     = 5
	QRSucceededWX   = 6
	QRFailedWX      = 7
	QRRefusedWX     = 8
	QRWXAuthOK      = 9
	QRRequireVerify = 10
)

// Container (account) status values of /inner/user/wx/list.
const (
	StatusOnline        = 0
	StatusOffline       = 1
	StatusLoggedOut     = 2
	StatusLoggingIn     = 3
	StatusLoginFailed   = 4 // scan the returned QrCode again
	StatusLoginRejected = 5 // the vendor's support must step in
)

// Errors of the driving methods (Seed, Say, ScanQR, Play...). Requests to
// the Handler are answered with envelope codes instead.
var (
	ErrInvalid          = errors.New("invalid argument")
	ErrUnknownAccount   = errors.New("unknown account")
	ErrUnknownContainer = errors.New("unknown container")
	ErrUnknownContact   = errors.New("unknown contact")
	ErrUnknownRoom      = errors.New("unknown room")
	ErrExists           = errors.New("already exists")
	ErrState            = errors.New("not possible in the current state")
	ErrQRExpired        = errors.New("login qr code expired")
	// ErrCallback: a callback could not be delivered after every retry.
	ErrCallback = simkit.ErrCallback
	// ErrExpectTimeout: a Play expectation saw no matching send in time.
	ErrExpectTimeout = simkit.ErrExpectTimeout
	// ErrClosed: the Sim was closed; it posts no more callbacks.
	ErrClosed = simkit.ErrClosed
)

// Options configures a Sim. The zero value is usable: no apikey, no
// callbacks, the vendor's documented limits, the real clock.
type Options struct {
	// APIKey, when set, must be sent in the apikey header of every API
	// request; otherwise the answer is HTTP 401 with an envelope of code 401.
	APIKey string
	// CallbackURL receives the callbacks (POST, JSON). Empty: callbacks are
	// recorded (Callbacks) but not posted.
	CallbackURL string
	// SendInterval is the least time between two accepted sends of one
	// account (DefaultSendInterval when zero; negative disables the check).
	SendInterval time.Duration
	// HourlyCorpCap is the most accepted sends of one company in any hour
	// (DefaultHourlyCorpCap when zero; negative disables the check).
	HourlyCorpCap int
	// Clock gives the time of sends, callbacks and limits (time.Now when
	// nil); it is called from any goroutine. Waiting (callback backoff,
	// Play's pauses and expectations) uses real time.
	Clock func() time.Time
	// Logger receives the simulator's log (silent when nil).
	Logger hclog.Logger
	// HTTPClient posts callbacks (a client with CallbackTimeout when nil).
	HTTPClient *http.Client
	// CallbackTimeout bounds one callback POST (DefaultCallbackTimeout when zero).
	CallbackTimeout time.Duration
	// CallbackRetries is how many times a failed callback is posted again
	// (DefaultCallbackRetries when zero; negative: never).
	CallbackRetries int
	// CallbackBackoff is the pause before the first retry, doubled for each
	// further one (DefaultCallbackBackoff when zero).
	CallbackBackoff time.Duration
}

// Account is a WeCom account logged in to a Quntool container.
type Account struct {
	// WxID is the account's WeCom user id ("1688..."). Required.
	WxID string
	// CorpID is its company (DefaultCorpID when empty); the hourly send cap
	// applies per company, and accounts of one company are each other's
	// inner contacts.
	CorpID string
	// UserID is the Quntool user owning the container (DefaultUserID when
	// empty); an unknown one is created.
	UserID string
	// Nickname is the account's display name (the WxID when empty).
	Nickname string
	// Hostname is the container id (12 random hex digits when empty).
	Hostname string
	// Optional profile fields, answered by /inner/user/wx/list and user_login.
	Avatar   string
	Mobile   string
	AcctID   string // the account's userid in the company's own directory
	CorpName string
}

// Contact is a person an account knows: an external contact (a WeChat user,
// "788...", or a WeCom user of another company) or an inner one (a
// colleague).
type Contact struct {
	UserID string // required
	Name   string // WeChat nickname or WeCom name (the UserID when empty)
	// Inner marks a colleague; the default is an external contact.
	Inner  bool
	Remark string
	Desc   string
	Phones []string
	// Mobile is the phone number /contact/search finds the person by.
	Mobile string
	Sex    int // 0 unknown, 1 male, 2 female
	Avatar string
	// CorpID defaults to WeChatCorpID for WeChat users and to the
	// account's company for inner contacts.
	CorpID   string
	Position string
	UnionID  string // derived from the UserID when empty
}

// Room is a group chat.
type Room struct {
	// ID is the conversation id, "R:" and digits (generated when empty).
	ID   string
	Name string
	// Owner is the creator's user id; it is made a member.
	Owner string
	// Members are the members' user ids.
	Members []string
	// Admins may remove members and post notices, like the owner.
	Admins []string
	// Notice is the last notice posted with /group/notice (read only).
	Notice string
}

// Sent is one accepted send.
type Sent struct {
	Account        string
	ConversationID string
	// Kind is the send's kind, named as the vendor's MQTT "type" names it:
	// text, roomAt, quote, image, file, gif, video, voice, personCard,
	// link, miniProgram, videoNum.
	Kind string
	// Content is the text of text, roomAt (with its {$@} placeholders)
	// and quote sends; the fileUrl of image, file, gif, video and voice;
	// the personCardUserId of personCard; the url of link and videoNum;
	// the title of miniProgram.
	Content string
	// Args are the request's fields under lower-cased names, numbers as
	// int64 or float64. Sends by id (/miniProgram/send, /videonum/send)
	// also carry the stored item's fields.
	Args map[string]any
	// MsgID is what the send answered (and the sent callback's sendMsgId).
	MsgID string
	// ServerID is the message's server_id in its sent callback.
	ServerID string
	At       time.Time
}

// String describes the send for errors: kind, recipient and content.
func (s Sent) String() string {
	return fmt.Sprintf("%s %s to %s: %q", s.Account, s.Kind, s.ConversationID, s.Content)
}

// Sim is the simulator. Build it with New; see the package comment for
// its lifecycle and threading rules.
type Sim struct {
	opts    Options
	log     hclog.Logger
	clock   func() time.Time
	handler http.Handler
	cb      *simkit.Poster[Callback]

	mu sync.Mutex
	st *state
	// sent records the accepted sends, waking WaitSent and Play.
	sent simkit.Sends[Sent]
}

// New returns a Sim configured by opts and starts its callback sender;
// call Close when done.
func New(opts Options) *Sim {
	if opts.SendInterval == 0 {
		opts.SendInterval = DefaultSendInterval
	}
	if opts.HourlyCorpCap == 0 {
		opts.HourlyCorpCap = DefaultHourlyCorpCap
	}
	s := &Sim{opts: opts}
	s.log, s.clock = simkit.Defaults(opts.Logger, opts.Clock)
	s.st = newState()
	s.cb = newPoster(opts, s.log)
	s.handler = s.routes()
	return s
}

// Close stops the callback sender: callbacks still queued are dropped and
// their waiters get ErrClosed. The API keeps answering. Close is idempotent.
func (s *Sim) Close() { s.cb.Close() }

// Reset forgets every account, container, contact, room, label, file, send,
// violation and recorded callback, and restores the defaults New made (the
// Quntool user DefaultUserID, the sample mini program and video). Callbacks
// already queued are still posted.
func (s *Sim) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st = newState()
	s.sent.Reset()
	s.cb.ResetRecord()
}

// now is the simulator's time.
func (s *Sim) now() time.Time { return s.clock() }
