package wechat

import (
	"net/http"
	"strings"
	"unicode"

	"github.com/switchboard-dev/switchboard/bindings"
)

// Endpoint names follow the path, one dotted part per segment, each segment
// in lower camelCase: /client/set_notify_url is client.setNotifyUrl. Every
// request is a JSON POST whose body carries the instance's guid; parameter
// names are the vendor's own, in snake_case.
//
// The vendor's document counts 130 endpoints in 13 modules but gives the
// path of only those of five modules (client, login, user, contact, cdn).
// Those are described below one by one. The message sends, which the
// document names without paths, are described with the paths and fields of
// the same vendor's WeCom API (/msg/send_text, /msg/send_room_at,
// /msg/send_image: one module/verb_object path per send), with the
// receiver in to_username since a WeChat conversation is a wxid or a room
// id rather than a WeCom conversation id. Every other endpoint is reachable
// through call, which posts any body to any path of the API.

// Request field names shared by several endpoints.
const (
	// accountParam carries the instance every call acts for.
	accountParam = "guid"
	// toParam carries the receiver of a send: a wxid, or a room id
	// ending in @chatroom.
	toParam = "to_username"
	// callName is the generic endpoint.
	callName = "call"
	// callPathParam and callBodyParam are call's two positional parameters.
	callPathParam = "path"
	callBodyParam = "body"
)

