package msgserver

import (
	"net/http"

	"github.com/switchboard-dev/switchboard/bindings"
)

// Endpoint names follow the path below /api/v1, one segment per dotted
// part, each in lower camelCase ("/chat-msg/session-msgs" is
// chatMsg.sessionMsgs). Parameter names are the vendor's own snake_case.
// The signature parameter is not listed: the Client computes and adds it
// to every request.

// staffParam is the parameter naming the staff member a query is about.
const staffParam = "ext_staff_id"

// messageResult is the TypeScript type of one archived message.
const messageResult = "{ id: string, ext_corp_id: string, msgid: string, action: string, from: string, " +
	"tolist: string[], room_id: string, msg_time: number, msg_type: string, content_text: string, seq: number, " +
	"session_id: string, session_type: string, sender_name: string, sender_avatar: string, " +
	"chat_msg_content: { id: string, chat_msg_id: string, content_type: string, content: string, " +
	"file_url: string, file_name: string } | null, attachments: Record<string, any> | null }"

// Endpoints is every msg-server endpoint, each described once. Paths are
// relative to the base URL, which ends in /api/v1. The table is package
// data: read it, never modify it.
var Endpoints = []bindings.Endpoint{
	{Vendor: Name, Name: "chatMsg.sync", Method: http.MethodPost, Path: "/chat-msg/sync",
		Doc: "Start the company's archive sync: WeCom's newly archived messages become visible to the " +
			"queries below once it has run. Answers null as soon as the sync task has started.",
		Params: []bindings.Param{corpParam()},
		Result: "null"},
	{Vendor: Name, Name: "chatMsg.sessions", Method: http.MethodGet, Path: "/chat-msg/sessions",
		Doc: "List a staff member's sessions of one type, newest first, each with its latest message and " +
			"the other party (peer_name, peer_avatar, peer_ext_id, peer_type: 1 WeChat, 2 WeCom; " +
			"group_chat_name for groups). Paged: page from 1, page_size up to 100.",
		Params: []bindings.Param{
			req(staffParam, bindings.String, "the staff member's id"),
			req("session_type", bindings.String, "internal (colleagues), external (customers) or group"),
			corpParam(),
			opt("name", bindings.String, "only sessions whose other party's name contains this"),
			opt("page", bindings.Int, "page number, from 1 (default 1)"),
			opt("page_size", bindings.Int, "items per page, 1 to 100 (default 20)"),
		},
		AccountParam: staffParam,
		Result: "{ items: Array<" + messageResult[:len(messageResult)-1] + ", peer_avatar: string, peer_name: string, " +
			"peer_ext_id: string, peer_type: string, group_chat_name: string }>, total: number, page: number, page_size: number }"},
	{Vendor: Name, Name: "chatMsg.sessionMsgs", Method: http.MethodGet, Path: "/chat-msg/session-msgs",
		Doc: "Read the messages of one session of a staff member, optionally of one type and within a date " +
			"range (UTC days, both ends included). Paged with page and page_size, or with max_id / min_id " +
			"for the messages after or before a known one. Sorted by sort_field (default msg_time), " +
			"sort_type desc by default.",
		Params: []bindings.Param{
			req(staffParam, bindings.String, "the staff member's id"),
			req("receiver_id", bindings.String, "the other party of the session: a user id, or the room id of a group"),
			corpParam(),
			opt("msg_type", bindings.String, "only this type: text, image, file, voice, card, location, emotion, link, revoke, ..."),
			opt("send_at_start", bindings.String, "first day, YYYY-MM-DD"),
			opt("send_at_end", bindings.String, "last day, YYYY-MM-DD"),
			opt("max_id", bindings.String, "only messages whose id is greater than this (paging forward)"),
			opt("min_id", bindings.String, "only messages whose id is less than this (paging backward)"),
			opt("page", bindings.Int, "page number, from 1 (default 1)"),
			opt("page_size", bindings.Int, "items per page, 1 to 100 (default 20)"),
			opt("sort_field", bindings.String, "the field to sort by (default msg_time)"),
			opt("sort_type", bindings.String, "asc or desc (default desc)"),
		},
		AccountParam: staffParam,
		Result:       "{ items: Array<" + messageResult + ">, total: number }"},
	{Vendor: Name, Name: "chatMsg.search", Method: http.MethodGet, Path: "/chat-msg/search",
		Doc: "Full-text search of the messages between a staff member and one other party. Paged: page " +
			"from 1, page_size up to 100.",
		Params: []bindings.Param{
			req("keyword", bindings.String, "the words to find"),
			req(staffParam, bindings.String, "the staff member's id"),
			req("ext_peer_id", bindings.String, "the other party's id"),
			corpParam(),
			opt("page", bindings.Int, "page number, from 1 (default 1)"),
			opt("page_size", bindings.Int, "items per page, 1 to 100 (default 20)"),
		},
		AccountParam: staffParam,
		Result:       "{ items: Array<" + messageResult + ">, total: number }"},
}

func corpParam() bindings.Param {
	return req("ext_corp_id", bindings.String, "the WeCom company's id")
}

func req(name string, t bindings.Type, doc string) bindings.Param {
	return bindings.Param{Name: name, Type: t, Required: true, Doc: doc}
}

func opt(name string, t bindings.Type, doc string) bindings.Param {
	return bindings.Param{Name: name, Type: t, Doc: doc}
}
