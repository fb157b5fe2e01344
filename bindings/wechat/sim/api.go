package sim

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// initContactPage is how many wxids /contact/init_contact answers at most
// per page, of contacts and of rooms each.
const initContactPage = 50

// Client management.

func (s *Sim) restoreClient(r *request) (any, error) {
	inst := r.inst
	inst.stopped, inst.syncBroke = false, false
	s.queueCallback(inst, NotifyReady, map[string]any{})
	return clientStatus(inst, r.now), nil
}

func (s *Sim) stopClient(r *request) (any, error) {
	r.inst.stopped = true
	return clientStatus(r.inst, r.now), nil
}

func (s *Sim) setNotifyURL(r *request) (any, error) {
	raw, err := r.f.need("notify_url")
	if err != nil {
		return nil, err
	}
	u, perr := url.Parse(raw)
	if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, invalid("notify_url", "invalid or missing URL scheme: an http:// or https:// URL is required", "value_error.url.scheme")
	}
	r.inst.notifyURL = raw
	return map[string]any{"notify_url": raw}, nil
}

func (s *Sim) setBridge(r *request) (any, error) {
	b, err := r.f.opt("bridge")
	if err != nil {
		return nil, err
	}
	r.inst.bridge = b
	return map[string]any{"bridge": b}, nil
}

func (s *Sim) setProxy(r *request) (any, error) {
	p, err := r.f.opt("proxy")
	if err != nil {
		return nil, err
	}
	if p != "" {
		u, perr := url.Parse(p)
		if perr != nil || u.Host == "" || !slices.Contains([]string{"http", "https", "socks5"}, u.Scheme) {
			return nil, invalid("proxy", "a proxy URL is required: socks5://, http:// or https:// with a host", "value_error.url")
		}
	}
	r.inst.proxy = p
	return map[string]any{"proxy": p}, nil
}

func (s *Sim) updateClient(r *request) (any, error) {
	parts := strings.Split(r.inst.version, ".")
	n, _ := strconv.Atoi(parts[len(parts)-1])
	parts[len(parts)-1] = strconv.Itoa(n + 1)
	r.inst.version = strings.Join(parts, ".")
	return map[string]any{"version": r.inst.version}, nil
}

func (s *Sim) clientStatus(r *request) (any, error) { return clientStatus(r.inst, r.now), nil }

func (s *Sim) clientVersion(r *request) (any, error) {
	return map[string]any{"version": r.inst.version}, nil
}

// clientStatus is the answer of /client/get_client_status.
func clientStatus(inst *instance, now time.Time) map[string]any {
	status := "running"
	if inst.stopped {
		status = "stopped"
	}
	out := map[string]any{"guid": inst.guid, "status": status, "is_login": inst.account != nil,
		"version": inst.version, "notify_url": inst.notifyURL}
	if inst.account != nil {
		out["wxid"] = inst.account.WxID
		out["nick_name"] = inst.account.name()
	}
	if now.Before(inst.blockedUntil) {
		out["blocked_until"] = inst.blockedUntil.Unix()
	}
	return out
}

// Login.

func (s *Sim) getLoginQRCode(r *request) (any, error) {
	inst := r.inst
	uuid := token("", 8)
	inst.login = &loginState{uuid: uuid, status: QRWaiting, expires: r.now.Add(s.opts.QRCodeTTL)}
	s.queueCallback(inst, NotifyQRCodeChange, qrData(inst.login))
	return map[string]any{"uuid": uuid, "qrcode_content": qrContent(uuid), "expired_time": inst.login.expires.Unix()}, nil
}

func qrContent(uuid string) string { return "http://weixin.qq.com/x/" + uuid }

// qrData is the data of a 1002 callback and of check_login_qrcode.
func qrData(l *loginState) map[string]any {
	d := map[string]any{"status": l.status, "uuid": l.uuid, "qrcode_content": qrContent(l.uuid),
		"expired_time": l.expires.Unix()}
	if l.scanner != nil && l.status != QRWaiting {
		d["nick_name"] = l.scanner.name()
		d["head_img_url"] = l.scanner.Avatar
	}
	return d
}

func (s *Sim) checkLoginQRCode(r *request) (any, error) {
	inst := r.inst
	if inst.account != nil {
		return map[string]any{"status": QRConfirmed, "wxid": inst.account.WxID, "nick_name": inst.account.name()}, nil
	}
	l := inst.login
	uuid, err := r.f.opt("uuid")
	if err != nil {
		return nil, err
	}
	if l == nil || (uuid != "" && uuid != l.uuid) {
		return nil, fail(CodeNotFound, "二维码不存在，请重新获取")
	}
	d := qrData(l)
	if l.status <= QRScanned && !r.now.Before(l.expires) {
		d["status"], d["expired"] = QRFailed, true
	}
	return d, nil
}

