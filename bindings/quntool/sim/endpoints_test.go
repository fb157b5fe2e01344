package sim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The private conversation of acctA and customer1, as the vendor spells it.
const convA1 = "S:1688850000000001_7881300000000001"

var endpointLine = regexp.MustCompile(`^(GET|POST|PUT|DELETE) (/\S*)`)

// documentedEndpoints reads "METHOD /path" lines.
func documentedEndpoints(doc []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(doc))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := endpointLine.FindStringSubmatch(sc.Text()); m != nil {
			out = append(out, m[1]+" "+m[2])
		}
	}
	return out
}

// vendorDocument is the path of the vendor's openAPI document, which lives
// outside the module; "" when it is not there.
func vendorDocument() string {
	dir := os.Getenv("SWITCHBOARD_SEEDS")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "..", "shared", "seeds")
	}
	found, _ := filepath.Glob(filepath.Join(dir, "004_*.txt"))
	if len(found) != 1 {
		return ""
	}
	return found[0]
}

// TestRoutesEveryDocumentedEndpoint sends a request to every "METHOD /path"
// line of the vendor document (testdata/endpoints.txt holds them, and is
// checked against the document where it is available): none may be
// answered 404 or 405, and each answer is the vendor's envelope.
func TestRoutesEveryDocumentedEndpoint(t *testing.T) {
	t.Parallel()
	fixture, err := os.ReadFile("testdata/endpoints.txt")
	if err != nil {
		t.Fatal(err)
	}
	documented := documentedEndpoints(fixture)
	t.Run("fixture is the document's list", func(t *testing.T) {
		t.Parallel()
		path := vendorDocument()
		if path == "" {
			t.Skip("vendor document 004_*.txt not found (set SWITCHBOARD_SEEDS to its folder)")
		}
		doc, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := documentedEndpoints(doc); !slices.Equal(got, documented) {
			t.Errorf("the document lists\n%v\nthe fixture\n%v", got, documented)
		}
	})
	paths := map[string]bool{}
	for _, d := range documented {
		paths[strings.Fields(d)[1]] = true
	}
	if len(paths) != 57 || len(documented) != 58 {
		t.Fatalf("%d paths in %d lines; the vendor counts 57 endpoints, /group/member with two methods", len(paths), len(documented))
	}

	var routed []string
	for _, rt := range apiRoutes() {
		routed = append(routed, rt.method+" "+rt.path)
	}
	slices.Sort(routed)
	want := slices.Clone(documented)
	slices.Sort(want)
	if !slices.Equal(routed, want) {
		t.Errorf("routes\n%v\ndocumented\n%v", routed, want)
	}

	e := newEnv(t, Options{APIKey: testKey})
	for _, d := range documented {
		method, path, _ := strings.Cut(d, " ")
		a := e.call(method, path, nil)
		if a.Status == http.StatusNotFound || a.Status == http.StatusMethodNotAllowed {
			t.Errorf("%s: HTTP %d", d, a.Status)
			continue
		}
		var env map[string]json.RawMessage
		if err := json.Unmarshal(a.raw, &env); err != nil {
			t.Errorf("%s: not JSON: %s", d, a.raw)
			continue
		}
		for _, k := range []string{"msg", "code", "data"} {
			if _, ok := env[k]; !ok {
				t.Errorf("%s: envelope lacks %q: %s", d, k, a.raw)
			}
		}
	}
	if a := e.call(http.MethodGet, "/msg/unknown", nil); a.Status != http.StatusNotFound {
		t.Errorf("an undocumented path answered HTTP %d, want 404", a.Status)
	}
}

// endpointCase is one call of TestEndpointShapes: args builds the request
// (and may prepare the world), check asserts on the answer's data.
type endpointCase struct {
	name         string
	method, path string
	args         func(w *world) any
	check        func(t *testing.T, w *world, data json.RawMessage)
}

func fixed(v map[string]any) func(*world) any { return func(*world) any { return v } }

// accountStatus is acctA's status in /inner/user/wx/list.
func accountStatus(t *testing.T, w *world) float64 {
	t.Helper()
	for _, item := range list(t, w.ok(http.MethodGet, "/inner/user/wx/list", map[string]any{"IsOnline": false})) {
		if item["wxId"] == acctA {
			return item["Status"].(float64)
		}
	}
	t.Fatalf("%s is not listed", acctA)
	return -1
}

func extendInfo(t *testing.T, w *world, id string) map[string]any {
	t.Helper()
	return obj(t, w.ok(http.MethodGet, "/contact/extendinfo", map[string]any{"wxId": acctA, "ContactId": id}))
}

