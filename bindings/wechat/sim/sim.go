// Package sim is an in-memory, stateful fake of the WeChat protocol SaaS
// API: instances named by guid and their lifecycle (running, stopped,
// restored, upgraded), the QR login flow with its statuses (waiting,
// scanned, confirmed, refused, verification needed), the logged-in
// account's profile, contacts of every contact type, rooms and their
// members, labels, friend requests both ways, message sends of every kind
// the binding sends, and the vendor's own limit: more than 100 calls in a
// minute blocks the instance for 30 minutes.
//
// Every request is a JSON POST answered with the vendor's {"code",
// "message", "data"}; fields that do not validate get HTTP 422 with
// {"code": 422, "message": "Validation Error", "errors": [...]} as the
// vendor's document shows. A path the simulator does not implement (the
// document names 130 endpoints but gives the path of only some) is answered
// HTTP 404 with code 404, like an API server without that route, and
// recorded (Unhandled) so tests can see what a plugin tried.
//
// Like the real vendor it POSTs callbacks {"guid", "notify_type", "data"}
// to the instance's notify URL (set with /client/set_notify_url), or to
// Options.CallbackURL while an instance has none: QR code changes (1002),
// login (1003), init finished (1005), logouts (1004, 1006, 1007), failed
// logins (1008), new messages (1010), friend added, changed and deleted
// (1039–1041), rooms joined and left and their members (1042–1048),
// sync failures (2006), readiness after a restore (1001), and anything
// a test makes up (PostCallback). Every accepted send is recorded (Sent,
// WaitSent) so tests can assert on what a plugin did.
//
// The simulator speaks the vendor's wire format directly and shares no code
// with the wechat binding, so it checks the binding independently.
//
// Lifecycle: New builds a Sim and starts its callback sender; Handler serves
// the API (mount it at the root of an http.Server or an httptest.Server);
// Close stops the callback sender. Reset returns the state to what New made
// without touching the callback sender. All methods are safe for concurrent
// use: one mutex guards the state, callbacks are posted in the order they
// were produced by a single sender goroutine, and the methods that post a
// callback on behalf of a caller (Say, PostCallback, ScanQR, ConfirmLogin,
// FriendRequest, AddMembers...) wait for its delivery outside the lock.
package sim

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/switchboard-dev/switchboard/bindings/internal/simkit"
)

// Defaults for Options.
const (
	DefaultCallsPerMinute  = 100
	DefaultBlockFor        = 30 * time.Minute
	DefaultQRCodeTTL       = 2 * time.Minute
	DefaultCallbackTimeout = simkit.DefaultCallbackTimeout
	DefaultCallbackRetries = simkit.DefaultCallbackRetries
	DefaultCallbackBackoff = simkit.DefaultCallbackBackoff
	// DefaultVersion is the version of a new instance; /client/update_client
	// raises it.
	DefaultVersion = "8.0.49"
	// unhandledRecordLimit bounds the requests kept for Unhandled.
	unhandledRecordLimit = 1000
)

// Envelope codes the simulator answers besides 0. The vendor documents only
// 422 (validation); the others are the simulator's, stable so tests can
// assert on them: the block for over-calling as HTTP 429 with code 429, a
// path without a route as HTTP 404 with code 404, and refusals of the
// current state as negative codes with HTTP 200.
const (
	CodeOK = 0
	// CodeValidation: a required field is missing or has the wrong type,
	// or the body is not a JSON object (HTTP 422).
	CodeValidation = 422
	// CodeBlocked: the instance made more than CallsPerMinute calls in a
	// minute and is refused until its block ends (HTTP 429).
	CodeBlocked = 429
	// CodeNoRoute: no such endpoint (HTTP 404).
	CodeNoRoute = 404
	// CodeMethod: the API takes POST only (HTTP 405).
	CodeMethod = 405
	// CodeNoInstance: no instance has the guid.
	CodeNoInstance = -1
	// CodeStopped: the instance is stopped; restore it first.
	CodeStopped = -2
	// CodeNotLoggedIn: no account is logged in to the instance.
	CodeNotLoggedIn = -3
	// CodeLoggedIn: an account is already logged in (login calls).
	CodeLoggedIn = -4
	// CodeNotFound: an unknown contact, room, user, request or QR code.
	CodeNotFound = -5
	// CodeFailed: the request is well formed but not possible now (a wrong
	// verification code, a send to someone who is not a friend, a login
	// step out of order).
	CodeFailed = -6
)

