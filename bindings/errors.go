package bindings

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Sentinel errors. Callers test with errors.Is.
var (
	ErrUnknownVendor = errors.New("unknown vendor")
	ErrUnknownMethod = errors.New("unknown binding method")
	ErrUnsupported   = errors.New("not supported")
	// ErrInvalidConversation: a conversation id the vendor would refuse
	// (wework -2003: no "S:"/"R:" prefix). Refused before sending.
	ErrInvalidConversation = errors.New("invalid conversation id")
	// ErrNoExternalPermission: wework -4017, the contact has no external-contact permission.
	ErrNoExternalPermission = errors.New("no external-contact permission")
	// ErrVendorThrottled: the vendor's own frequency limit answered
	// (quntool -1000999, wechat's block). Back off; do not retry at once.
	ErrVendorThrottled = errors.New("vendor frequency limit")
	// ErrAuth: the vendor refused the credentials (HTTP 401/403, bad apikey or signature).
	ErrAuth = errors.New("vendor authentication failed")
	// ErrTransport: the vendor could not be reached or answered garbage. Transient.
	ErrTransport = errors.New("vendor unreachable")
)

// Vendor error codes the seeds document.
const (
	CodeInvalidConversation  = -2003    // wework: conversation_id lacks S:/R:
	CodeNoExternalPermission = -4017    // wework: no external-contact permission
	CodeFrequencyLimit       = -1000999 // quntool: Abnormal request frequency
	CodeHTTPUnauthorized     = 401
	CodeHTTPForbidden        = 403
	CodeWechatBlocked        = 429 // wechat simulator and docs: instance blocked for over-calling
)

// VendorError is an error answer from a vendor: its own code and message.
// It matches the sentinel errors above through Is, so callers act on
// errors.Is(err, ErrVendorThrottled) without knowing vendor codes.
type VendorError struct {
	Vendor     string
	Code       int
	Message    string
	HTTPStatus int // when the error came as an HTTP status
}

func (e *VendorError) Error() string {
	return fmt.Sprintf("%s error %d: %s", e.Vendor, e.Code, e.Message)
}

// Is maps vendor codes onto the package's sentinel errors.
func (e *VendorError) Is(target error) bool {
	switch target {
	case ErrInvalidConversation:
		return e.Code == CodeInvalidConversation
	case ErrNoExternalPermission:
		return e.Code == CodeNoExternalPermission
	case ErrVendorThrottled:
		return e.Code == CodeFrequencyLimit || (e.Vendor == "wechat" && e.Code == CodeWechatBlocked)
	case ErrAuth:
		return e.Code == CodeHTTPUnauthorized || e.Code == CodeHTTPForbidden ||
			e.HTTPStatus == 401 || e.HTTPStatus == 403
	}
	return false
}

// ErrorCode implements Coded.
func (e *VendorError) ErrorCode() any { return e.Code }

// ErrorVendor implements Coded.
func (e *VendorError) ErrorVendor() string { return e.Vendor }

// PermissionError is a call the plugin was not granted. It is never sent.
type PermissionError struct {
	Plugin     string
	Permission string
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("permission denied: plugin %q is not granted %q", e.Plugin, e.Permission)
}

// ErrorCode implements Coded.
func (e *PermissionError) ErrorCode() any { return "permission_denied" }

// RateLimitedError is a call that could not get its turn within the wait
// bound. Retry after Wait at the earliest.
type RateLimitedError struct {
	Key  string        // the limit that was exhausted: "quntool/account/1688..."
	Wait time.Duration // how long until a token would have been free
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("rate limited by %s: next slot in %s", e.Key, e.Wait.Round(time.Millisecond))
}

// ErrorCode implements Coded.
func (e *RateLimitedError) ErrorCode() any { return "rate_limited" }

// ArgumentError is a call whose arguments do not fit the endpoint, or
// break a vendor rule checked before sending.
type ArgumentError struct {
	Endpoint string
	Param    string
	Reason   string
	// Err is a sentinel the argument error also matches (ErrInvalidConversation).
	Err error
}

func (e *ArgumentError) Error() string {
	return fmt.Sprintf("%s: %s %s", e.Endpoint, e.Param, e.Reason)
}

// Unwrap exposes the matching sentinel, if any.
func (e *ArgumentError) Unwrap() error { return e.Err }

// ErrorCode implements Coded.
func (e *ArgumentError) ErrorCode() any {
	if errors.Is(e.Err, ErrInvalidConversation) {
		return CodeInvalidConversation
	}
	return "invalid_argument"
}

// Coded is implemented by errors that carry a code for plugins.
type Coded interface {
	ErrorCode() any
}

// ErrorInfo is how an error is shown to plugins (JS Error properties, the
// WASM host call's {"error": ...}): the vendor, a code and a message.
type ErrorInfo struct {
	Vendor  string `json:"vendor"`
	Code    any    `json:"code"`
	Message string `json:"message"`
}

// Describe turns any error from an Invoker into the ErrorInfo plugins see.
// vendor is the vendor of the call, used when the error does not name one.
func Describe(vendor string, err error) ErrorInfo {
	info := ErrorInfo{Vendor: vendor, Code: "error", Message: err.Error()}
	var ve *VendorError
	if errors.As(err, &ve) {
		info.Vendor = ve.Vendor
		info.Code = ve.Code
		info.Message = ve.Message
		return info
	}
	var c Coded
	if errors.As(err, &c) {
		info.Code = c.ErrorCode()
		return info
	}
	switch {
	case errors.Is(err, ErrUnknownMethod), errors.Is(err, ErrUnknownVendor):
		info.Code = "unknown_method"
	case errors.Is(err, ErrTransport):
		info.Code = "unreachable"
	case errors.Is(err, ErrUnsupported):
		info.Code = "unsupported"
	case errors.Is(err, context.DeadlineExceeded):
		info.Code = "timeout"
	case errors.Is(err, context.Canceled):
		info.Code = "canceled"
	}
	return info
}
