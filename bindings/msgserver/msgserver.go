// Package msgserver is the binding for msg-server, a WeCom chat-archive
// service (会话存档): it syncs a company's archived conversations from WeCom
// and answers queries over them through a small signed REST API under
// /api/v1/chat-msg: sync, the sessions of a staff member, the messages of
// one session, and full-text search.
//
// msg-server pushes nothing: it has no callbacks, so the vendor entry has no
// Normalize, and it cannot send, so it has no Reply. Archived messages
// enter the runtime through the poller in bindings/msgserver/poll, which
// turns each one into a "message" event with NormalizeMessage.
//
// The package holds:
//
//   - Endpoints, every documented endpoint described once;
//   - Sign, the HMAC-SHA256 request signature in both of the vendor's
//     encodings (EncodingURL, the documented Python form and the default,
//     and EncodingRaw, the JavaScript form);
//   - Client, the bindings.Client that signs every request and maps the
//     vendor's error codes to typed errors;
//   - NormalizeMessage, one archived message to one event (SPEC §3).
//
// Everything in this package is immutable package data or safe for
// concurrent use.
package msgserver

import (
	"errors"
	"fmt"

	"github.com/switchboard-dev/switchboard/runtime/event"
)

// Name is the vendor's name in the registry and in events.
const Name = event.VendorMsgserver

// Envelope codes the vendor documents. Every answer is {code, message,
// data}; 0 is success.
const (
	CodeOK                 = 0
	CodeBadRequest         = 400  // a parameter is missing or malformed
	CodeUnauthorized       = 401  // the signature did not verify
	CodeForbidden          = 403  // not permitted
	CodeNotFound           = 404  // no such resource
	CodeInternal           = 500  // the service failed; transient
	CodeInvalidCorp        = 1001 // ext_corp_id is unknown
	CodeInvalidStaff       = 1002 // ext_staff_id is unknown
	CodeInvalidSessionType = 1003 // session_type is not internal, external or group
	CodeInvalidMsgType     = 1004 // msg_type is not a known message type
	CodeInvalidTime        = 1005 // send_at_start or send_at_end is not YYYY-MM-DD
	CodeInvalidPaging      = 1006 // page or page_size out of range
	// CodeTooManyRequests is the answer to more than the documented 100
	// requests per second. The vendor documents the limit but not its
	// code; this is the HTTP status that means it, in the vendor's
	// envelope.
	CodeTooManyRequests = 429
)

// Session types of chatMsg.sessions.
const (
	SessionInternal = "internal"
	SessionExternal = "external"
	SessionGroup    = "group"
)

// SessionTypes are the session types the vendor knows, in a stable order.
var SessionTypes = []string{SessionInternal, SessionExternal, SessionGroup}

// MaxPageSize is the vendor's largest page.
const MaxPageSize = 100

// DateLayout is the layout of send_at_start and send_at_end.
const DateLayout = "2006-01-02"

// Encoding selects how parameter values are written into the string that is
// signed. The vendor's two examples disagree: its Python example
// URL-encodes keys and values (EncodingURL), its JavaScript example joins
// them as they are (EncodingRaw). Both agree for plain ASCII ids.
type Encoding string

// Signature encodings (vendors.msgserver.signature_encoding).
const (
	// EncodingURL writes keys and values form-encoded, as Python's
	// urllib.parse.urlencode does (space as "+", UTF-8 percent-escaped).
	// The default.
	EncodingURL Encoding = "urlencoded"
	// EncodingRaw writes keys and values unescaped, as the vendor's
	// JavaScript example does.
	EncodingRaw Encoding = "raw"
)

// Errors callers act on.
var (
	// ErrEncoding: a signature encoding other than "urlencoded" or "raw".
	ErrEncoding = errors.New("unknown signature encoding")
	// ErrNoStaff: NormalizeMessage needs the staff member whose archive
	// the message was read from.
	ErrNoStaff = errors.New("staff id is required")
)

// ParseEncoding reads a signature encoding setting; "" is EncodingURL.
func ParseEncoding(s string) (Encoding, error) {
	switch Encoding(s) {
	case "", EncodingURL:
		return EncodingURL, nil
	case EncodingRaw:
		return EncodingRaw, nil
	}
	return "", fmt.Errorf("msgserver: %w %q: want %q or %q", ErrEncoding, s, EncodingURL, EncodingRaw)
}
