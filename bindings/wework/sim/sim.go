// Package sim is an in-memory, stateful fake of the instance based WeCom
// protocol API (the wework binding's vendor): instances named by a guid
// with their lifecycle (create_client, all_clients, get_client_status,
// remove_client), a notify URL and a bridge per instance, the QR login
// flow with its status callbacks and the status-10 verification code, the
// session list, and sends (send_text, send_room_at with at_list and {$@}
// placeholders, send_image), answered in the vendor's
// {error_code, error_message, data} envelope with its error codes (-2003
// for a conversation id without "S:"/"R:", -4017 for a contact without
// external-contact permission) and paced by a send interval per instance.
//
// Like the real vendor it POSTs callbacks {guid, notify_type, data} to
// each instance's notify URL (Options.CallbackURL until set_notify_url
// sets one): 11002 QR status, 11003 login, 11004 logout, 11010 and 11013
// messages (the 11013 sync follows every accepted text send, send_flag 1),
// and received messages a test or a script makes up (Say, PostCallback,
// Play). Every accepted send is recorded (Sent, WaitSent) so tests can
// assert on what a plugin did.
//
// The simulator speaks the vendor's wire format from the vendor's
// documents directly and shares no code with the wework binding, so it
// checks the binding independently.
//
// Lifecycle: New builds a Sim and starts its callback sender; Handler
// serves the API (mount it at the root of an http.Server or an
// httptest.Server); Control serves the driving methods (Say, ScanQR,
// Logout, Seed, Sent) over HTTP for use from outside the process; Close
// stops the callback sender. Reset returns the
// state to what New made without touching the callback sender. All methods
// are safe for concurrent use: one mutex guards the state, callbacks are
// posted in the order they were produced by a single sender goroutine, and
// methods that post a callback on behalf of a caller (Say, PostCallback,
// ScanQR, Logout, Play) wait for its delivery outside the lock.
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
	DefaultMaxInstances    = 20
	DefaultQRLifetime      = 5 * time.Minute
	DefaultCallbackTimeout = simkit.DefaultCallbackTimeout
	DefaultCallbackRetries = simkit.DefaultCallbackRetries
	DefaultCallbackBackoff = simkit.DefaultCallbackBackoff
	// DefaultClientType is the client version a new instance emulates when
	// create_client names none: 262, Mac 4.1.36.
	DefaultClientType = 262
	// MaxVerifyAttempts is how many wrong verification codes a login
	// survives: the last one fails it (QR status 3).
	MaxVerifyAttempts = 3
)

// Envelope error codes. The vendor documents -2003 and -4017; the
// simulator answers the others in the same style (HTTP 200, a negative
// error_code and a message), stable so tests can assert on them.
const (
	CodeOK = 0
	// CodeBadRequest: a required field is missing or has the wrong type,
	// or the body is not a JSON object.
	CodeBadRequest = -1
	// CodeNotFound: no instance has this guid.
	CodeNotFound = -2
	// CodeState: the instance is not in a state that allows the request (a
	// send or a session list before the login, a QR code for an instance
	// that is online or stopped, a verification code no login waits for).
	CodeState = -3
	// CodeVerifyFailed: a wrong verification code.
	CodeVerifyFailed = -4
	// CodeInstanceLimit: create_client with the server at MaxInstances
	// ("实例数达到上限").
	CodeInstanceLimit = -5
	// CodeNoPermission: at_list [0] (everyone) from an instance that is
	// neither the room's owner nor one of its admins.
	CodeNoPermission = -6
	// CodeInvalidConversation: the vendor's parameter error for a
	// conversation id without "S:" or "R:", and for one the instance has
	// no part in.
	CodeInvalidConversation = -2003
	// CodeNoExternalPermission: the contact has no external-contact
	// permission; the send fails.
	CodeNoExternalPermission = -4017
	// CodeFrequency answers a send closer than SendInterval to the
	// instance's previous one. The vendor documents no frequency error of
	// its own; this is the WeCom backend's "abnormal request frequency"
	// code, which the host treats as the vendor throttling.
	CodeFrequency = -1000999
)

// Instance status values (get_client_status data.status).
const (
	StatusStopped = 0 // 停止
	StatusRunning = 1 // 运行中, needs a login
	StatusOnline  = 2 // 在线
)

// QR code status values of the 11002 callback.
const (
	QRWaiting  = 0
	QRScanned  = 1
	QRLoggedIn = 2
	QRFailed   = 3
	QRRefused  = 4
	QRVerify   = 10
)

// Notify types the simulator posts.
const (
	NotifyQRCode    = 11002
	NotifyLogin     = 11003
	NotifyLogout    = 11004
	NotifyNewMsg    = 11010
	NotifyBatchSync = 11013
)