func externalContact(t *testing.T, w *world, id string) map[string]any {
	t.Helper()
	for _, c := range list(t, w.ok(http.MethodGet, "/contact/external/list", map[string]any{"wxId": acctA})) {
		if c["user_id"] == id {
			return c
		}
	}
	return nil
}

var contactKeys = []string{"avatar", "conversation_id", "corp_id", "nickname", "position", "realname", "remark",
	"sex", "user_id", "username"}

// containerCase calls path for acctA's container (stopped first when
// stopFirst): the account ends in status want, and the callbacks arrive.
func containerCase(path string, stopFirst bool, want float64, callbacks ...string) endpointCase {
	return endpointCase{name: path, method: http.MethodPost, path: path,
		args: func(w *world) any {
			if stopFirst {
				w.ok(http.MethodPost, "/container/stop", map[string]any{"hostname": []string{w.hostA}})
			}
			return map[string]any{"hostname": []string{w.hostA}}
		},
		check: func(t *testing.T, w *world, data json.RawMessage) {
			if st := accountStatus(t, w); st != want {
				t.Errorf("status %v, want %v", st, want)
			}
			for _, typ := range callbacks {
				w.rx.waitFor(t, testCtx(t), typ, 1)
			}
		}}
}

// sendCase is a send endpoint's case: it answers a msgId, records a send of
// kind with content, and posts the sent callback of type callback.
func sendCase(path, kind, callback, content string, args map[string]any) endpointCase {
	return endpointCase{name: path, method: http.MethodPost, path: path, args: func(w *world) any {
		out := map[string]any{"wxId": acctA, "conversationId": convA1}
		for k, v := range args {
			out[k] = v
		}
		if kind == "roomAt" {
			out["conversationId"] = w.room
		}
		return out
	}, check: func(t *testing.T, w *world, data json.RawMessage) {
		msgID := obj(t, data)["msgId"]
		sent := w.sim.Sent()
		if len(sent) != 1 {
			t.Fatalf("%d sends recorded, want 1", len(sent))
		}
		if s := sent[0]; s.MsgID != msgID || s.Kind != kind || s.Content != content || s.Account != acctA {
			t.Errorf("recorded %+v; want msgId %v kind %s content %q", s, msgID, kind, content)
		}
		cb := w.rx.waitFor(t, testCtx(t), callback, 1)
		if cb["sendMsgId"] != msgID {
			t.Errorf("sent callback sendMsgId %v, want %v", cb["sendMsgId"], msgID)
		}
		d := cb["data"].(map[string]any)
		if d["isOpenApi"] != true || d["sender"] != acctA || d["error_code"] != 0.0 {
			t.Errorf("sent callback data %v", d)
		}
	}}
}