func (s *Sim) pushLoginURL(r *request) (any, error) {
	inst := r.inst
	if inst.last == nil {
		return nil, fail(CodeFailed, "该实例没有登录过的账号，请扫码登录")
	}
	uuid := token("", 8)
	inst.login = &loginState{uuid: uuid, status: QRScanned, expires: r.now.Add(s.opts.QRCodeTTL), scanner: inst.last}
	s.queueCallback(inst, NotifyQRCodeChange, qrData(inst.login))
	return map[string]any{"uuid": uuid, "wxid": inst.last.WxID}, nil
}

func (s *Sim) verifyLoginURL(r *request) (any, error) {
	code, err := r.f.need("code")
	if err != nil {
		return nil, err
	}
	l := r.inst.login
	if l == nil || l.status != QRNeedVerify {
		return nil, fail(CodeFailed, "当前登录不需要验证")
	}
	if code != l.code {
		return nil, fail(CodeFailed, "验证码错误")
	}
	acct := l.scanner
	s.completeLogin(r.inst, acct, r.now)
	return map[string]any{"status": QRConfirmed, "wxid": acct.WxID}, nil
}

// completeLogin logs acct in to inst and queues the callbacks of a
// successful login: the confirmed QR code, the login, the end of init.
// s.mu must be held.
func (s *Sim) completeLogin(inst *instance, acct *Account, now time.Time) []*delivery {
	var ds []*delivery
	if inst.login != nil {
		inst.login.status = QRConfirmed
		ds = append(ds, s.queueCallback(inst, NotifyQRCodeChange, qrData(inst.login)))
	}
	a := *acct
	inst.account, inst.last, inst.login = &a, &a, nil
	for _, rm := range inst.rooms {
		rm.members[a.WxID] = a.person()
		if rm.owner == "" {
			rm.owner = a.WxID
		}
	}
	ds = append(ds, s.queueCallback(inst, NotifyUserLogin, profile(&a)))
	ds = append(ds, s.queueCallback(inst, NotifyInitFinish, map[string]any{}))
	ds = append(ds, s.queueCallback(inst, NotifyContactSyncFinish, map[string]any{"contact_count": len(inst.contacts) + len(inst.rooms)}))
	s.log.Info("logged in", "guid", inst.guid, "wxid", a.WxID, "at", now)
	return ds
}

// User.

func profile(a *Account) map[string]any {
	return map[string]any{"user_name": a.WxID, "nick_name": a.name(), "alias": a.Alias, "bind_mobile": a.Mobile,
		"head_img_url": a.Avatar, "sex": a.Sex, "signature": a.Signature}
}

func (s *Sim) getProfile(r *request) (any, error) { return profile(r.inst.account), nil }

func (s *Sim) getUserQRCode(r *request) (any, error) {
	sum := sha256.Sum256([]byte(r.inst.account.WxID))
	return map[string]any{"qrcode_url": "http://weixin.qq.com/r/" + hex.EncodeToString(sum[:8])}, nil
}

func (s *Sim) userLogout(r *request) (any, error) {
	s.logout(r.inst, NotifyUserLogout, "用户主动退出")
	return map[string]any{}, nil
}

// logout logs the account out and queues the notice. s.mu must be held.
func (s *Sim) logout(inst *instance, notifyType int, reason string) *delivery {
	inst.account, inst.login = nil, nil
	return s.queueCallback(inst, notifyType, map[string]any{"message": reason})
}

// Contacts.

func (s *Sim) initContact(r *request) (any, error) {
	inst := r.inst
	cseq, err := r.f.integer("contact_seq", 0)
	if err != nil {
		return nil, err
	}
	rseq, err := r.f.integer("room_seq", 0)
	if err != nil {
		return nil, err
	}
	contacts := slices.Sorted(maps.Keys(inst.contacts))
	rooms := inst.sortedRooms()
	cpage, cnext := page(contacts, cseq)
	rpage, rnext := page(rooms, rseq)
	more := 0
	if cnext < int64(len(contacts)) || rnext < int64(len(rooms)) {
		more = 1
	}
	return map[string]any{
		"contact_username_list": append(cpage, rpage...),
		"contact_seq":           cnext, "room_seq": rnext, "continue_flag": more,
	}, nil
}

