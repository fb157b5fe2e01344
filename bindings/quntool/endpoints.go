package quntool

import (
	"net/http"

	"github.com/switchboard-dev/switchboard/bindings"
)

// Endpoint names follow the path below /gnapi/open, one segment per dotted
// part, each in lower camelCase ("/msg/roomAt" is msg.roomAt, "/group/RoomId"
// is group.roomId). Where a path has several methods, or where the path is
// also the namespace of longer paths (a name cannot be both a function and
// an object in JS), the name ends in the verb of its method: POST add (or
// create for a bare collection: POST /group is group.create), DELETE remove,
// PUT update, GET get or list. The vendor spells one word two ways
// (/miniprogram/list, /miniProgram/send); both live under miniProgram.
//
// Parameter names are the vendor's in lower camelCase (the vendor matches
// request fields case-insensitively, and its documents mix WxId, wxId and
// Wxid); fields the vendor spells in snake_case stay so.

// Endpoints is every Quntool openAPI endpoint, each described once. Paths
// are relative to the base URL, which ends in /gnapi/open. The table is
// package data: read it, never modify it.
var Endpoints = ofVendor([]bindings.Endpoint{
	// Login and containers.
	{Name: "container.verify", Method: http.MethodPost, Path: "/container/verify",
		Doc: "Enter the login verification code. Needed only when a login.qrcode event has data.state " +
			"need_verify (vendor status 10). A wrong code fails with the vendor's negative errcode; ask for it again.",
		Params: []bindings.Param{
			req("hostname", bindings.String, "the container: data.hostname of the login.qrcode event (the callback's source)"),
			req("key", bindings.String, "data.qrcode_key of the login.qrcode event"),
			req("code", bindings.String, "the verification code shown in the WeCom mobile app"),
		}},
	{Name: "container.create", Method: http.MethodPost, Path: "/container/create",
		Doc: "Log a WeCom account in from scratch: creates a new WeCom login environment and answers the QR code to scan " +
			"(qrcode, a path on the Quntool host), the container's hostname, the client version and process id. " +
			"To bring an account that went offline back, use container.start.",
		Params: []bindings.Param{
			req("userId", bindings.String, "the Quntool account that will own the login (see inner.user.list)"),
		}},
	{Name: "container.stop", Method: http.MethodPost, Path: "/container/stop",
		Doc: "Take WeCom accounts offline: frees their memory and CPU but keeps the WeCom cache on disk, " +
			"so container.start logs them in again without a new scan.",
		Params: []bindings.Param{req("hostname", bindings.Strings, "the containers' hostnames")}},
	{Name: "container.start", Method: http.MethodPost, Path: "/container/start",
		Doc:    "Bring offline WeCom accounts back online; no new QR scan is needed.",
		Params: []bindings.Param{req("hostname", bindings.Strings, "the containers' hostnames")}},
	{Name: "container.remove", Method: http.MethodPost, Path: "/container/remove",
		Doc: "Log WeCom accounts out: frees their memory and CPU and deletes the WeCom cache on disk; " +
			"logging in again needs a new QR scan.",
		Params: []bindings.Param{req("hostname", bindings.Strings, "the containers' hostnames")}},
	{Name: "container.restart", Method: http.MethodPost, Path: "/container/restart",
		Doc:    "Restart WeCom accounts' containers, freeing their memory and CPU.",
		Params: []bindings.Param{req("hostname", bindings.Strings, "the containers' hostnames")}},
	{Name: "container.memory", Method: http.MethodGet, Path: "/container/memory",
		Doc: "Memory used by each online WeCom account: WxId, UserName, HostName, WxPid and Memory (KB)."},
	{Name: "inner.user.wx.list", Method: http.MethodGet, Path: "/inner/user/wx/list",
		Doc: "List the WeCom accounts. Status: 0 online, 1 offline, 2 logged out, 3 logging in, " +
			"4 login failed (scan QrCode again: it reuses the cached session, so old groups stay listed), " +
			"5 login failed (contact the vendor's support).",
		Params: []bindings.Param{
			opt("userId", bindings.String, "only the WeCom accounts of this Quntool user"),
			opt("isOnline", bindings.Bool, "online accounts only (the default); false lists every account, online, offline or logged out"),
			opt("hostName", bindings.Strings, "only these containers"),
		}},
	{Name: "inner.user.list", Method: http.MethodGet, Path: "/inner/user/list",
		Doc: "List the Quntool accounts of the company (IsAdmin false: a sub-account)."},

	// Contacts.
	{Name: "contact.external.list", Method: http.MethodGet, Path: "/contact/external/list",
		Doc: "List the account's external contacts (WeChat users' ids start with 78, WeCom users' with 16); " +
			"is_delete and delete_time say whether and when the contact was deleted or deleted the account.",
		Params: []bindings.Param{wxID()}, AccountParam: accountParam},
	{Name: "contact.extendinfo", Method: http.MethodGet, Path: "/contact/extendinfo",
		Doc:    "An external contact's extended information: company remark, description, phone list, remark, status.",
		Params: []bindings.Param{wxID(), req("contactId", bindings.String, "the customer's id")}, AccountParam: accountParam},
	{Name: "contact.inner.list", Method: http.MethodGet, Path: "/contact/inner/list",
		Doc:    "List the account's internal contacts (colleagues in its company).",
		Params: []bindings.Param{wxID()}, AccountParam: accountParam},
	{Name: "contact.remark", Method: http.MethodPut, Path: "/contact/remark",
		Doc: "Set the remark (the name the account sees) of an internal or external contact.",
		Params: []bindings.Param{wxID(), req("contactId", bindings.String, "the contact's id"),
			req("remark", bindings.String, "the new remark")}, AccountParam: accountParam},
	{Name: "contact.desc", Method: http.MethodPut, Path: "/contact/desc",
		Doc: "Set the description of an internal or external contact.",
		Params: []bindings.Param{wxID(), req("contactId", bindings.String, "the contact's id"),
			req("desc", bindings.String, "the new description")}, AccountParam: accountParam},
	{Name: "contact.phone", Method: http.MethodPut, Path: "/contact/phone",
		Doc: "Set the phone numbers of an internal or external contact (the list replaces the current one).",
		Params: []bindings.Param{wxID(), req("contactId", bindings.String, "the contact's id"),
			req("phones", bindings.Strings, "the phone numbers")}, AccountParam: accountParam},
	{Name: "contact.remove", Method: http.MethodPost, Path: "/contact/remove",
		Doc:    "Delete a contact (friend) of the account.",
		Params: []bindings.Param{wxID(), req("contactUserId", bindings.String, "the contact to delete")}, AccountParam: accountParam},
	{Name: "contact.external.query", Method: http.MethodPost, Path: "/contact/external/query",
		Doc: "Look customers up by account and customer id; answers one external contact per match.",
		Params: []bindings.Param{req("contactInfos", bindings.Array,
			"the customers to look up: [{wxId, contactUserId}], the account each belongs to and the customer's id")}},
	{Name: "contact.search.get", Method: http.MethodGet, Path: "/contact/search",
		Doc: "Search a WeChat or WeCom user by phone number. The answer's datalist items carry what " +
			"contact.search.add needs: contact_info_wx.uin (contact_info.uin for a WeCom user), openid and wx_ticket.",
		Params: []bindings.Param{wxID(), req("keyword", bindings.String, "the phone number to search")}, AccountParam: accountParam},
	{Name: "contact.search.add", Method: http.MethodPost, Path: "/contact/search/add",
		Doc: "Send a contact request to a user found with contact.search.get.",
		Params: []bindings.Param{wxID(),
			req("contactUserId", bindings.String, "the user's id: datalist[0].contact_info_wx.uin of the search (contact_info.uin for a WeCom user)"),
			req("openid", bindings.String, "datalist[0].openid of the search"),
			opt("wxticket", bindings.String, "datalist[0].wx_ticket of the search; pass the empty string the search answered"),
			opt("verify", bindings.String, "the greeting shown with the request"),
		}, AccountParam: accountParam},

	// Messages. The vendor limits sends: at least 500 ms between sends of an
	// account, at most 50,000 sends per hour per company.
	send("msg.text", "/msg/text", "Send a text message.",
		req("content", bindings.String, "the text")),
	send("msg.roomAt", "/msg/roomAt", "Send a text message in a group that mentions members (text only).",
		req("content", bindings.String, "the text; each {$@} placeholder is replaced, in order, by the mention of the next id in atList"),
		req("atList", bindings.Strings, `the ids of the members to mention; ["0"] mentions everyone`)),
	send("msg.image", "/msg/image", "Send an image.",
		req("fileUrl", bindings.String, "the image: an http(s) URL, or a path answered by file.upload")),
	send("msg.file", "/msg/file", "Send a file.",
		req("fileUrl", bindings.String, "the file: an http(s) URL, or a path answered by file.upload")),
	send("msg.gif", "/msg/gif", "Send an animated GIF. GIFs over 5 MB must go through msg.file.",
		req("fileUrl", bindings.String, "the GIF: an http(s) URL, or a path answered by file.upload")),
	send("msg.video", "/msg/video", "Send a video. Keep it under 50 MB: WeCom blocks larger ones.",
		req("fileUrl", bindings.String, "the video: an http(s) URL, or a path answered by file.upload")),
	send("msg.voice", "/msg/voice", "Send a voice message: sampled at 12000 Hz, at most 60 s long. "+
		"Use it sparingly: frequent voice sends put the account at risk of a ban.",
		req("fileUrl", bindings.String, "the voice file: an http(s) URL, or a path answered by file.upload")),
	send("msg.personCard", "/msg/personCard", "Send a user's contact card.",
		req("personCardUserId", bindings.String, "the id of the user whose card is sent"),
		opt("nickName", bindings.String, "the user's nickname shown on the card"),
		opt("avatar", bindings.String, "the URL of the user's avatar shown on the card")),
	send("msg.link", "/msg/link", "Send a link card.",
		req("title", bindings.String, "the card's title; must not be blank"),
		opt("desc", bindings.String, "the card's description"),
		req("url", bindings.String, "the link"),
		opt("imageUrl", bindings.String, "the URL of the card's image")),
	send("msg.miniProgram", "/msg/miniProgram", "Send a mini program card. The fields come from a received "+
		"mini_program message (data.mini_program of the event), or use miniProgram.send with a saved one.",
		req("username", bindings.String, "the mini program's original id (gh_...@app)"),
		req("appid", bindings.String, "the mini program's app id"),
		opt("appname", bindings.String, "the mini program's name"),
		opt("appicon", bindings.String, "the URL of the mini program's icon"),
		req("title", bindings.String, "the card's title"),
		opt("page_path", bindings.String, "the page the card opens"),
		opt("cover_path", bindings.String, "the card's cover: a path on the Quntool host")),
	send("msg.videoNum", "/msg/videoNum", "Send a Channels (视频号) video card. The fields come from a received "+
		"video_num message (data.video_num of the event), or use videonum.send with a saved one.",
		opt("cover_url", bindings.String, "the cover image"),
		opt("desc", bindings.String, "the video's description"),
		opt("feed_type", bindings.Int, "the feed type; 4 by default"),
		opt("nickname", bindings.String, "the Channels author's nickname"),
		opt("thumb_url", bindings.String, "the thumbnail"),
		req("url", bindings.String, "the video's Channels URL"),
		opt("extras", bindings.String, "the vendor's opaque extras of the card"),
		opt("avatar", bindings.String, "the author's avatar")),
	send("msg.quote", "/msg/quote", "Send a text that quotes (replies to) an earlier message of the conversation: "+
		"text, image, video, file, voice, link card, GIF, mini program, Channels video or location.",
		req("content", bindings.String, "the text of the reply"),
		req("serverId", bindings.String, "the server_id of the quoted message (message.id of its event)"),
		opt("quote", bindings.String, `the quoted content, echoed in the callback: "name:\ntext", or for media "name:\n[图片]", "name:\n[视频]", "name:\n[文件]"`)),
	{Name: "miniProgram.list", Method: http.MethodGet, Path: "/miniprogram/list",
		Doc: "List the mini programs saved in Quntool (type 0: for everyone, 1: personal); " +
			"miniProgram.send sends one by its id."},
	sendEndpoint("miniProgram.send", "/miniProgram/send", "Send a mini program saved in Quntool, by its id.",
		req("miniProgramId", bindings.Int, "the id answered by miniProgram.list")),
	{Name: "videonum.list", Method: http.MethodGet, Path: "/videonum/list",
		Doc: "List the Channels videos saved in Quntool (type 0: for everyone, 1: personal); " +
			"videonum.send sends one by its id."},
	sendEndpoint("videonum.send", "/videonum/send", "Send a Channels video saved in Quntool, by its id.",
		req("videoNumId", bindings.Int, "the id answered by videonum.list")),
	{Name: "file.upload", Method: http.MethodPost, Path: "/file/upload",
		Doc: "Upload a file (multipart form-data). Answers the file's path relative to the Quntool host, " +
			"which msg.image, msg.file and the other sends take as fileUrl as it is.",
		Params: []bindings.Param{{Name: "file", Type: bindings.File, Required: true, In: bindings.InForm,
			Doc: "the file: {name, data} with data in base64 (bytes from Go)"}},
		Result: "string"},
	{Name: "batchmsg.confirm", Method: http.MethodPost, Path: "/batchmsg/confirm",
		Doc: "Confirm the mass messages to customers waiting for the account (batch.confirm events). With several " +
			"waiting, all are confirmed, newest first, but WeCom's daily cap usually lets only the latest go out.",
		Params: []bindings.Param{wxID()}, AccountParam: accountParam},

	// Groups.
	{Name: "group.create", Method: http.MethodPost, Path: "/group",
		Doc: "Create a group with the account and at least two other users.",
		Params: []bindings.Param{wxID(),
			req("memberWxIds", bindings.String, "the other members' ids, comma-separated, at least two, not the account itself")},
		AccountParam: accountParam},
	{Name: "group.list", Method: http.MethodGet, Path: "/group/list",
		Doc:    "List the account's groups.",
		Params: []bindings.Param{wxID()}, AccountParam: accountParam},
	{Name: "group.name", Method: http.MethodPut, Path: "/group/name",
		Doc:    "Rename a group.",
		Params: []bindings.Param{wxID(), groupID(), req("name", bindings.String, "the new name")}, AccountParam: accountParam},
	{Name: "group.member.list", Method: http.MethodGet, Path: "/group/member/list",
		Doc:    "List a group's members.",
		Params: []bindings.Param{wxID(), groupID()}, AccountParam: accountParam},
	{Name: "group.member.add", Method: http.MethodPost, Path: "/group/member",
		Doc: "Add members to a group. An internal group only takes employees: others are not added " +
			"although the call succeeds.",
		Params: []bindings.Param{wxID(), groupID(),
			req("memberWxIds", bindings.String, "the ids of the users to add, comma-separated")}, AccountParam: accountParam},
	{Name: "group.member.remove", Method: http.MethodDelete, Path: "/group/member",
		Doc: "Remove members from a group. Only the owner or an admin can: for anyone else the call succeeds " +
			"and nobody is removed.",
		Params: []bindings.Param{wxID(), groupID(),
			req("memberWxIds", bindings.String, "the ids of the members to remove, comma-separated")}, AccountParam: accountParam},
	{Name: "group.member.contact", Method: http.MethodPost, Path: "/group/member/contact",
		Doc: "Send a contact request to a member of a group.",
		Params: []bindings.Param{wxID(), groupID(),
			req("memberWxId", bindings.String, "the member's id"),
			opt("verify", bindings.String, "the greeting shown with the request")}, AccountParam: accountParam},
	{Name: "group.notice", Method: http.MethodPost, Path: "/group/notice",
		Doc: "Publish a group notice. Only the owner or an admin may; the answer is the same success either way.",
		Params: []bindings.Param{wxID(), groupID(),
			req("content", bindings.String, "the notice")}, AccountParam: accountParam},

	// Open-platform id conversions.
	{Name: "contact.externalUserId", Method: http.MethodPost, Path: "/contact/externalUserId",
		Doc:    "Convert a customer's Quntool id (788...) to its open-platform external user id (wm...).",
		Params: []bindings.Param{ownerWxID(), req("contactUserId", bindings.String, "the customer's 788... id")}, AccountParam: accountParam},
	{Name: "contact.externalUserIdFromDb", Method: http.MethodPost, Path: "/contact/externalUserIdFromDb",
		Doc:    `As contact.externalUserId, from Quntool's database only: answers "" when the mapping is not stored.`,
		Params: []bindings.Param{ownerWxID(), req("contactUserId", bindings.String, "the customer's 788... id")}, AccountParam: accountParam},
	{Name: "contact.contactUserId", Method: http.MethodPost, Path: "/contact/contactUserId",
		Doc:    "Convert an open-platform external user id (wm...) to the customer's Quntool id (788...).",
		Params: []bindings.Param{ownerWxID(), req("externalUserId", bindings.String, "the customer's wm... id")}, AccountParam: accountParam},
	{Name: "contact.contactUserIdFromDb", Method: http.MethodPost, Path: "/contact/contactUserIdFromDb",
		Doc:    `As contact.contactUserId, from Quntool's database only: answers "" when the mapping is not stored.`,
		Params: []bindings.Param{ownerWxID(), req("externalUserId", bindings.String, "the customer's wm... id")}, AccountParam: accountParam},
	{Name: "group.externalRoomId", Method: http.MethodPost, Path: "/group/externalRoomId",
		Doc:    "Convert a group's room id (R:...) to its open-platform id (wr...).",
		Params: []bindings.Param{ownerWxID(), req("roomId", bindings.String, `the group's room id, "R:..."`)}, AccountParam: accountParam},
	{Name: "group.roomId", Method: http.MethodPost, Path: "/group/RoomId",
		Doc:    "Convert a group's open-platform id (wr...) to its room id (R:...).",
		Params: []bindings.Param{ownerWxID(), req("externalRoomId", bindings.String, "the group's wr... id")}, AccountParam: accountParam},
	{Name: "contact.relation.get", Method: http.MethodGet, Path: "/contact/relation",
		Doc: "Look up a customer's ContactUserId, ExternalUserId, UnionId, corp ids and how it was added. Give " +
			"contactUserId or externalUserId (at least one). Needs WxApiConfig set up on the Quntool server; " +
			"without a need for the UnionId, prefer the conversions above.",
		Params: []bindings.Param{ownerWxID(),
			opt("contactUserId", bindings.String, "the customer's id (788... for WeChat users, 1688... for WeCom users)"),
			opt("externalUserId", bindings.String, "the customer's external user id in this company (wm... for WeChat users, wo... for WeCom users)"),
		}, AccountParam: accountParam},
	{Name: "contact.relation.sync", Method: http.MethodPost, Path: "/contact/relation/sync",
		Doc: "Synchronise a customer's ExternalUserId now (new customers are synchronised automatically, " +
			"which occasionally fails). Needs WxApiConfig set up on the Quntool server.",
		Params: []bindings.Param{ownerWxID(),
			req("contactUserId", bindings.String, "the customer's id (788... for WeChat users, 1688... for WeCom users)")},
		AccountParam: accountParam},

	// Labels.
	{Name: "label.all", Method: http.MethodGet, Path: "/label/all",
		Doc:    "List every label of the account's company (labelGroupId 0: a label group; labelType 1: company, 2: personal).",
		Params: []bindings.Param{wxID()}, AccountParam: accountParam},
	{Name: "label.contact.setlabel", Method: http.MethodPost, Path: "/label/contact/setlabel",
		Doc: "Set a customer's labels: the list replaces the current labels, so it also adds " +
			"(old and new ids), replaces (new ids only) and clears ([]).",
		Params: []bindings.Param{
			req("contactUserId", bindings.String, "the customer's id"),
			req("labelIds", bindings.Strings, "the label ids (see label.all)"),
			wxID(),
		}, AccountParam: accountParam},
	{Name: "label.contact.labels", Method: http.MethodGet, Path: "/label/contact/labels",
		Doc: "List a customer's labels.",
		Params: []bindings.Param{wxID(),
			req("contactUserId", bindings.String, "the customer's id, usually starting with 788")}, AccountParam: accountParam},
	{Name: "label.contact.search", Method: http.MethodPost, Path: "/label/contact/search",
		Doc: "Find the customers that carry labels, page by page.",
		Params: []bindings.Param{
			req("labelIds", bindings.Strings, "the label ids (see label.all)"),
			req("wxids", bindings.Strings, "the WeCom accounts whose customers are searched"),
			opt("pageIndex", bindings.Int, "the page, from 1"),
			opt("pageSize", bindings.Int, "customers per page"),
		}},
	{Name: "label.contacts", Method: http.MethodGet, Path: "/label/contacts",
		Doc: "List the customers that carry a label.",
		Params: []bindings.Param{
			req("labelId", bindings.String, "the label id (see label.all)"),
			wxID(),
		}, AccountParam: accountParam},
})