// TestEndpointShapes calls every endpoint in a seeded world and checks the
// envelope, the shape of data as the vendor document shows it, and the
// state change.
func TestEndpointShapes(t *testing.T) {
	t.Parallel()
	cases := []endpointCase{
		{name: "verify without a pending login", method: http.MethodPost, path: "/container/verify",
			args: func(w *world) any { return map[string]any{"hostname": w.hostA, "key": "K", "code": "1"} },
			check: func(t *testing.T, w *world, data json.RawMessage) {
				m := obj(t, data)
				sameKeys(t, "verify", m, "errcode", "errmsg")
				if m["errcode"].(float64) >= 0 {
					t.Errorf("errcode %v, want < 0", m["errcode"])
				}
			}},
		{name: "create", method: http.MethodPost, path: "/container/create", args: fixed(map[string]any{"userId": DefaultUserID}),
			check: func(t *testing.T, w *world, data json.RawMessage) {
				m := obj(t, data)
				sameKeys(t, "create", m, "qrcode", "hostname", "version", "createtime", "wxPid")
				resp, err := w.api.Client().Get(w.api.URL + m["qrcode"].(string))
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				if _, err := jpeg.Decode(resp.Body); err != nil || resp.StatusCode != http.StatusOK {
					t.Errorf("qr code image: HTTP %d, %v", resp.StatusCode, err)
				}
				if cb := w.rx.waitFor(t, testCtx(t), "qrcode_status_msg", 1); cb["source"] != m["hostname"] || cb["userId"] != nil {
					t.Errorf("qrcode_status_msg %v", cb)
				}
			}},
		containerCase("/container/stop", false, StatusOffline, "user_offline"),
		containerCase("/container/start", true, StatusOnline, "user_login"),
		containerCase("/container/remove", false, StatusLoggedOut, "user_offline"),
		containerCase("/container/restart", false, StatusOnline, "user_offline", "user_login"),
		{name: "memory", method: http.MethodGet, path: "/container/memory", args: fixed(nil),
			check: func(t *testing.T, w *world, data json.RawMessage) {
				l := list(t, data)
				if len(l) != 2 {
					t.Fatalf("%d online accounts, want 2", len(l))
				}
				sameKeys(t, "memory", l[0], "WxId", "UserName", "HostName", "WxPid", "Memory")
			}},
		{name: "account list", method: http.MethodGet, path: "/inner/user/wx/list", args: fixed(map[string]any{"userId": DefaultUserID}),
			check: func(t *testing.T, w *world, data json.RawMessage) {
				l := list(t, data)
				if len(l) != 2 {
					t.Fatalf("%d accounts, want 2", len(l))
				}
				sameKeys(t, "account", l[0], "hostname", "wxId", "userId", "username", "nickname", "avatar", "corp_id",
					"corp_name", "mobile", "position", "corp_short_name", "job_name", "account", "acctid", "Status", "QrCode")
				if l[0]["wxId"] != acctA || l[0]["acctid"] != "alice" {
					t.Errorf("first account %v", l[0])
				}
			}},
		{name: "user list", method: http.MethodGet, path: "/inner/user/list", args: fixed(nil),
			check: func(t *testing.T, w *world, data json.RawMessage) {
				l := list(t, data)
				sameKeys(t, "user", l[0], "id", "username", "createdAt", "phone", "avatar", "Permissions", "IsAdmin", "Remark")
				if l[0]["id"] != DefaultUserID || l[0]["IsAdmin"] != true {
					t.Errorf("first user %v", l[0])
				}
			}},
		{name: "external contacts", method: http.MethodGet, path: "/contact/external/list", args: fixed(map[string]any{"wxId": acctA}),
			check: func(t *testing.T, w *world, data json.RawMessage) {
				l := list(t, data)
				if len(l) != 2 {
					t.Fatalf("%d external contacts, want 2", len(l))
				}
				sameKeys(t, "contact", l[0], append(contactKeys, "external_user_id", "is_delete", "delete_time")...)
				if l[0]["conversation_id"] != convA1 || l[0]["corp_id"] != WeChatCorpID || l[0]["username"] != "左脚" {
					t.Errorf("contact %v", l[0])
				}
			}},
		{name: "extend info", method: http.MethodGet, path: "/contact/extendinfo", args: fixed(map[string]any{"wxId": acctA, "ContactId": customer1}),
			check: func(t *testing.T, w *world, data json.RawMessage) {
				m := obj(t, data)
				sameKeys(t, "extendinfo", m, "corp_remark", "desc", "phone_list", "remark", "status", "user_id")
				if phones := m["phone_list"].([]any); len(phones) != 1 || phones[0] != "235" {
					t.Errorf("phone_list %v", phones)
				}
			}},
		{name: "inner contacts", method: http.MethodGet, path: "/contact/inner/list", args: fixed(map[string]any{"wxId": acctA}),
			check: func(t *testing.T, w *world, data json.RawMessage) {
				l := list(t, data)
				if len(l) != 1 || l[0]["user_id"] != acctB || l[0]["realname"] != "Bob" {
					t.Fatalf("inner contacts %v, want Bob", l)
				}
				sameKeys(t, "inner contact", l[0], contactKeys...)
			}},
		{name: "remark", method: http.MethodPut, path: "/contact/remark", args: fixed(map[string]any{"wxId": acctA, "contactId": customer1, "remark": "备注"}),
			check: func(t *testing.T, w *world, data json.RawMessage) {
				if got := extendInfo(t, w, customer1)["remark"]; got != "备注" {
					t.Errorf("remark %v", got)
				}
			}},
		{name: "desc", method: http.MethodPut, path: "/contact/desc", args: fixed(map[string]any{"wxId": acctA, "contactId": customer1, "desc": "描述"}),
			check: func(t *testing.T, w *world, data json.RawMessage) {
				if got := extendInfo(t, w, customer1)["desc"]; got != "描述" {
					t.Errorf("desc %v", got)
				}
			}},
		{name: "phone", method: http.MethodPut, path: "/contact/phone",
			args: fixed(map[string]any{"wxId": acctA, "contactId": customer1, "phones": []string{"18268181111", "18268182222"}}),
			check: func(t *testing.T, w *world, data json.RawMessage) {
				if got := extendInfo(t, w, customer1)["phone_list"].([]any); len(got) != 2 || got[1] != "18268182222" {
					t.Errorf("phone_list %v", got)
				}
			}},
		{name: "remove contact", method: http.MethodPost, path: "/contact/remove", args: fixed(map[string]any{"wxId": acctA, "ContactUserId": customer2}),
			check: func(t *testing.T, w *world, data json.RawMessage) {
				c := externalContact(t, w, customer2)
				if c["is_delete"] != true || c["delete_time"] != "2024-03-06 18:00:00" {
					t.Errorf("removed contact %v", c)
				}
			}},
		{name: "query", method: http.MethodPost, path: "/contact/external/query",
			args: fixed(map[string]any{"ContactInfos": []any{
				map[string]any{"WxId": acctA, "ContactUserId": customer1},
				map[string]any{"WxId": acctA, "ContactUserId": stranger},
			}}),
			check: func(t *testing.T, w *world, data json.RawMessage) {
				l := list(t, data)
				if len(l) != 1 || l[0]["user_id"] != customer1 {
					t.Errorf("query answered %v, want customer 1 only", l)
				}
			}},
		{name: "search", method: http.MethodGet, path: "/contact/search", args: fixed(map[string]any{"wxId": acctA, "keyword": strangerM}),
			check: func(t *testing.T, w *world, data json.RawMessage) {
				m := obj(t, data)
				sameKeys(t, "search", m, "contact_info", "corpinfo", "datalist", "error_code", "error_message", "flag",
					"keyword", "name", "relation", "search_status")
				item := m["datalist"].([]any)[0].(map[string]any)
				hasKeys(t, "datalist item", item, "contact_info", "contact_info_wx", "corpinfo", "openid", "wx_ticket")
				wx := item["contact_info_wx"].(map[string]any)
				if wx["uin"] != stranger || wx["name"] != "我不知道" {
					t.Errorf("contact_info_wx uin %v name %v", wx["uin"], wx["name"])
				}
				hasKeys(t, "contact_info", m["contact_info"].(map[string]any), "uin", "unionid", "holiday_info", "xcx_style")
			}},
		{name: "search add", method: http.MethodPost, path: "/contact/search/add",
			args: func(w *world) any {
				found := obj(w.t, w.ok(http.MethodGet, "/contact/search", map[string]any{"wxId": acctA, "keyword": strangerM}))
				item := found["datalist"].([]any)[0].(map[string]any)
				return map[string]any{"wxId": acctA, "contactUserId": stranger, "openid": item["openid"], "wxticket": "", "verify": "你好"}
			},
			check: func(t *testing.T, w *world, data json.RawMessage) {
				if externalContact(t, w, stranger) == nil {
					t.Error("the searched person is not a contact")
				}
				cb := w.rx.waitFor(t, testCtx(t), "notify_type_contact_add", 1)
				sameKeys(t, "contact add", cb["data"].(map[string]any), "acctid", "avatar", "conversation_id", "corp_id",
					"mobile", "nickname", "position", "realname", "remark", "sex", "unionid", "user_id", "username")
			}},
		{name: "to external user id", method: http.MethodPost, path: "/contact/externalUserId", args: fixed(map[string]any{"WxId": acctA, "ContactUserId": customer1}),
			check: func(t *testing.T, w *world, data json.RawMessage) {
				ext := obj(t, data)["ExternalUserId"].(string)
				if !strings.HasPrefix(ext, "wm") {
					t.Errorf("ExternalUserId %q", ext)
				}
				back := obj(t, w.ok(http.MethodPost, "/contact/contactUserId", map[string]any{"WxId": acctA, "ExternalUserId": ext}))
				if back["ContactUserId"] != customer1 {
					t.Errorf("converted back to %v", back)
				}
			}},
		{name: "to external user id from db", method: http.MethodPost, path: "/contact/externalUserIdFromDb", args: fixed(map[string]any{"WxId": acctA, "ContactUserId": stranger}),
			check: func(t *testing.T, w *world, data json.RawMessage) {
				if got := obj(t, data)["ExternalUserId"]; got != "" {
					t.Errorf("a stranger's stored id is %q, want empty", got)
				}
			}},
		{name: "to contact user id", method: http.MethodPost, path: "/contact/contactUserId",
			args: fixed(map[string]any{"WxId": acctA, "ExternalUserId": externalUserID(DefaultCorpID, customer2)}),
			check: func(t *testing.T, w *world, data json.RawMessage) {
				if got := obj(t, data)["ContactUserId"]; got != customer2 {
					t.Errorf("ContactUserId %v", got)
				}
			}},
		{name: "to contact user id from db", method: http.MethodPost, path: "/contact/contactUserIdFromDb",
			args: fixed(map[string]any{"WxId": acctA, "ExternalUserId": "wm_unknown"}),
			check: func(t *testing.T, w *world, data json.RawMessage) {
				if got := obj(t, data)["ContactUserId"]; got != "" {
					t.Errorf("ContactUserId %v, want empty", got)
				}
			}},
		{name: "to external room id", method: http.MethodPost, path: "/group/externalRoomId",
			args: func(w *world) any { return map[string]any{"WxId": acctA, "RoomId": w.room} },
			check: func(t *testing.T, w *world, data json.RawMessage) {
				ext := obj(t, data)["ExternalRoomId"].(string)
				back := obj(t, w.ok(http.MethodPost, "/group/RoomId", map[string]any{"WxId": acctA, "ExternalRoomId": ext}))
				if !strings.HasPrefix(ext, "wr") || back["RoomId"] != w.room {
					t.Errorf("ExternalRoomId %q converts back to %v", ext, back)
				}
			}},
		{name: "to room id", method: http.MethodPost, path: "/group/RoomId",
			args: func(w *world) any {
				return map[string]any{"WxId": acctA, "ExternalRoomId": externalRoomID(DefaultCorpID, w.room)}
			},
			check: func(t *testing.T, w *world, data json.RawMessage) {
				sameKeys(t, "room id", obj(t, data), "RoomId")
			}},
		{name: "relation", method: http.MethodGet, path: "/contact/relation", args: fixed(map[string]any{"wxId": acctA, "ContactUserId": customer1}),
			check: func(t *testing.T, w *world, data json.RawMessage) {
				m := obj(t, data)
				sameKeys(t, "relation", m, "ContactUserId", "ExternalUserId", "CorpId", "CorpIdOrigin", "UnionId", "AddWay",
					"State", "CreateTime", "AddWayDesc")
				if m["CorpIdOrigin"] != DefaultCorpID || !strings.HasPrefix(m["CorpId"].(string), "ww") {
					t.Errorf("relation %v", m)
				}
			}},
		{name: "relation sync", method: http.MethodPost, path: "/contact/relation/sync", args: fixed(map[string]any{"wxId": acctA, "ContactUserId": customer1}),
			check: func(t *testing.T, w *world, data json.RawMessage) {
				m := obj(t, data)
				hasKeys(t, "relation sync", m, "ContactUserId", "ExternalUserId", "UnionId", "Name", "Avatar")
				if m["Name"] != "左脚" {
					t.Errorf("Name %v", m["Name"])
				}
			}},
		sendCase("/msg/text", "text", "text_msg", "你好", map[string]any{"content": "你好"}),
		sendCase("/msg/roomAt", "roomAt", "text_msg", "hi {$@}", map[string]any{"content": "hi {$@}", "atList": []string{customer1}}),
		sendCase("/msg/image", "image", "image_msg", "http://example.test/a.jpg", map[string]any{"fileUrl": "http://example.test/a.jpg"}),
		sendCase("/msg/file", "file", "file_msg", "http://example.test/a.csv", map[string]any{"fileUrl": "http://example.test/a.csv"}),
		sendCase("/msg/gif", "gif", "emoticon_msg", "http://example.test/a.gif", map[string]any{"fileUrl": "http://example.test/a.gif"}),
		sendCase("/msg/video", "video", "video_msg", "http://example.test/a.mp4", map[string]any{"fileUrl": "http://example.test/a.mp4"}),
		sendCase("/msg/voice", "voice", "voice_msg", "http://example.test/a.aac", map[string]any{"fileUrl": "http://example.test/a.aac"}),
		sendCase("/msg/personCard", "personCard", "person_card_msg", customer2, map[string]any{"personCardUserId": customer2}),
		sendCase("/msg/link", "link", "link_card_msg", "https://example.test", map[string]any{"title": "Example", "url": "https://example.test"}),
		sendCase("/msg/miniProgram", "miniProgram", "mini_program_msg", "Title",
			map[string]any{"username": "gh_1@app", "appid": "wx1", "title": "Title", "page_path": "pages/index"}),
		sendCase("/msg/videoNum", "videoNum", "video_num_msg", "https://channels.example.test/feed",
			map[string]any{"url": "https://channels.example.test/feed", "feed_type": 4, "nickname": "博主"}),
		sendCase("/msg/quote", "quote", "text_msg", "我很好", map[string]any{"content": "我很好", "serverId": "1107070", "quote": "左脚:\n你好吗?"}),
		sendCase("/miniProgram/send", "miniProgram", "mini_program_msg", "Try the demo", map[string]any{"miniProgramId": 1}),
		sendCase("/videonum/send", "videoNum", "video_num_msg", "https://channels.weixin.qq.com/web/pages/feed?eid=switchboard-demo",
			map[string]any{"videoNumId": 1}),
		{name: "mini programs", method: http.MethodGet, path: "/miniprogram/list", args: fixed(nil),
			check: func(t *testing.T, w *world, data json.RawMessage) {
				sameKeys(t, "mini program", list(t, data)[0], "id", "username", "appid", "appname", "appicon", "title",
					"page_path", "cover_path", "type")
			}},
		{name: "videos", method: http.MethodGet, path: "/videonum/list", args: fixed(nil),
			check: func(t *testing.T, w *world, data json.RawMessage) {
				sameKeys(t, "video", list(t, data)[0], "id", "cover_url", "desc", "feed_type", "nickname", "thumb_url",
					"url", "extras", "avatar", "type")
			}},
		{name: "create group", method: http.MethodPost, path: "/group", args: fixed(map[string]any{"wxId": acctA, "memberWxIds": customer1 + "," + customer2}),
			check: func(t *testing.T, w *world, data json.RawMessage) {
				m := obj(t, data)
				sameKeys(t, "group", m, "createruin", "createtime", "error_code", "error_message", "failmem", "msgid",
					"msgseq", "roomid", "roomname", "sessionid", "success_add_vidlist")
				rm, ok := w.sim.Room("R:" + m["roomid"].(string))
				if !ok || len(rm.Members) != 3 || rm.Owner != acctA {
					t.Errorf("room %+v (found %v)", rm, ok)
				}
				cb := w.rx.waitFor(t, testCtx(t), "notify_type_room_create", 1)
				sameKeys(t, "room create", cb["data"].(map[string]any), "member_list", "op_user_id", "op_user_name",
					"room_conversation_id", "room_name")
			}},
		{name: "groups", method: http.MethodGet, path: "/group/list", args: fixed(map[string]any{"wxId": acctA}),
			check: func(t *testing.T, w *world, data json.RawMessage) {
				l := list(t, data)
				if len(l) != 1 {
					t.Fatalf("%d groups, want 1", len(l))
				}
				sameKeys(t, "group", l[0], "wx_id", "conversation_id", "create_time", "create_user_id", "is_external",
					"nickname", "is_admin", "is_creator", "total")
				if l[0]["is_external"] != 1.0 || l[0]["is_creator"] != 1.0 || l[0]["total"] != 3.0 || l[0]["nickname"] != "Alice、左脚、依然" {
					t.Errorf("group %v", l[0])
				}
			}},
		{name: "rename group", method: http.MethodPut, path: "/group/name",
			args: func(w *world) any { return map[string]any{"wxId": acctA, "conversationId": w.room, "name": "PK赛"} },
			check: func(t *testing.T, w *world, data json.RawMessage) {
				if rm, _ := w.sim.Room(w.room); rm.Name != "PK赛" {
					t.Errorf("name %q", rm.Name)
				}
				w.rx.waitFor(t, testCtx(t), "room_name_changed", 1)
			}},
		{name: "members", method: http.MethodGet, path: "/group/member/list",
			args: func(w *world) any { return map[string]any{"wxId": acctA, "conversationId": w.room} },
			check: func(t *testing.T, w *world, data json.RawMessage) {
				m := obj(t, data)
				sameKeys(t, "member list", m, "conversation_id", "member_list", "page_num", "page_size", "total", "total_page")
				members := m["member_list"].([]any)
				if len(members) != 3 || m["total"] != 3.0 {
					t.Fatalf("%d members, total %v", len(members), m["total"])
				}
				sameKeys(t, "member", members[0].(map[string]any), "acctid", "avatar", "corp_id", "invite_user_id", "is_admin",
					"join_scene", "join_time", "mobile", "nickname", "position", "realname", "remark", "room_nickname", "sex",
					"unionid", "user_id", "username")
			}},
		{name: "add members", method: http.MethodPost, path: "/group/member",
			args: func(w *world) any {
				return map[string]any{"wxId": acctA, "conversationId": w.room, "memberWxIds": acctB}
			},
			check: func(t *testing.T, w *world, data json.RawMessage) {
				if rm, _ := w.sim.Room(w.room); !slices.Contains(rm.Members, acctB) {
					t.Errorf("members %v lack %s", rm.Members, acctB)
				}
				// Both accounts are in the group now: each is told.
				w.rx.waitFor(t, testCtx(t), "notify_type_room_add_member", 2)
			}},
		{name: "remove members", method: http.MethodDelete, path: "/group/member",
			args: func(w *world) any {
				return map[string]any{"wxId": acctA, "conversationId": w.room, "memberWxIds": customer2}
			},
			check: func(t *testing.T, w *world, data json.RawMessage) {
				if rm, _ := w.sim.Room(w.room); slices.Contains(rm.Members, customer2) {
					t.Errorf("members %v still have %s", rm.Members, customer2)
				}
				w.rx.waitFor(t, testCtx(t), "notify_type_room_del_member", 1)
			}},
		{name: "befriend a member", method: http.MethodPost, path: "/group/member/contact",
			args: func(w *world) any {
				rm, err := w.sim.AddRoom(Room{Owner: acctA, Members: []string{customer1, stranger}})
				must(w.t, err)
				return map[string]any{"wxId": acctA, "conversationId": rm.ID, "memberWxId": stranger, "verify": ""}
			},
			check: func(t *testing.T, w *world, data json.RawMessage) {
				if externalContact(t, w, stranger) == nil {
					t.Error("the member is not a contact")
				}
			}},
		{name: "notice", method: http.MethodPost, path: "/group/notice",
			args: func(w *world) any {
				return map[string]any{"ConversationId": w.room, "Content": "这是群公告", "Wxid": acctA}
			},
			check: func(t *testing.T, w *world, data json.RawMessage) {
				if rm, _ := w.sim.Room(w.room); rm.Notice != "这是群公告" {
					t.Errorf("notice %q", rm.Notice)
				}
			}},
		{name: "labels", method: http.MethodGet, path: "/label/all", args: fixed(map[string]any{"wxId": acctA}),
			check: func(t *testing.T, w *world, data json.RawMessage) {
				l := list(t, data)
				if len(l) != 2 || l[0]["labelGroupId"] != "0" || l[1]["labelId"] != w.label || l[1]["name"] != "vip" {
					t.Fatalf("labels %v", l)
				}
				sameKeys(t, "label", l[1], "corpId", "name", "labelId", "labelGroupId", "dataType", "labelType",
					"sortOrder", "business", "createTime")
			}},
		{name: "set labels", method: http.MethodPost, path: "/label/contact/setlabel",
			args: func(w *world) any {
				return map[string]any{"wxId": acctA, "contactUserId": customer2, "labelIds": []string{w.label}}
			},
			check: func(t *testing.T, w *world, data json.RawMessage) {
				l := list(t, w.ok(http.MethodGet, "/label/contact/labels", map[string]any{"wxId": acctA, "contactUserId": customer2}))
				if len(l) != 1 || l[0]["label_id"] != w.label {
					t.Errorf("labels of customer 2: %v", l)
				}
			}},
		{name: "labels of a contact", method: http.MethodGet, path: "/label/contact/labels", args: fixed(map[string]any{"wxId": acctA, "contactUserId": customer1}),
			check: func(t *testing.T, w *world, data json.RawMessage) {
				l := list(t, data)
				if len(l) != 1 {
					t.Fatalf("labels %v", l)
				}
				sameKeys(t, "contact label", l[0], "name", "label_id")
			}},
		{name: "search by label", method: http.MethodPost, path: "/label/contact/search",
			args: func(w *world) any {
				return map[string]any{"wxids": []string{acctA}, "labelIds": []string{w.label}, "PageIndex": 1, "PageSize": 100}
			},
			check: func(t *testing.T, w *world, data json.RawMessage) {
				l := list(t, data)
				if len(l) != 1 || l[0]["user_id"] != customer1 {
					t.Fatalf("found %v", l)
				}
				sameKeys(t, "labeled contact", l[0], "wx_id", "user_id", "conversation_id", "avatar", "corp_id", "desc",
					"external_job", "nickname", "position", "username", "realname", "remark", "sex", "is_delete",
					"delete_time", "LastChatTimestamp", "LastChatMsg", "NewMsgCount", "WarnMsg")
			}},
		{name: "contacts of a label", method: http.MethodGet, path: "/label/contacts",
			args: func(w *world) any { return map[string]any{"labelId": w.label, "wxId": acctA} },
			check: func(t *testing.T, w *world, data json.RawMessage) {
				l := list(t, data)
				if len(l) != 1 {
					t.Fatalf("found %v", l)
				}
				sameKeys(t, "label contact", l[0], append(contactKeys, "external_user_id")...)
			}},
		{name: "batch confirm", method: http.MethodPost, path: "/batchmsg/confirm",
			args: func(w *world) any {
				must(w.t, w.sim.PostBatchConfirm(testCtx(w.t), acctA, "通知你群发消息给客户"))
				if n := w.sim.PendingBatches(acctA); n != 1 {
					w.t.Fatalf("%d pending before the confirmation", n)
				}
				return map[string]any{"wxId": acctA}
			},
			check: func(t *testing.T, w *world, data json.RawMessage) {
				if n := w.sim.PendingBatches(acctA); n != 0 {
					t.Errorf("%d pending after the confirmation", n)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, Options{APIKey: testKey})
			a := w.call(tc.method, tc.path, tc.args(w))
			if a.Status != http.StatusOK || a.Code != 0 || a.Msg != "" {
				t.Fatalf("HTTP %d code %d msg %q", a.Status, a.Code, a.Msg)
			}
			tc.check(t, w, a.Data)
		})
	}
}

