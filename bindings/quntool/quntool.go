// Package quntool is the binding for the Quntool (聚合聊天) openAPI: container
// based WeCom accounts driven over JSON HTTP under /gnapi/open, authenticated
// with an apikey header, which report everything that happens to them through
// webhook callbacks.
//
// The package holds the four pieces the runtime needs from a vendor, each
// built from the vendor's own documentation:
//
//   - Normalize turns a callback body into events (SPEC §3), driven by the
//     callbackTypes table: one row per documented callback "type" string.
//   - Endpoints describes every openAPI endpoint once; the registry derives
//     the JS objects, WASM host calls, permissions and typings from it.
//   - Client performs the HTTP exchanges: apikey header, the {code, msg, data}
//     envelope, multipart uploads, and the vendor's request quirks.
//   - Reply maps ev.reply(content) onto the matching msg.* endpoint.
//
// Vendor bundles them into the registry entry. Everything in this package is
// either immutable package data or safe for concurrent use.
package quntool

import (
	"errors"

	"github.com/switchboard-dev/switchboard/runtime/event"
)

// Name is the vendor's name in the registry, in events and in
// /callback/{vendor}.
const Name = event.VendorQuntool

// Errors callers act on.
var (
	// ErrNoConversation: Reply was asked to answer an event that happened in
	// no conversation (a login, a logout...), so there is nowhere to send.
	ErrNoConversation = errors.New("event has no conversation to reply in")
)