// QR code statuses (/login/check_login_qrcode and the 1002 callback).
const (
	QRWaiting    = 0
	QRScanned    = 1
	QRConfirmed  = 2
	QRFailed     = 3
	QRRefused    = 4
	QRNeedVerify = 10
)

// Notify types of the callbacks (the vendor's enumeration).
const (
	NotifyReady             = 1001
	NotifyQRCodeChange      = 1002
	NotifyUserLogin         = 1003
	NotifyUserLogout        = 1004
	NotifyInitFinish        = 1005
	NotifyHeartBeatError    = 1006
	NotifySessionTimeout    = 1007
	NotifyLoginFailed       = 1008
	NotifyContactSyncFinish = 1009
	NotifyNewMsg            = 1010
	NotifyContactInfoChange = 1039
	NotifyFriendAdd         = 1040
	NotifyFriendDel         = 1041
	NotifyRoomAdd           = 1042
	NotifyRoomQuit          = 1043
	NotifyRoomDelMe         = 1044
	NotifyRoomDisband       = 1045
	NotifyRoomMemberAdd     = 1046
	NotifyRoomMemberUpdate  = 1047
	NotifyRoomMemberDel     = 1048
	NotifySyncMsgFailed     = 2006
)

// Contact types (contact_type).
const (
	ContactStranger = 0
	ContactSystem   = 1
	ContactFriend   = 2
	ContactMp       = 3
	ContactChatRoom = 4
)

// Message types (msg_type) of the messages the simulator produces.
const (
	MsgText     = 1
	MsgPicture  = 3
	MsgVoice    = 34
	MsgFriend   = 37
	MsgCard     = 42
	MsgVideo    = 43
	MsgEmoji    = 47
	MsgLocation = 48
	MsgApp      = 49
)

// MentionAll is the at_list entry that mentions everyone in a room.
const MentionAll = "notify@all"

// Errors of the driving methods (Seed, Say, ScanQR, Play...). Requests to
// the Handler are answered with envelope codes instead.
var (
	ErrInvalid         = errors.New("invalid argument")
	ErrUnknownInstance = errors.New("unknown instance")
	ErrUnknownContact  = errors.New("unknown contact")
	ErrUnknownRoom     = errors.New("unknown room")
	ErrExists          = errors.New("already exists")
	ErrState           = errors.New("not possible in the current state")
	// ErrCallback: a callback could not be delivered after every retry.
	ErrCallback = simkit.ErrCallback
	// ErrExpectTimeout: a Play expectation saw no matching send in time.
	ErrExpectTimeout = simkit.ErrExpectTimeout
	// ErrClosed: the Sim was closed; it posts no more callbacks.
	ErrClosed = simkit.ErrClosed
)

// Options configures a Sim. The zero value is usable: no callbacks until an
// instance sets its notify URL, the vendor's documented limit, the real
// clock.
type Options struct {
	// CallbackURL receives the callbacks of instances that have no notify
	// URL of their own (POST, JSON). Empty: such callbacks are recorded
	// (Callbacks) but not posted.
	CallbackURL string
	// CallsPerMinute is the most calls an instance may make in any minute
	// (DefaultCallsPerMinute when zero; negative disables the limit).
	CallsPerMinute int
	// BlockFor is how long an instance that went over CallsPerMinute is
	// refused (DefaultBlockFor when zero).
	BlockFor time.Duration
	// QRCodeTTL is how long a login QR code can be scanned
	// (DefaultQRCodeTTL when zero).
	QRCodeTTL time.Duration
	// Clock gives the time of calls, blocks, QR codes, messages and
	// callbacks (time.Now when nil); it is called from any goroutine.
	// Waiting (callback backoff, Play's pauses and expectations) uses real
	// time.
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
	if opts.CallsPerMinute == 0 {
		opts.CallsPerMinute = DefaultCallsPerMinute
	}
	if opts.BlockFor <= 0 {
		opts.BlockFor = DefaultBlockFor
	}
	if opts.QRCodeTTL <= 0 {
		opts.QRCodeTTL = DefaultQRCodeTTL
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

// Reset forgets every instance, person, send, unhandled request and
// recorded callback. Callbacks already queued are still posted.
func (s *Sim) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st = newState()
	s.sent.Reset()
	s.cb.ResetRecord()
}

// Handler serves the API at the root. It is safe for concurrent use.
func (s *Sim) Handler() http.Handler { return s.handler }

// now is the simulator's time.
func (s *Sim) now() time.Time { return s.clock() }