// Errors of the driving methods (Seed, Say, ScanQR, Play...). Requests to
// the Handler are answered with envelope codes instead.
var (
	ErrInvalid         = errors.New("invalid argument")
	ErrUnknownInstance = errors.New("unknown instance")
	ErrUnknownContact  = errors.New("unknown contact")
	ErrUnknownRoom     = errors.New("unknown room")
	ErrExists          = errors.New("already exists")
	ErrState           = errors.New("not possible in the current state")
	ErrQRExpired       = errors.New("login qr code expired")
	// ErrCallback: a callback could not be delivered after every retry.
	ErrCallback = simkit.ErrCallback
	// ErrExpectTimeout: a Play expectation saw no matching send in time.
	ErrExpectTimeout = simkit.ErrExpectTimeout
	// ErrClosed: the Sim was closed; it posts no more callbacks.
	ErrClosed = simkit.ErrClosed
)

// Options configures a Sim. The zero value is usable: no callbacks until
// an instance gets a notify URL, the default limits, the real clock.
type Options struct {
	// CallbackURL receives the callbacks of instances without a notify URL
	// of their own (POST, JSON). Empty: those callbacks are recorded
	// (Callbacks) but not posted.
	CallbackURL string
	// SendInterval is the least time between two accepted sends of one
	// instance (DefaultSendInterval when zero; negative disables the check).
	SendInterval time.Duration
	// MaxInstances is how many instances the server runs at most
	// (DefaultMaxInstances when zero; negative: no limit).
	MaxInstances int
	// QRLifetime is how long a login QR code can be scanned
	// (DefaultQRLifetime when zero).
	QRLifetime time.Duration
	// AutoScan, when set, scans every login QR code AutoScanDelay after it
	// is issued, as ScanQR would with it (so a login completes without a
	// phone; with Verify the verify code is logged and Control's /scan
	// is not needed). Its User.UserID is required.
	AutoScan *Scan
	// AutoScanDelay is the pause before an automatic scan
	// (DefaultAutoScanDelay when zero).
	AutoScanDelay time.Duration
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

// User is the WeCom account that logs in to an instance.
type User struct {
	// UserID is the account's WeCom user id ("1688..."). Required.
	UserID string
	// Name is its display name (the UserID when empty).
	Name     string
	CorpID   string
	CorpName string
	AcctID   string
	Mobile   string
	Avatar   string
	Position string
}

// Contact is a person an instance can chat with privately.
type Contact struct {
	// UserID is the contact's id: "788..." for a WeChat user, "168..." for
	// a WeCom user. Required.
	UserID string
	Name   string
	// NoExternalPermission makes sends to the contact fail with -4017.
	NoExternalPermission bool
}

// Room is a group chat an instance is in.
type Room struct {
	// ID is the room id, digits without "R:" (generated when empty).
	ID   string
	Name string
	// Owner and Admins may mention everyone (at_list [0]); the instance's
	// user is a member whatever Members says.
	Owner   string
	Admins  []string
	Members []string
}

// Instance describes an instance: what Seed creates, and what Instance
// and Instances report.
type Instance struct {
	// GUID names the instance (a random UUID when empty).
	GUID string
	// Status is StatusStopped, StatusRunning or StatusOnline. Seed derives
	// it from User (online when set, running otherwise) unless Stopped.
	Status int
	// Stopped seeds the instance stopped.
	Stopped bool
	// User is the logged-in account; nil before the login.
	User       *User
	NotifyURL  string
	Bridge     string
	ClientType int
	Contacts   []Contact
	Rooms      []Room
	// Sessions are the conversation ids of the session list, in order.
	Sessions []string
	// QRCodeKey is the key of the login QR code on show, "" when none.
	QRCodeKey string
	// QRStatus is the last QR status of that login.
	QRStatus int
}

// Sent is one accepted send.
type Sent struct {
	GUID           string
	ConversationID string
	// Kind is "text", "room_at" or "image", after the endpoint.
	Kind string
	// Content is the text as sent (room_at with its {$@} placeholders), or
	// the image_path of an image.
	Content string
	// AtList are the mentioned user ids of a room_at send, "0" for everyone.
	AtList []string
	// MsgID and Seq are the message's ids in the answer and the callback.
	MsgID string
	Seq   string
	At    time.Time
}

// String describes the send for errors: kind, recipient and content.
func (s Sent) String() string {
	return fmt.Sprintf("%s %s to %s: %q", s.GUID, s.Kind, s.ConversationID, s.Content)
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
	if opts.MaxInstances == 0 {
		opts.MaxInstances = DefaultMaxInstances
	}
	if opts.QRLifetime <= 0 {
		opts.QRLifetime = DefaultQRLifetime
	}
	if opts.AutoScanDelay <= 0 {
		opts.AutoScanDelay = DefaultAutoScanDelay
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

// Reset forgets every instance, send and recorded callback. Callbacks
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