// page cuts one page of initContactPage ids from seq on.
func page(ids []string, seq int64) ([]string, int64) {
	if seq < 0 || seq > int64(len(ids)) {
		seq = int64(len(ids))
	}
	end := min(seq+initContactPage, int64(len(ids)))
	return slices.Clone(ids[seq:end]), end
}

func (s *Sim) modifyTopFlag(r *request) (any, error) {
	id, err := r.f.need("user_name")
	if err != nil {
		return nil, err
	}
	top, err := r.f.boolean("is_top", true)
	if err != nil {
		return nil, err
	}
	c := r.inst.contacts[id]
	if c == nil {
		if r.inst.rooms[id] == nil {
			return nil, fail(CodeNotFound, "联系人不存在: %s", id)
		}
		return map[string]any{"user_name": id, "is_top": top}, nil
	}
	c.Top = top
	return map[string]any{"user_name": id, "is_top": top}, nil
}

func (s *Sim) getContact(r *request) (any, error) {
	ids, err := r.f.list("username_list")
	if err != nil {
		return nil, err
	}
	roomID, err := r.f.opt("room_username")
	if err != nil {
		return nil, err
	}
	list := make([]any, 0, len(ids))
	for _, id := range ids {
		list = append(list, r.inst.detail(id, roomID, true))
	}
	return map[string]any{"contact_list": list}, nil
}

func (s *Sim) briefInfo(r *request) (any, error) {
	ids, err := r.f.list("username_list")
	if err != nil {
		return nil, err
	}
	list := make([]any, 0, len(ids))
	for _, id := range ids {
		list = append(list, r.inst.detail(id, "", false))
	}
	return map[string]any{"contact_list": list}, nil
}

// detail describes a wxid or a room as get_contact answers it; full adds
// the remark, labels, region and, for a room, its members.
func (inst *instance) detail(id, roomID string, full bool) map[string]any {
	d := map[string]any{"user_name": id, "contact_type": ContactStranger}
	if rm := inst.rooms[id]; rm != nil {
		d["contact_type"], d["nick_name"], d["member_count"] = ContactChatRoom, rm.name, len(rm.members)
		if full {
			d["owner"], d["announcement"] = rm.owner, rm.announcement
			members := make([]any, 0, len(rm.members))
			for _, m := range slices.Sorted(maps.Keys(rm.members)) {
				members = append(members, map[string]any{"user_name": m, "nick_name": rm.members[m].name()})
			}
			d["member_list"] = members
		}
		return d
	}
	if c := inst.contacts[id]; c != nil {
		d["contact_type"] = c.Type
		addPerson(d, c.Person, full)
		if full {
			d["remark"], d["is_top"] = c.Remark, c.Top
			labels := make([]any, 0, len(c.Labels))
			for _, l := range c.Labels {
				labels = append(labels, map[string]any{"label_id": l, "label_name": inst.labels[l]})
			}
			d["label_list"] = labels
		}
		return d
	}
	if rm := inst.rooms[roomID]; rm != nil {
		if p, ok := rm.members[id]; ok {
			addPerson(d, p, full)
			d["room_username"] = roomID
		}
	}
	return d
}

func addPerson(d map[string]any, p Person, full bool) {
	d["nick_name"], d["small_head_img_url"] = p.name(), p.Avatar
	if full {
		d["alias"], d["sex"], d["province"], d["city"] = p.Alias, p.Sex, p.Province, p.City
		d["big_head_img_url"] = p.Avatar
	}
}

// v3 is the encrypted username search_contact answers for a person; it is
// stable so add_friend can find the person again.
func v3(wxid string) string {
	sum := sha256.Sum256([]byte("v3:" + wxid))
	return "v3_" + hex.EncodeToString(sum[:16]) + "@stranger"
}

func (s *Sim) searchContact(r *request) (any, error) {
	kw, err := r.f.need("keyword")
	if err != nil {
		return nil, err
	}
	for _, id := range slices.Sorted(maps.Keys(s.st.directory)) {
		p := s.st.directory[id]
		if kw == p.WxID || kw == p.Alias || (p.Mobile != "" && kw == p.Mobile) || (p.QQ != "" && kw == p.QQ) {
			d := map[string]any{"user_name": v3(p.WxID), "nick_name": p.name(), "alias": p.Alias,
				"sex": p.Sex, "province": p.Province, "city": p.City, "big_head_img_url": p.Avatar}
			if c := r.inst.contacts[p.WxID]; c != nil && c.Type == ContactFriend {
				d["user_name"], d["is_friend"] = p.WxID, true
			}
			return d, nil
		}
	}
	return nil, fail(CodeNotFound, "用户不存在")
}