// pngImage is a w×h PNG.
func pngImage(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(1, 1, color.White)
	var buf bytes.Buffer
	must(t, png.Encode(&buf, img))
	return buf.Bytes()
}

// upload posts a multipart /file/upload with a part named field.
func (e *env) upload(field, name string, data []byte) answer {
	e.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	part, err := mw.CreateFormFile(field, name)
	must(e.t, err)
	_, err = part.Write(data)
	must(e.t, err)
	must(e.t, mw.Close())
	req, err := http.NewRequestWithContext(testCtx(e.t), http.MethodPost, e.api.URL+APIPrefix+"/file/upload", &body)
	must(e.t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if e.key != "" {
		req.Header.Set("apikey", e.key)
	}
	return e.do(req)
}

// TestUploadThenSend uploads an image, fetches it back, and sends it: the
// sent callback carries the stored path and the image's size.
func TestUploadThenSend(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Options{})
	img := pngImage(t, 200, 120)
	a := w.upload("File", `C:\photos\test1026.png`, img)
	if a.Code != 0 {
		t.Fatalf("upload: code %d %s", a.Code, a.Msg)
	}
	var p string
	must(t, json.Unmarshal(a.Data, &p))
	if !strings.HasPrefix(p, "/gnapi/Files/20240306/") || !strings.HasSuffix(p, "/test1026.png") {
		t.Fatalf("path %q", p)
	}
	resp, err := w.api.Client().Get(w.api.URL + strings.ToLower(p))
	must(t, err)
	got := new(bytes.Buffer)
	_, err = got.ReadFrom(resp.Body)
	resp.Body.Close()
	must(t, err)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got.Bytes(), img) || resp.Header.Get("Content-Type") != "image/png" {
		t.Errorf("GET %s: HTTP %d %s, %d bytes", p, resp.StatusCode, resp.Header.Get("Content-Type"), got.Len())
	}

	w.ok(http.MethodPost, "/msg/image", map[string]any{"wxId": acctA, "conversationId": convA1, "fileUrl": p})
	d := w.rx.waitFor(t, testCtx(t), "image_msg", 1)["data"].(map[string]any)
	if d["file_path"] != p || d["imgWidth"] != 200.0 || d["imgHeight"] != 120.0 {
		t.Errorf("image_msg data %v", d)
	}

	bad := []struct {
		name   string
		answer func() answer
		code   int
	}{
		{"no file part", func() answer { return w.upload("other", "a.txt", []byte("x")) }, CodeBadRequest},
		{"empty file", func() answer { return w.upload("file", "a.txt", nil) }, CodeBadRequest},
		{"JSON instead of a form", func() answer { return w.call(http.MethodPost, "/file/upload", map[string]any{"file": "x"}) }, CodeBadRequest},
		{"send of a file never uploaded", func() answer {
			return w.call(http.MethodPost, "/msg/file", map[string]any{"wxId": acctA, "conversationId": convA1, "fileUrl": "/gnapi/Files/1/2/none.txt"})
		}, CodeNotFound},
	}
	for _, tc := range bad {
		if a := tc.answer(); a.Code != tc.code {
			t.Errorf("%s: code %d (%s), want %d", tc.name, a.Code, a.Msg, tc.code)
		}
	}
}