// ofVendor marks every endpoint as Quntool's.
func ofVendor(eps []bindings.Endpoint) []bindings.Endpoint {
	for i := range eps {
		eps[i].Vendor = Name
	}
	return eps
}

// accountParam is the parameter that names the account a call acts for.
const accountParam = "wxId"

func req(name string, t bindings.Type, doc string) bindings.Param {
	return bindings.Param{Name: name, Type: t, Required: true, Doc: doc}
}

func opt(name string, t bindings.Type, doc string) bindings.Param {
	return bindings.Param{Name: name, Type: t, Doc: doc}
}

func wxID() bindings.Param {
	return req(accountParam, bindings.String, "the WeCom account (wxid) the call acts for")
}

func ownerWxID() bindings.Param {
	return req(accountParam, bindings.String, "the WeCom account the customer or group belongs to")
}

func groupID() bindings.Param {
	return req(conversationParam, bindings.String, `the group's conversation id, "R:..."`)
}

// conversationParam is the parameter that names a send's conversation.
const conversationParam = "conversationId"

// send describes a msg.* endpoint: a POST that delivers to a conversation
// and answers {msgId}, the id the message's callback carries as sendMsgId.
func send(name, path, doc string, params ...bindings.Param) bindings.Endpoint {
	return sendEndpoint(name, path, doc+" Answers {msgId}: the message's callback carries it as sendMsgId.", params...)
}

func sendEndpoint(name, path, doc string, params ...bindings.Param) bindings.Endpoint {
	all := append([]bindings.Param{
		wxID(),
		req(conversationParam, bindings.String, `the conversation: "S:{smaller id}_{larger id}" for a private one `+
			`(a reversed id is put in order before sending), "R:{room id}" for a group`),
	}, params...)
	return bindings.Endpoint{
		Name: name, Method: http.MethodPost, Path: path, Doc: doc, Params: all,
		Class: bindings.Send, AccountParam: accountParam, Result: "{ msgId: string }",
	}
}