// person finds the directory's person for a v3 ticket or a wxid.
func (st *state) person(ticket string) (Person, bool) {
	if p, ok := st.directory[ticket]; ok {
		return p, true
	}
	for _, p := range st.directory {
		if v3(p.WxID) == ticket {
			return p, true
		}
	}
	return Person{}, false
}

func (s *Sim) addFriend(r *request) (any, error) {
	ticket, err := r.f.need("v3")
	if err != nil {
		return nil, err
	}
	if _, err := r.f.opt("verify_content"); err != nil {
		return nil, err
	}
	if _, err := r.f.integer("scene", 15); err != nil {
		return nil, err
	}
	p, ok := s.st.person(ticket)
	switch {
	case !ok:
		return nil, fail(CodeNotFound, "用户不存在")
	case p.WxID == r.inst.account.WxID:
		return nil, fail(CodeFailed, "不能添加自己为好友")
	}
	if c := r.inst.contacts[p.WxID]; c != nil && c.Type == ContactFriend {
		return nil, fail(CodeFailed, "对方已是你的好友")
	}
	r.inst.pendingOut[p.WxID] = true
	return map[string]any{"user_name": p.WxID}, nil
}

func (s *Sim) verifyFriend(r *request) (any, error) {
	ticket, err := r.f.need("v3")
	if err != nil {
		return nil, err
	}
	v4, err := r.f.need("v4")
	if err != nil {
		return nil, err
	}
	req := r.inst.pendingIn[ticket]
	if req == nil || req.v4 != v4 {
		return nil, fail(CodeNotFound, "好友申请不存在或已过期")
	}
	delete(r.inst.pendingIn, ticket)
	s.befriend(r.inst, req.person)
	return map[string]any{"user_name": req.person.WxID}, nil
}

// befriend adds p as a friend and queues the 1040 notice. s.mu must be held.
func (s *Sim) befriend(inst *instance, p Person) *delivery {
	delete(inst.pendingOut, p.WxID)
	if c := inst.contacts[p.WxID]; c != nil {
		c.Type = ContactFriend
	} else {
		inst.contacts[p.WxID] = &Contact{Person: p, Type: ContactFriend}
	}
	return s.queueCallback(inst, NotifyFriendAdd, contactData(inst.contacts[p.WxID]))
}

// contactData is the data of the contact callbacks.
func contactData(c *Contact) map[string]any {
	return map[string]any{"user_name": c.WxID, "nick_name": c.name(), "remark": c.Remark, "alias": c.Alias,
		"small_head_img_url": c.Avatar, "sex": c.Sex, "contact_type": c.Type}
}

func (s *Sim) modifyRemark(r *request) (any, error) {
	id, err := r.f.need("user_name")
	if err != nil {
		return nil, err
	}
	if _, ok := r.f["remark"]; !ok {
		return nil, invalid("remark", "field required", "value_error.missing")
	}
	remark := r.f.str("remark")
	c := r.inst.contacts[id]
	if c == nil {
		return nil, fail(CodeNotFound, "联系人不存在: %s", id)
	}
	c.Remark = remark
	s.queueCallback(r.inst, NotifyContactInfoChange, contactData(c))
	return map[string]any{"user_name": id, "remark": remark}, nil
}

func (s *Sim) delFriend(r *request) (any, error) {
	id, err := r.f.need("user_name")
	if err != nil {
		return nil, err
	}
	c := r.inst.contacts[id]
	if c == nil || c.Type != ContactFriend {
		return nil, fail(CodeNotFound, "%s 不是你的好友", id)
	}
	delete(r.inst.contacts, id)
	s.queueCallback(r.inst, NotifyFriendDel, contactData(c))
	return map[string]any{"user_name": id}, nil
}

// CDN.

func (s *Sim) getCDNFile(r *request) (any, error) {
	id, err := r.f.need("file_id")
	if err != nil {
		return nil, err
	}
	key, err := r.f.opt("aes_key")
	if err != nil {
		return nil, err
	}
	ft, err := r.f.integer("file_type", 2)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(id + "/" + key))
	return map[string]any{"file_id": id, "file_type": ft, "length": len(sum),
		"content": base64.StdEncoding.EncodeToString(sum[:])}, nil
}

func (s *Sim) getCDNInfo(r *request) (any, error) {
	return map[string]any{"zone_domain": "szextshort.weixin.qq.com", "cdn_ip_list": []string{"127.0.0.1"},
		"cdn_port": 80, "uin": r.inst.account.WxID, "expired_time": r.now.Add(24 * time.Hour).Unix()}, nil
}