// Endpoints is every endpoint of the WeChat API whose path the vendor
// documents, the message sends, and call, each described once. Paths are
// relative to the base URL. The table is package data: read it, never
// modify it.
var Endpoints = ofVendor([]bindings.Endpoint{
	// Client (实例) management. An instance is a virtual device that one
	// account logs in to; it is created and deleted in the vendor's console.
	query("/client/restore_client", "Restore a stopped instance (恢复实例). Also what resumes message sync after a "+
		"system.sync_failed event (notify type 2006). The document lists no parameters beyond guid."),
	query("/client/stop_client", "Stop a running instance (停止实例). The document lists no parameters beyond guid."),
	query("/client/set_notify_url", "Set the URL the instance posts its callbacks to (设置实例通知地址): "+
		"{guid, notify_type, data}. Do it once logged in; use HTTPS in production.",
		req("notify_url", bindings.String, "the callback URL, http:// or https://; point it at /callback/wechat")),
	query("/client/set_bridge", "Set the instance's bridge identifier (设置实例桥接).",
		opt("bridge", bindings.String, "the bridge identifier; the document gives no field name or format for it")),
	query("/client/set_proxy", "Set the network proxy the instance goes out through (设置实例代理).",
		opt("proxy", bindings.String, "the proxy URL (socks5://user:pass@host:port or http://...); "+
			"the document gives no field name or format for it")),
	query("/client/update_client", "Upgrade the instance to the current version (升级实例). "+
		"The document lists no parameters beyond guid."),
	query("/client/get_client_status", "The instance's current state (获取实例状态). "+
		"The document lists no parameters beyond guid."),
	query("/client/get_client_version", "The instance's version (获取实例版本). "+
		"The document's example request: {\"guid\": \"your-instance-guid\"}."),

	// Login (登录): get the QR code, poll it, and confirm on the phone.
	query("/login/get_login_qrcode", "Get a login QR code to scan (获取登录二维码). Its changes also arrive as "+
		"login.qrcode events (notify type 1002). The document lists no parameters beyond guid."),
	query("/login/check_login_qrcode", "Poll the login QR code's status (检查登录二维码状态): 0 waiting, "+
		"1 scanned, 2 confirmed, 3 failed, 4 refused, 10 needs verification.",
		opt("uuid", bindings.String, "the QR code's uuid from login.getLoginQrcode; the instance's current one when absent")),
	query("/login/push_login_url", "Push a login confirmation to the phone of the account that was last logged in "+
		"to the instance (推送手机确认登录通知), so it logs in again without a new scan. "+
		"The document lists no parameters beyond guid."),
	query("/login/verify_login_url", "Complete a login that asked for verification (验证登录): a login.qrcode event "+
		"with data.state need_verify names this endpoint in data.verify.",
		req("code", bindings.String, "the verification code shown on the phone")),

	// User (用户): the logged-in account.
	query("/user/get_profile", "The logged-in account's profile (获取登录账号信息). "+
		"The document lists no parameters beyond guid."),
	query("/user/get_qrcode", "The logged-in account's personal QR code (获取个人二维码). "+
		"The document lists no parameters beyond guid."),
	query("/user/logout", "Log the account out of the instance (退出登录); a logout event follows. "+
		"The document lists no parameters beyond guid."),

	// Contacts (联系人).
	query("/contact/init_contact", "Sync the contact list (同步联系人): the wxids of friends, official accounts and "+
		"rooms, in pages; call again with the answered seqs while continue_flag is 1.",
		opt("contact_seq", bindings.Int, "the contact_seq of the previous page; 0 for the first"),
		opt("room_seq", bindings.Int, "the room_seq of the previous page; 0 for the first")),
	query("/contact/modify_contact_top_flag", "Pin or unpin a chat (置顶聊天).",
		req("user_name", bindings.String, "the wxid or room id of the chat"),
		opt("is_top", bindings.Bool, "true pins (the default), false unpins")),
	query("/contact/get_contact", "Contacts' full details (获取联系人详细): names, remark, avatar, region, labels, "+
		"contact type (0 stranger, 1 system, 2 friend, 3 official account, 4 room).",
		req("username_list", bindings.Strings, "the wxids (or room ids) to look up"),
		opt("room_username", bindings.String, "a room the people are members of, to look up members who are not friends")),
	query("/contact/batch_get_contact_brief_info", "Contacts' brief information, many at once (批量获取联系人简要信息).",
		req("username_list", bindings.Strings, "the wxids (or room ids) to look up")),
	query("/contact/search_contact", "Find a WeChat user by phone number, WeChat id or QQ number (通过手机号/微信号/QQ搜索). "+
		"Answers the user's public profile and the v3 ticket contact.addFriend takes.",
		req("keyword", bindings.String, "the phone number, WeChat id or QQ number")),
	query("/contact/add_friend", "Ask a WeChat user to become a friend (添加微信用户); a contact.added event follows "+
		"once they accept. Do not add friends in the first three days on a new device.",
		req("v3", bindings.String, "the user's v3 ticket from contact.searchContact (or their wxid)"),
		opt("verify_content", bindings.String, "the greeting shown with the request"),
		opt("scene", bindings.Int, "how the user was found: 3 WeChat id, 15 phone number (the default)")),
	query("/contact/verify_friend", "Accept a friend request (检查好友状态/同意好友申请): the v3 (encrypt_user_name) "+
		"and v4 (ticket) of a friend.request event.",
		req("v3", bindings.String, "data.encrypt_user_name of the friend.request event"),
		req("v4", bindings.String, "data.ticket of the friend.request event"),
		opt("scene", bindings.Int, "data.scene of the friend.request event")),
	query("/contact/modify_remark", "Set a friend's remark (修改好友备注).",
		req("user_name", bindings.String, "the friend's wxid"),
		req("remark", bindings.String, "the new remark; empty clears it")),
	query("/contact/del_friend", "Delete a friend (删除好友); a contact.removed event follows.",
		req("user_name", bindings.String, "the friend's wxid")),

	// Message sends (消息). The document names them without paths; see the
	// note at the top of this file.
	send("/msg/send_text", "Send a text message (发送文本消息) to a person or a room.",
		req("content", bindings.String, "the text")),
	send("/msg/send_room_at", "Send a text that mentions room members (发送群@消息).",
		req("content", bindings.String, "the text; WeChat shows each mention as @name, so put the names in it"),
		req("at_list", bindings.Strings, `the mentioned members' wxids; ["notify@all"] mentions everyone (owner and admins only)`)),
	send("/msg/send_image", "Send an image (发送图片).",
		req("url", bindings.String, "where the instance downloads the image from")),
	send("/msg/send_video", "Send a video (发送视频).",
		req("url", bindings.String, "where the instance downloads the video from"),
		opt("thumb_url", bindings.String, "the cover image")),
	send("/msg/send_file", "Send a file (发送文件).",
		req("url", bindings.String, "where the instance downloads the file from"),
		opt("file_name", bindings.String, "the name the receiver sees; the URL's last segment when absent")),
	send("/msg/send_voice", "Send a voice message (发送语音), SILK audio.",
		req("url", bindings.String, "where the instance downloads the audio from"),
		opt("duration", bindings.Int, "its length in milliseconds")),
	send("/msg/send_emoji_url", "Send an emoticon by its URL (发送表情url).",
		req("url", bindings.String, "the emoticon image (GIF, PNG or JPEG)")),
	send("/msg/send_location", "Send a location (发送位置).",
		req("latitude", bindings.Any, "latitude in degrees"),
		req("longitude", bindings.Any, "longitude in degrees"),
		opt("label", bindings.String, "the address"),
		opt("poi_name", bindings.String, "the place's name")),
	send("/msg/send_card", "Send a person's contact card (发送分享名片).",
		req("card_username", bindings.String, "the wxid of the person whose card is sent"),
		opt("card_nickname", bindings.String, "the name on the card"),
		opt("card_alias", bindings.String, "the WeChat id on the card")),
	send("/msg/send_link_card", "Send a link card (发送链接卡片).",
		req("title", bindings.String, "the card's title"),
		req("url", bindings.String, "where the card leads"),
		opt("desc", bindings.String, "the line under the title"),
		opt("thumb_url", bindings.String, "the card's picture")),

	// CDN.
	query("/cdn/get_cdn_file", "Download a file kept on WeChat's CDN (获取CDN文件): the cdn_url and aes_key "+
		"a media message's event carries in its data. Answers the content in base64.",
		req("file_id", bindings.String, "the file's CDN id (data.cdn_url of the message's event)"),
		opt("aes_key", bindings.String, "the file's key (data.aes_key of the message's event)"),
		opt("file_type", bindings.Int, "2 image, 4 video, 5 file")),
	query("/cdn/get_cdn_info", "The instance's CDN configuration (获取CDN信息). The document lists no parameters beyond guid."),

	// Everything else.
	{Name: callName, Method: http.MethodPost, Path: "/",
		Doc: "Post body to any path of the API (wechat.call(path, body)), for the endpoints the document names " +
			"without a path: rooms, labels, moments, cloud storage, WeCom contacts, mini programs... " +
			"The body is sent as it is; put the instance's guid in it. Answers the vendor's data.",
		Params: []bindings.Param{
			req(callPathParam, bindings.String, `the endpoint's path, from the API root: "/room/get_chatroom_detail"`),
			opt(callBodyParam, bindings.Object, `the JSON body: {"guid": "...", ...}`),
		},
		Positional: true, Result: "any", AccountIn: callBodyParam},
})

