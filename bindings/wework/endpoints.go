package wework

import (
	"net/http"
	"strings"
	"unicode"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/runtime/event"
)

// Name is the vendor's name in the registry, in events and in
// /callback/{vendor}.
const Name = event.VendorWework

// Request field names shared by several endpoints.
const (
	// accountParam carries the instance every call acts for.
	accountParam = "guid"
	// conversationParam carries the conversation of a send: "S:" and the
	// other party's id for a private chat, "R:" and the room id for a group.
	conversationParam = "conversation_id"
	// atListParam carries the mentions of /msg/send_room_at.
	atListParam = "at_list"
)

// Conversation id prefixes the vendor requires (-2003 without one).
const (
	PrivatePrefix = conversationPrivate
	GroupPrefix   = conversationGroup
)

// MentionAll is the at_list entry that mentions everyone in a room (the
// vendor's [0]; only a room's owner or admins may use it).
const MentionAll = 0

// MentionPlaceholder marks where a mention goes in the content of
// /msg/send_room_at, one per at_list entry, in order. Without placeholders
// the mentions come first.
const MentionPlaceholder = "{$@}"

// EndpointName derives an endpoint's dotted name from its path: one dotted
// part per path segment, each snake_case segment in lower camelCase
// ("/msg/send_room_at" is msg.sendRoomAt, "/client/set_notify_url" is
// client.setNotifyUrl). Every path of the vendor is a single POST or GET,
// so no name needs a verb of its own.
func EndpointName(path string) string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i, seg := range segs {
		words := strings.Split(strings.ToLower(seg), "_")
		var b strings.Builder
		for j, w := range words {
			if w == "" {
				continue
			}
			if j > 0 && b.Len() > 0 {
				r := []rune(w)
				r[0] = unicode.ToUpper(r[0])
				w = string(r)
			}
			b.WriteString(w)
		}
		segs[i] = b.String()
	}
	return strings.Join(segs, ".")
}

