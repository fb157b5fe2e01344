package sim

import (
	"bytes"
	"context"
	"fmt"
	"image/jpeg"
	"slices"
	"strings"
	"time"

	"rsc.io/qr"
)

// Login QR codes stay valid this long (the vendor's keep_sec).
const qrKeepSeconds = 600

// maxVerifyAttempts wrong verification codes fail the login.
const maxVerifyAttempts = 5

// clientVersion is the WeCom client version containers report.
const clientVersion = "1.3.0.13"

// Seed adds the account a, logged in and online, with no QR flow and no
// callback, and answers it with its defaults filled in. Accounts of one
// company become each other's inner contacts.
func (s *Sim) Seed(a Account) (Account, error) {
	a.WxID = strings.TrimSpace(a.WxID)
	if a.WxID == "" {
		return a, fmt.Errorf("seed account: %w: WxID is required", ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	if old := st.accounts.get(a.WxID); old != nil && st.online(old) {
		return a, fmt.Errorf("seed account %s: %w: it is online in container %s", a.WxID, ErrExists, old.host)
	}
	if a.Hostname == "" {
		a.Hostname = randomHex(12)
	}
	if st.containers.get(a.Hostname) != nil {
		return a, fmt.Errorf("seed account %s: %w: container %s", a.WxID, ErrExists, a.Hostname)
	}
	if a.UserID == "" {
		a.UserID = DefaultUserID
	}
	now := s.now()
	c := &container{hostname: a.Hostname, userID: a.UserID, created: now, pid: randomInt(1000, 60000),
		deviceID: randomHex(16)}
	st.containers.put(c.hostname, c)
	acct := s.login(c, a, now)
	return acct.public(), nil
}

// login puts the account a in container c, online, and answers the
// account's record. It posts nothing.
func (s *Sim) login(c *container, a Account, now time.Time) *account {
	st := s.st
	if a.UserID == "" {
		a.UserID = c.userID
	}
	if st.users.get(a.UserID) == nil {
		st.addUser(a.UserID, a.UserID, now, false)
	}
	acct := st.accounts.get(a.WxID)
	if acct == nil {
		acct = &account{wxid: a.WxID, contacts: map[string]*contact{}}
		st.accounts.put(a.WxID, acct)
	}
	set := func(dst *string, v, def string) {
		switch {
		case v != "":
			*dst = v
		case *dst == "":
			*dst = def
		}
	}
	set(&acct.corp, a.CorpID, DefaultCorpID)
	set(&acct.nickname, a.Nickname, a.WxID)
	set(&acct.avatar, a.Avatar, "https://wework.qpic.cn/wwpic/sim_"+a.WxID+"/0")
	set(&acct.mobile, a.Mobile, "")
	set(&acct.acctID, a.AcctID, "")
	set(&acct.corpName, a.CorpName, "")
	acct.userID = a.UserID
	acct.host = c.hostname
	c.userID = a.UserID
	c.wxid = a.WxID
	c.status = StatusOnline
	c.pending, c.verifyCode, c.verifyAttempts = nil, "", 0
	st.upsertPerson(person{id: acct.wxid, name: acct.nickname, avatar: acct.avatar, corp: acct.corp,
		mobile: acct.mobile, acctID: acct.acctID})
	// Colleagues see each other as inner contacts.
	for other := range st.accounts.all() {
		if other == acct || other.corp != acct.corp {
			continue
		}
		if acct.contacts[other.wxid] == nil {
			st.addContact(acct, &contact{id: other.wxid, inner: true, added: now, relationSaved: true})
		}
		if other.contacts[acct.wxid] == nil {
			st.addContact(other, &contact{id: acct.wxid, inner: true, added: now, relationSaved: true})
		}
	}
	return acct
}

func (a *account) public() Account {
	return Account{WxID: a.wxid, CorpID: a.corp, UserID: a.userID, Nickname: a.nickname, Hostname: a.host,
		Avatar: a.avatar, Mobile: a.mobile, AcctID: a.acctID, CorpName: a.corpName}
}

// access is what a request needs of its account: requests that read the
// vendor's database work for any known account; requests that act through
// WeCom need it online.
type access bool

const (
	known  access = false
	online access = true
)

// account is the account named by the wxId field.
func (s *Sim) account(r *request, need access) (*account, error) {
	id, err := r.f.need("wxId")
	if err != nil {
		return nil, err
	}
	a := s.st.accounts.get(id)
	switch {
	case a == nil:
		return nil, fail(CodeNotFound, "wxId %s is not a WeCom account of this server", id)
	case need == online && !s.st.online(a):
		return nil, fail(CodeOffline, "WeCom account %s is not online", a.wxid)
	}
	return a, nil
}

// accountField is the account and the required text field.
func (s *Sim) accountField(r *request, need access, field string) (*account, string, error) {
	a, err := s.account(r, need)
	if err != nil {
		return nil, "", err
	}
	v, err := r.f.need(field)
	return a, v, err
}

// accountContact is the account and its contact named by field; deleted
// contacts count when withDeleted.
func (s *Sim) accountContact(r *request, need access, field string, withDeleted bool) (*account, *contact, error) {
	a, id, err := s.accountField(r, need, field)
	if err != nil {
		return nil, nil, err
	}
	c := a.contacts[id]
	if c == nil || (c.deleted && !withDeleted) {
		return nil, nil, fail(CodeNotFound, "%s is not a contact of %s", id, a.wxid)
	}
	return a, c, nil
}

// accountRoom is the account and the group named by conversationId that
// it is in.
func (s *Sim) accountRoom(r *request, need access) (*account, *room, error) {
	a, id, err := s.accountField(r, need, "conversationId")
	if err != nil {
		return nil, nil, err
	}
	rm := s.st.rooms.get(id)
	if rm == nil || rm.member(a.wxid) == nil {
		return nil, nil, fail(CodeInvalidConversation, "conversationId %s is not a group %s is in", id, a.wxid)
	}
	return a, rm, nil
}

// containerCreate starts a login: a new container showing a QR code.
func (s *Sim) containerCreate(r *request) (any, error) {
	userID, err := r.f.need("userId")
	if err != nil {
		return nil, err
	}
	if s.st.users.get(userID) == nil {
		return nil, fail(CodeNotFound, "userId %s is not a Quntool user (see /inner/user/list)", userID)
	}
	c := &container{hostname: randomHex(12), userID: userID, status: StatusLoggingIn, created: r.now,
		pid: randomInt(1000, 60000), deviceID: randomHex(16)}
	if err := s.issueQR(c, r.now); err != nil {
		return nil, err
	}
	s.st.containers.put(c.hostname, c)
	s.log.Info("container created", "hostname", c.hostname, "user", userID)
	s.qrStatus(c, QRNever, nil)
	return map[string]any{
		"qrcode":     c.qrPath,
		"hostname":   c.hostname,
		"version":    clientVersion,
		"createtime": vendorTime(c.created),
		"wxPid":      c.pid,
	}, nil
}

// issueQR gives c a new login QR code: a key and a JPEG image served under
// /gnapi/files.
func (s *Sim) issueQR(c *container, now time.Time) error {
	c.qrKey = strings.ToUpper(randomHex(32))
	c.qrIssued = now
	code, err := qr.Encode("https://work.weixin.qq.com/wework_admin/wwqrlogin/check?qrcode_key="+c.qrKey, qr.M)
	if err != nil {
		return fmt.Errorf("encode login qr code: %w", err)
	}
	code.Scale = 6
	var img bytes.Buffer
	if err := jpeg.Encode(&img, code.Image(), &jpeg.Options{Quality: 90}); err != nil {
		return fmt.Errorf("encode login qr image: %w", err)
	}
	c.qrPath = fmt.Sprintf("/gnapi/files/%s/%s/%s.jpg", now.In(chinaTime).Format("20060102"), randomHex(32), newUUID())
	s.storeFile(&storedFile{path: c.qrPath, name: "qrcode.jpg", contentType: "image/jpeg", data: img.Bytes()})
	return nil
}

// qrStatus posts a qrcode_status_msg for c; who is the scanning account,
// nil before anyone scanned.
func (s *Sim) qrStatus(c *container, status int, who *Account) *delivery {
	d := map[string]any{
		"auth_deviceid": c.deviceID,
		"corpid":        "",
		"gid":           "",
		"icon_url":      "",
		"is_bind_wx":    true,
		"keep_sec":      qrKeepSeconds,
		"lang_type":     1,
		"logo":          "",
		"nick_name":     "",
		"qrcode_key":    c.qrKey,
		"status":        status,
		"vid":           "",
	}
	if who != nil {
		corp := who.CorpID
		if corp == "" {
			corp = DefaultCorpID
		}
		nick := who.Nickname
		if nick == "" {
			nick = who.WxID
		}
		d["corpid"] = corp
		d["gid"] = fmt.Sprint(derivedNumber(1_000_000_000, 1_000_000_000, "gid", who.WxID)) + "0000000"
		d["icon_url"] = "https://wework.qpic.cn/wwpic/sim_" + corp + "/0"
		d["logo"] = "https://p.qlogo.cn/bizmail/sim_" + corp + "/0"
		d["nick_name"] = nick
		d["vid"] = who.WxID
	}
	// Before the login completes the vendor knows neither the account nor
	// the Quntool user: userId is null and wxid empty.
	return s.queueCallback(c.hostname, "", "", "qrcode_status_msg", d, "")
}

// userLogin posts user_login for a.
func (s *Sim) userLogin(a *account, c *container) *delivery {
	p := s.st.profile(a.wxid)
	return s.accountCallback(a, "user_login", map[string]any{
		"account":       a.acctID,
		"acctid":        a.acctID,
		"avatar":        a.avatar,
		"corp_id":       a.corp,
		"document_root": `C:\Users\ContainerAdministrator\Documents\WXWork\` + a.wxid,
		"email":         "",
		"job_name":      "",
		"mobile":        a.mobile,
		"nickname":      "",
		"pid":           c.pid,
		"position":      p.position,
		"sex":           p.sex,
		"user_id":       a.wxid,
		"username":      a.nickname,
	}, "")
}

func (s *Sim) userOffline(a *account) *delivery {
	return s.accountCallback(a, "user_offline", nil, "")
}

// completeLogin logs who in to c: the account leaves any other container
// it was online in (user_offline there), then QR status 2 and user_login
// are posted.
func (s *Sim) completeLogin(c *container, who Account, now time.Time) []*delivery {
	var out []*delivery
	if old := s.st.accounts.get(who.WxID); old != nil && old.host != c.hostname && s.st.online(old) {
		if prev := s.st.containers.get(old.host); prev != nil {
			prev.status = StatusOffline
			out = append(out, s.userOffline(old))
		}
	}
	out = append(out, s.qrStatus(c, QRSucceeded, &who))
	acct := s.login(c, who, now)
	s.log.Info("account logged in", "hostname", c.hostname, "wxid", acct.wxid)
	out = append(out, s.userLogin(acct, c))
	if c.safeValidate {
		c.safeValidate = false
		out = append(out, s.accountCallback(acct, "safe_validate", map[string]any{
			"Qrcode":   c.qrPath,
			"UserName": acct.nickname,
		}, ""))
	}
	return out
}

// failLogin ends a login attempt: the container waits for a new scan of a
// new QR code (status 4).
func (s *Sim) failLogin(c *container, now time.Time, status int, who *Account) ([]*delivery, error) {
	ds := []*delivery{s.qrStatus(c, status, who)}
	c.status = StatusLoginFailed
	c.pending, c.verifyCode, c.verifyAttempts = nil, "", 0
	if err := s.issueQR(c, now); err != nil {
		return ds, err
	}
	return ds, nil
}

// Scan is what happens on the phone when a user scans a container's QR
// code in ScanQR.
type Scan struct {
	// Account is the WeCom account that logs in (WxID required; Hostname
	// is ignored, the container's is used).
	Account Account
	// Verify: the server asks for a verification code first (status 10);
	// the login completes when /container/verify gets Login.VerifyCode.
	Verify bool
	// Refuse: the user refuses on the phone (status 4); the container
	// then shows a new QR code (status 4 in /inner/user/wx/list).
	Refuse bool
	// SafeValidate: after the login, a safe_validate callback asks for the
	// new-device security check.
	SafeValidate bool
}

// Login is the outcome of ScanQR.
type Login struct {
	Hostname  string
	QRCodeKey string
	// VerifyCode is the code the phone shows, to send to /container/verify
	// (set when Scan.Verify).
	VerifyCode string
	// Status is the last QR status posted: QRSucceeded, QRRefused or
	// QRRequireVerify.
	Status int
}

// ScanQR plays the phone side of a QR login on the container hostname
// (made by /container/create, status 3, or waiting for a new scan, status
// 4): qrcode_status_msg status 1 (scanned), then status 2 and user_login,
// or status 10 and a verification code to enter through /container/verify,
// or status 4 when refused. A QR code older than its keep_sec (600 s by
// the Sim's clock) has expired: status 3 is posted, the container shows a
// new code, and the error is ErrQRExpired. ScanQR returns once its
// callbacks are delivered.
func (s *Sim) ScanQR(ctx context.Context, hostname string, scan Scan) (Login, error) {
	who := scan.Account
	who.WxID = strings.TrimSpace(who.WxID)
	if who.WxID == "" {
		return Login{}, fmt.Errorf("scan qr code: %w: Account.WxID is required", ErrInvalid)
	}
	if scan.Verify && scan.Refuse {
		return Login{}, fmt.Errorf("scan qr code: %w: Verify and Refuse exclude each other", ErrInvalid)
	}
	s.mu.Lock()
	c := s.st.containers.get(hostname)
	if c == nil {
		s.mu.Unlock()
		return Login{}, fmt.Errorf("scan qr code: %w: %s", ErrUnknownContainer, hostname)
	}
	if c.status != StatusLoggingIn && c.status != StatusLoginFailed {
		s.mu.Unlock()
		return Login{}, fmt.Errorf("scan qr code of %s: %w: the container shows no QR code (status %d)", hostname, ErrState, c.status)
	}
	now := s.now()
	login := Login{Hostname: hostname, QRCodeKey: c.qrKey}
	var ds []*delivery
	var err error
	switch {
	case now.Sub(c.qrIssued) > qrKeepSeconds*time.Second:
		ds, err = s.failLogin(c, now, QRFailed, nil)
		if err == nil {
			err = fmt.Errorf("scan qr code of %s: %w (issued %s ago)", hostname, ErrQRExpired, now.Sub(c.qrIssued).Round(time.Second))
		}
		login.Status = QRFailed
	default:
		c.status = StatusLoggingIn
		ds = append(ds, s.qrStatus(c, QRScanned, &who))
		switch {
		case scan.Refuse:
			var more []*delivery
			more, err = s.failLogin(c, now, QRRefused, &who)
			ds = append(ds, more...)
			login.Status = QRRefused
		case scan.Verify:
			pending := who
			c.pending = &pending
			c.verifyCode = randomDigits("", 6)
			c.verifyAttempts = 0
			c.safeValidate = scan.SafeValidate
			ds = append(ds, s.qrStatus(c, QRRequireVerify, &who))
			login.VerifyCode, login.Status = c.verifyCode, QRRequireVerify
		default:
			c.safeValidate = scan.SafeValidate
			ds = append(ds, s.completeLogin(c, who, now)...)
			login.Status = QRSucceeded
		}
	}
	s.mu.Unlock()
	if werr := s.cb.Wait(ctx, ds...); werr != nil && err == nil {
		err = fmt.Errorf("scan qr code of %s: %w", hostname, werr)
	}
	return login, err
}

// containerVerify takes the verification code of a login in status 10.
// Like the vendor, a wrong code is answered with code 0 and a negative
// data.errcode.
func (s *Sim) containerVerify(r *request) (any, error) {
	hostname, err := r.f.need("hostname")
	if err != nil {
		return nil, err
	}
	key, err := r.f.need("key")
	if err != nil {
		return nil, err
	}
	code, err := r.f.need("code")
	if err != nil {
		return nil, err
	}
	c := s.st.containers.get(hostname)
	if c == nil {
		return nil, fail(CodeNotFound, "hostname %s is not a container of this server", hostname)
	}
	outcome := func(errcode int, msg string) map[string]any {
		return map[string]any{"errcode": errcode, "errmsg": msg}
	}
	switch {
	case c.pending == nil:
		return outcome(-3, "no login of this container is waiting for a verification code"), nil
	case !strings.EqualFold(key, c.qrKey):
		return outcome(-2, "key does not match the login's qrcode_key"), nil
	case code != c.verifyCode:
		c.verifyAttempts++
		left := maxVerifyAttempts - c.verifyAttempts
		if left > 0 {
			return outcome(-1, fmt.Sprintf("wrong verification code, %d attempts left", left)), nil
		}
		if _, err := s.failLogin(c, r.now, QRFailed, c.pending); err != nil {
			return nil, err
		}
		return outcome(-1, "wrong verification code; the login failed, scan the new QR code"), nil
	}
	s.completeLogin(c, *c.pending, r.now)
	return outcome(0, "ok"), nil
}

// hostnames reads the hostname list of the container endpoints; every one
// must be a container of this server.
func (s *Sim) hostnames(r *request) ([]*container, error) {
	names, err := r.f.needList("hostname")
	if err != nil {
		return nil, err
	}
	var out []*container
	var unknown []string
	for _, h := range names {
		c := s.st.containers.get(h)
		if c == nil {
			unknown = append(unknown, h)
			continue
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	if len(unknown) > 0 {
		return nil, fail(CodeNotFound, "not containers of this server: %s", strings.Join(unknown, ", "))
	}
	return out, nil
}

// containerStop takes online accounts offline (user_offline); they come
// back with /container/start without a new scan.
func (s *Sim) containerStop(r *request) (any, error) {
	cs, err := s.hostnames(r)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		if c.status == StatusOnline {
			c.status = StatusOffline
			s.userOffline(s.st.accounts.get(c.wxid))
			s.log.Info("container stopped", "hostname", c.hostname)
		}
	}
	return nil, nil
}

// containerStart brings offline accounts back online (user_login).
func (s *Sim) containerStart(r *request) (any, error) {
	cs, err := s.startable(r)
	for _, c := range cs {
		if c.status == StatusOffline {
			s.bringOnline(c)
		}
	}
	return nil, err
}

// startable reads the hostname list of start and restart: every
// container must have logged in and not be logged out, or none is
// answered.
func (s *Sim) startable(r *request) ([]*container, error) {
	cs, err := s.hostnames(r)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		switch c.status {
		case StatusOnline, StatusOffline:
		case StatusLoggedOut:
			return nil, fail(CodeFailed, "container %s is logged out; log in again with /container/create", c.hostname)
		default:
			return nil, fail(CodeFailed, "container %s has not logged in yet (status %d); scan its QR code", c.hostname, c.status)
		}
	}
	return cs, nil
}

// bringOnline puts an offline container's account online again; if the
// account went online elsewhere meanwhile, that container goes offline.
func (s *Sim) bringOnline(c *container) {
	a := s.st.accounts.get(c.wxid)
	if a.host != c.hostname && s.st.online(a) {
		s.st.containers.get(a.host).status = StatusOffline
		s.userOffline(a)
	}
	a.host = c.hostname
	c.status = StatusOnline
	s.userLogin(a, c)
	s.log.Info("container online", "hostname", c.hostname, "wxid", a.wxid)
}

// containerRemove logs accounts out for good (status 2): logging in again
// needs /container/create and a scan. A container that never logged in is
// deleted.
func (s *Sim) containerRemove(r *request) (any, error) {
	cs, err := s.hostnames(r)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		if c.wxid == "" {
			s.st.containers.drop(c.hostname)
			continue
		}
		if c.status == StatusOnline {
			s.userOffline(s.st.accounts.get(c.wxid))
		}
		c.status = StatusLoggedOut
		c.pending, c.verifyCode = nil, ""
		s.log.Info("container removed", "hostname", c.hostname)
	}
	return nil, nil
}

// containerRestart restarts accounts' clients: an online one goes offline
// and logs in again, an offline one comes online.
func (s *Sim) containerRestart(r *request) (any, error) {
	cs, err := s.startable(r)
	for _, c := range cs {
		if c.status == StatusOnline {
			c.status = StatusOffline
			s.userOffline(s.st.accounts.get(c.wxid))
		}
		c.pid = randomInt(1000, 60000)
		s.bringOnline(c)
	}
	return nil, err
}

// containerMemory lists the online accounts' memory use (KB).
func (s *Sim) containerMemory(r *request) (any, error) {
	out := []map[string]any{}
	for c := range s.st.containers.all() {
		if c.status != StatusOnline {
			continue
		}
		a := s.st.accounts.get(c.wxid)
		out = append(out, map[string]any{
			"WxId":     a.wxid,
			"UserName": a.nickname,
			"HostName": c.hostname,
			"WxPid":    c.pid,
			"Memory":   derivedNumber(110000, 50000, "memory", c.hostname, fmt.Sprint(c.pid)),
		})
	}
	return out, nil
}

// accountList is /inner/user/wx/list: the containers and their accounts,
// online ones only unless IsOnline is false.
func (s *Sim) accountList(r *request) (any, error) {
	onlineOnly, err := r.f.boolean("IsOnline", true)
	if err != nil {
		return nil, err
	}
	hosts, err := r.f.list("HostName")
	if err != nil {
		return nil, err
	}
	userID := strings.TrimSpace(r.f.str("userId"))
	out := []map[string]any{}
	for c := range s.st.containers.all() {
		switch {
		case onlineOnly && c.status != StatusOnline,
			userID != "" && c.userID != userID,
			len(hosts) > 0 && !slices.Contains(hosts, c.hostname):
			continue
		}
		item := map[string]any{
			"hostname": c.hostname, "wxId": c.wxid, "userId": c.userID,
			"username": "", "nickname": "", "avatar": "", "corp_id": "", "corp_name": "",
			"mobile": "", "position": "", "corp_short_name": "", "job_name": "", "account": "", "acctid": "",
			"Status": c.status, "QrCode": nil,
		}
		if c.status == StatusLoginFailed {
			item["QrCode"] = c.qrPath
		}
		if a := s.st.accounts.get(c.wxid); a != nil {
			p := s.st.profile(a.wxid)
			item["username"] = a.nickname
			item["avatar"] = a.avatar
			item["corp_id"] = a.corp
			item["corp_name"] = a.corpName
			item["corp_short_name"] = a.corpName
			item["mobile"] = a.mobile
			item["position"] = p.position
			item["acctid"] = a.acctID
		}
		out = append(out, item)
	}
	return out, nil
}

// userList is /inner/user/list: the Quntool users.
func (s *Sim) userList(*request) (any, error) {
	out := make([]map[string]any, 0, s.st.users.len())
	for u := range s.st.users.all() {
		var phone any
		if u.phone != "" {
			phone = u.phone
		}
		out = append(out, map[string]any{
			"id": u.id, "username": u.username, "createdAt": vendorTime(u.created), "phone": phone,
			"avatar": nil, "Permissions": []int{}, "IsAdmin": u.admin, "Remark": "",
		})
	}
	return out, nil
}