// ofVendor marks every endpoint as WeChat's.
func ofVendor(eps []bindings.Endpoint) []bindings.Endpoint {
	for i := range eps {
		eps[i].Vendor = Name
	}
	return eps
}

// query describes a POST that acts on the instance named by guid.
func query(path, doc string, params ...bindings.Param) bindings.Endpoint {
	return bindings.Endpoint{
		Name: NameOf(path), Method: http.MethodPost, Path: path, Doc: doc,
		Params:       append([]bindings.Param{guid()}, params...),
		AccountParam: accountParam,
	}
}

// send describes a message send: a POST from the instance named by guid
// to the person or room named by to_username.
func send(path, doc string, params ...bindings.Param) bindings.Endpoint {
	ep := query(path, doc+" Answers the sent message's ids (msg_id, new_msg_id).",
		append([]bindings.Param{req(toParam, bindings.String,
			`the receiver: a wxid, or a room id ending in @chatroom (an event's conversation id without its "S:" or "R:")`)},
			params...)...)
	ep.Class = bindings.Send
	ep.Result = "{ msg_id: number, new_msg_id: number, create_time: number }"
	return ep
}

func guid() bindings.Param {
	return req(accountParam, bindings.String, "the instance (the event's account)")
}

func req(name string, t bindings.Type, doc string) bindings.Param {
	return bindings.Param{Name: name, Type: t, Required: true, Doc: doc}
}

func opt(name string, t bindings.Type, doc string) bindings.Param {
	return bindings.Param{Name: name, Type: t, Doc: doc}
}

// NameOf derives an endpoint's dotted name from its path: one part per
// segment, snake_case turned to lower camelCase
// ("/client/set_notify_url" is "client.setNotifyUrl").
func NameOf(path string) string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i, seg := range segs {
		var b strings.Builder
		upper := false
		for j, r := range seg {
			switch {
			case r == '_' || r == '-':
				upper = b.Len() > 0
			case upper:
				b.WriteRune(unicode.ToUpper(r))
				upper = false
			case j == 0:
				b.WriteRune(unicode.ToLower(r))
			default:
				b.WriteRune(r)
			}
		}
		segs[i] = b.String()
	}
	return strings.Join(segs, ".")
}