// Endpoints is every endpoint the vendor's two documents give, each
// described once; Name is EndpointName of Path. Paths are relative to the
// base URL ("http://127.0.0.1:8080"). The table is package data: read it,
// never modify it.
var Endpoints = named([]bindings.Endpoint{
	// Instances.
	{Method: http.MethodPost, Path: "/client/create_client",
		Doc: "Create a new instance (an emulated WeCom client) and answer its guid. The server refuses " +
			"when it already runs as many instances as it may: remove stopped ones first. A new instance is " +
			"running (status 1) and needs a login: set its notify URL, then get its QR code.",
		Params: []bindings.Param{
			opt("client_type", bindings.Int, "the WeCom client version the instance emulates: 241 Windows 4.1.2, "+
				"242 iPad 4.1.2, 243 Windows 4.1.10, 244 Mac 4.1.2, ..., 262 Mac 4.1.36 (the default)"),
		}},
	{Method: http.MethodGet, Path: "/client/all_clients",
		Doc: "List the guids of every instance on the server, whatever its status (data is a list of guids)."},
	{Method: http.MethodPost, Path: "/client/get_client_status",
		Doc: "The status of an instance: data.status is 0 stopped, 1 running but not logged in (needs a " +
			"QR login), 2 online (logged in, ready to send).",
		Params: []bindings.Param{guid()}, AccountParam: accountParam},
	{Method: http.MethodPost, Path: "/client/remove_client",
		Doc: "Remove an instance: it logs out (a logout callback, notify_type 11004, when it was online) " +
			"and its guid is gone.",
		Params: []bindings.Param{guid()}, AccountParam: accountParam},
	{Method: http.MethodPost, Path: "/client/set_notify_url",
		Doc: "Set where the instance posts its callbacks ({guid, notify_type, data}); point it at " +
			"Switchboard's /callback/wework before logging in.",
		Params: []bindings.Param{guid(),
			req("notify_url", bindings.String, "the callback URL: http(s)://host[:port]/path")},
		AccountParam: accountParam},
	{Method: http.MethodPost, Path: "/client/set_bridge",
		Doc: "Route the instance through a local proxy (bridge); optional, for servers that need a " +
			"network proxy to reach WeCom.",
		Params: []bindings.Param{guid(),
			req("bridge", bindings.String, "the id of the local proxy (bridge) the instance goes through")},
		AccountParam: accountParam},

	// Login.
	{Method: http.MethodPost, Path: "/login/get_login_qrcode",
		Doc: "Issue a login QR code for an instance that is running but not logged in: data.qrcode_content " +
			"is the URL to show as a QR code, data.qrcode_key identifies the login. Progress arrives as " +
			"notify_type 11002 callbacks (status 0 waiting, 1 scanned, 2 confirmed, 3 failed, 4 refused, " +
			"10 verify code needed), then 11003 on login.",
		Params: []bindings.Param{guid()}, AccountParam: accountParam},
	{Method: http.MethodPost, Path: VerifyPath,
		Doc: "Enter the verification code of a login on a new device (QR status 10): the code WeCom shows " +
			"on the phone. A wrong code fails with the vendor's error; after three the login fails and " +
			"needs a new QR code.",
		Params: []bindings.Param{guid(),
			req("code", bindings.String, "the verification code shown in the WeCom mobile app"),
			opt("qrcode_key", bindings.String, "the login's data.qrcode_key (from get_login_qrcode or the 11002 callback)"),
		},
		AccountParam: accountParam},

	// Sessions.
	{Method: http.MethodPost, Path: "/session/get_session_list",
		Doc: "List the instance's conversations: data.session_list holds conversation ids (\"S:...\" " +
			"private, \"R:...\" group) and data.begin_seq the cursor to pass for the next page.",
		Params: []bindings.Param{guid(),
			opt("begin_seq", bindings.String, `the cursor: "0" for the first page, then the begin_seq of the previous answer`),
			opt("limit", bindings.Int, "the most conversations to answer (100 in the vendor's examples)"),
		},
		AccountParam: accountParam},

	// Messages.
	{Method: http.MethodPost, Path: "/msg/send_text", Class: bindings.Send,
		Doc: "Send a text message to a private or group conversation. data.msg_data is the sent message's " +
			"record (its content and sender name base64 encoded); a notify_type 11013 callback with " +
			"send_flag 1 follows. -2003: the conversation id lacks \"S:\"/\"R:\"; -4017: the contact has no " +
			"external-contact permission.",
		Params: []bindings.Param{guid(), conversationID(), req("content", bindings.String, "the text to send")},
		Result: "{msg_data: any, is_svr_fail: boolean}", AccountParam: accountParam},
	{Method: http.MethodPost, Path: "/msg/send_room_at", Class: bindings.Send,
		Doc: "Send a text message to a group that mentions members: at_list holds their user ids, or [0] " +
			"to mention everyone (only the room's owner or admins may). Put {$@} in content where each " +
			"mention goes, in at_list order; without it the mentions come first.",
		Params: []bindings.Param{guid(),
			req(conversationParam, bindings.String, `the group conversation: "R:" and the room id`),
			req("content", bindings.String, "the text to send, with a {$@} placeholder per mention where it goes"),
			req(atListParam, bindings.Array, "the user ids to mention, or [0] for everyone"),
		},
		Result: "{msg_data: any, is_svr_fail: boolean}", AccountParam: accountParam},
	{Method: http.MethodPost, Path: "/msg/send_image", Class: bindings.Send,
		Doc: "Send an image to a private or group conversation: image_path is a path or URL the vendor's " +
			"server can read.",
		Params: []bindings.Param{guid(), conversationID(),
			req("image_path", bindings.String, "the image: a path or URL the vendor's server can read")},
		Result: "{msg_data: any, is_svr_fail: boolean}", AccountParam: accountParam},
})

func guid() bindings.Param {
	return req(accountParam, bindings.String, "the instance: its guid, as create_client answered it")
}

func conversationID() bindings.Param {
	return req(conversationParam, bindings.String, `the conversation: "S:" and the contact's id (private) or "R:" and the room id (group)`)
}

func req(name string, t bindings.Type, doc string) bindings.Param {
	return bindings.Param{Name: name, Type: t, Required: true, Doc: doc}
}

func opt(name string, t bindings.Type, doc string) bindings.Param {
	return bindings.Param{Name: name, Type: t, Doc: doc}
}

// named sets each endpoint's Vendor and its Name from its Path.
func named(eps []bindings.Endpoint) []bindings.Endpoint {
	for i := range eps {
		eps[i].Vendor = Name
		eps[i].Name = EndpointName(eps[i].Path)
	}
	return eps
}

// endpointByPath finds an endpoint of the table by its path.
func endpointByPath(path string) *bindings.Endpoint {
	for i := range Endpoints {
		if Endpoints[i].Path == path {
			return &Endpoints[i]
		}
	}
	return nil
}
