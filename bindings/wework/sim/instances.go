package sim

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Seed creates an instance as described by in: online when in.User is
// set (without a login), running otherwise, stopped when in.Stopped; with
// its contacts and rooms on its session list, then in.Sessions. It answers
// the instance as created. A guid in use is ErrExists.
func (s *Sim) Seed(in Instance) (Instance, error) {
	if in.User != nil && strings.TrimSpace(in.User.UserID) == "" {
		return Instance{}, fmt.Errorf("seed instance: %w: User.UserID is required", ErrInvalid)
	}
	for _, id := range in.Sessions {
		if !strings.HasPrefix(id, "S:") && !strings.HasPrefix(id, "R:") {
			return Instance{}, fmt.Errorf("seed instance: %w: session %q must start with \"S:\" or \"R:\"", ErrInvalid, id)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	guid := strings.TrimSpace(in.GUID)
	if guid == "" {
		guid = newGUID()
	}
	if s.st.get(guid) != nil {
		return Instance{}, fmt.Errorf("seed instance: %w: %s", ErrExists, guid)
	}
	n := newInstance(guid)
	n.notifyURL, n.bridge = in.NotifyURL, in.Bridge
	if in.ClientType != 0 {
		n.clientType = in.ClientType
	}
	if in.User != nil {
		n.user = userOf(*in.User)
		n.status = StatusOnline
	}
	if in.Stopped {
		n.status = StatusStopped
	}
	for _, c := range in.Contacts {
		if err := n.addContact(c); err != nil {
			return Instance{}, fmt.Errorf("seed instance: %w", err)
		}
	}
	for _, r := range in.Rooms {
		if _, err := n.addRoom(r); err != nil {
			return Instance{}, fmt.Errorf("seed instance: %w", err)
		}
	}
	for _, id := range in.Sessions {
		n.addSession(id)
	}
	s.st.instances[guid] = n
	s.st.order = append(s.st.order, guid)
	return n.public(), nil
}

func userOf(u User) *User {
	u.UserID = strings.TrimSpace(u.UserID)
	if u.Name == "" {
		u.Name = u.UserID
	}
	return &u
}

// AddContact gives instance guid a contact, on its session list.
func (s *Sim) AddContact(guid string, c Contact) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.st.get(guid)
	if in == nil {
		return fmt.Errorf("add contact: %w: %q", ErrUnknownInstance, guid)
	}
	if err := in.addContact(c); err != nil {
		return fmt.Errorf("add contact: %w", err)
	}
	return nil
}

// AddRoom puts instance guid in a room, on its session list, and answers
// the room (with its generated ID when r.ID was empty).
func (s *Sim) AddRoom(guid string, r Room) (Room, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.st.get(guid)
	if in == nil {
		return Room{}, fmt.Errorf("add room: %w: %q", ErrUnknownInstance, guid)
	}
	out, err := in.addRoom(r)
	if err != nil {
		return Room{}, fmt.Errorf("add room: %w", err)
	}
	return out, nil
}

func (in *instance) addContact(c Contact) error {
	c.UserID = strings.TrimSpace(strings.TrimPrefix(c.UserID, "S:"))
	switch {
	case c.UserID == "":
		return fmt.Errorf("%w: Contact.UserID is required", ErrInvalid)
	case in.contacts[c.UserID] != nil:
		return fmt.Errorf("%w: contact %s of %s", ErrExists, c.UserID, in.guid)
	}
	if c.Name == "" {
		c.Name = c.UserID
	}
	in.contacts[c.UserID] = &c
	in.addSession("S:" + c.UserID)
	return nil
}

func (in *instance) addRoom(r Room) (Room, error) {
	r.ID = strings.TrimSpace(strings.TrimPrefix(r.ID, "R:"))
	if r.ID == "" {
		r.ID = digits("1310269", 10)
	}
	if _, err := strconv.ParseUint(r.ID, 10, 64); err != nil {
		return Room{}, fmt.Errorf("%w: room id %q is not digits", ErrInvalid, r.ID)
	}
	if in.rooms[r.ID] != nil {
		return Room{}, fmt.Errorf("%w: room %s of %s", ErrExists, r.ID, in.guid)
	}
	r.Admins, r.Members = slices.Clone(r.Admins), slices.Clone(r.Members)
	in.rooms[r.ID] = &r
	in.addSession("R:" + r.ID)
	return r, nil
}

// Instance reports instance guid.
func (s *Sim) Instance(guid string) (Instance, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.st.get(guid)
	if in == nil {
		return Instance{}, false
	}
	return in.public(), true
}

// Instances reports every instance, in creation order.
func (s *Sim) Instances() []Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Instance, 0, len(s.st.order))
	for _, g := range s.st.order {
		out = append(out, s.st.instances[g].public())
	}
	return out
}

// createClient creates a running instance, within MaxInstances.
func (s *Sim) createClient(r *request) (any, error) {
	clientType, err := r.integer("client_type", DefaultClientType)
	if err != nil {
		return nil, err
	}
	if max := s.opts.MaxInstances; max > 0 && len(s.st.instances) >= max {
		return nil, fail(CodeInstanceLimit, "实例数达到上限 (%d instances): remove instances you no longer need", max)
	}
	n := newInstance(newGUID())
	n.clientType = int(clientType)
	s.st.instances[n.guid] = n
	s.st.order = append(s.st.order, n.guid)
	return map[string]any{"guid": n.guid}, nil
}

// allClients lists the guids. With no instance the data is null, not an
// empty list: the vendor's demo had to learn to cope with that.
func (s *Sim) allClients(*request) (any, error) {
	if len(s.st.order) == 0 {
		return nil, nil
	}
	return slices.Clone(s.st.order), nil
}

func (s *Sim) clientStatus(r *request) (any, error) {
	in, err := s.instance(r)
	if err != nil {
		return nil, err
	}
	return map[string]any{"status": in.status}, nil
}

// removeClient removes an instance, posting 11004 when it was online.
func (s *Sim) removeClient(r *request) (any, error) {
	in, err := s.instance(r)
	if err != nil {
		return nil, err
	}
	if in.status == StatusOnline {
		s.queue(in, NotifyLogout, map[string]any{"error_code": 0, "error_message": "instance removed"})
	}
	s.st.remove(in.guid)
	return map[string]any{}, nil
}

func (s *Sim) setNotifyURL(r *request) (any, error) {
	in, err := s.instance(r)
	if err != nil {
		return nil, err
	}
	raw, err := r.need("notify_url")
	if err != nil {
		return nil, err
	}
	u, perr := url.Parse(raw)
	if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fail(CodeBadRequest, "notify_url %q is not an http(s) URL", raw)
	}
	in.notifyURL = raw
	return map[string]any{}, nil
}

func (s *Sim) setBridge(r *request) (any, error) {
	in, err := s.instance(r)
	if err != nil {
		return nil, err
	}
	bridge, err := r.need("bridge")
	if err != nil {
		return nil, err
	}
	in.bridge = bridge
	return map[string]any{}, nil
}

// loginQRCode issues a new QR code for a running instance and announces
// it with an 11002 callback.
func (s *Sim) loginQRCode(r *request) (any, error) {
	in, err := s.instance(r)
	if err != nil {
		return nil, err
	}
	switch in.status {
	case StatusOnline:
		return nil, fail(CodeState, "instance %s is already logged in", in.guid)
	case StatusStopped:
		return nil, fail(CodeState, "instance %s is stopped", in.guid)
	}
	key := base64.RawURLEncoding.EncodeToString(randomBytes(12))
	in.login = &qrLogin{key: key, issued: r.now, status: QRWaiting,
		content: "https://work.weixin.qq.com/wework_admin/login/qrcode?key=" + key}
	s.queue(in, NotifyQRCode, map[string]any{"qrcode_content": in.login.content, "qrcode_key": key})
	if s.opts.AutoScan != nil {
		s.autoScan(in.guid, key)
	}
	return map[string]any{"qrcode_content": in.login.content, "qrcode_key": key}, nil
}

// Scan is how the phone answers a QR code, for ScanQR.
type Scan struct {
	// User is the account that scans. UserID is required.
	User User
	// Verify: the login is on a new device and needs a verification code
	// (status 10), which ScanQR answers.
	Verify bool
	// Refuse: the user refuses the login on the phone (status 4).
	Refuse bool
	// Fail: the login fails (status 3).
	Fail bool
}

// Login is the outcome of ScanQR.
type Login struct {
	// Status is the last QR status posted: QRLoggedIn, QRVerify, QRRefused
	// or QRFailed.
	Status int
	// VerifyCode is the code the phone shows, to send to
	// /login/verify_login_qrcode (set when Scan.Verify).
	VerifyCode string
}

// ScanQR plays the phone side of the QR login of instance guid, which must
// show a QR code (get_login_qrcode): an 11002 callback with status 1
// (scanned), then status 2 and an 11003 login, or status 10 and a
// verification code, or status 4 (refused) or 3 (failed). A QR code older
// than QRLifetime has expired: status 3 is posted and the error is
// ErrQRExpired. ScanQR returns once its callbacks are delivered.
func (s *Sim) ScanQR(ctx context.Context, guid string, scan Scan) (Login, error) {
	if strings.TrimSpace(scan.User.UserID) == "" {
		return Login{}, fmt.Errorf("scan qr code: %w: User.UserID is required", ErrInvalid)
	}
	n := 0
	for _, b := range []bool{scan.Verify, scan.Refuse, scan.Fail} {
		if b {
			n++
		}
	}
	if n > 1 {
		return Login{}, fmt.Errorf("scan qr code: %w: Verify, Refuse and Fail exclude each other", ErrInvalid)
	}
	s.mu.Lock()
	in := s.st.get(guid)
	switch {
	case in == nil:
		s.mu.Unlock()
		return Login{}, fmt.Errorf("scan qr code: %w: %q", ErrUnknownInstance, guid)
	case in.login == nil || in.login.status != QRWaiting:
		s.mu.Unlock()
		return Login{}, fmt.Errorf("scan qr code of %s: %w: no QR code waits to be scanned", guid, ErrState)
	}
	var ds []*delivery
	var out Login
	var err error
	now := s.now()
	switch {
	case now.Sub(in.login.issued) > s.opts.QRLifetime:
		age := now.Sub(in.login.issued).Round(time.Second)
		ds = append(ds, s.endLogin(in, QRFailed, "二维码已过期"))
		out.Status = QRFailed
		err = fmt.Errorf("scan qr code of %s: %w (issued %s ago)", guid, ErrQRExpired, age)
	default:
		who := userOf(scan.User)
		ds = append(ds, s.qrStatus(in, QRScanned, who))
		switch {
		case scan.Refuse:
			ds = append(ds, s.endLogin(in, QRRefused, "登录被拒绝"))
			out.Status = QRRefused
		case scan.Fail:
			ds = append(ds, s.endLogin(in, QRFailed, "登录失败"))
			out.Status = QRFailed
		case scan.Verify:
			in.login.pending, in.login.code, in.login.attempts = who, digits("", 6), 0
			ds = append(ds, s.qrStatus(in, QRVerify, who))
			out.Status, out.VerifyCode = QRVerify, in.login.code
		default:
			ds = append(ds, s.completeLogin(in, who)...)
			out.Status = QRLoggedIn
		}
	}
	s.mu.Unlock()
	if werr := s.cb.Wait(ctx, ds...); werr != nil && err == nil {
		err = fmt.Errorf("scan qr code of %s: %w", guid, werr)
	}
	return out, err
}

// qrStatus records and posts an 11002 status. s.mu must be held.
func (s *Sim) qrStatus(in *instance, status int, who *User) *delivery {
	in.login.status = status
	data := map[string]any{"status": status, "qrcode_content": in.login.content, "qrcode_key": in.login.key}
	if who != nil {
		data["nickname"] = who.Name
	}
	return s.queue(in, NotifyQRCode, data)
}

// endLogin ends the login in failure: the QR code is spent. s.mu must be
// held.
func (s *Sim) endLogin(in *instance, status int, reason string) *delivery {
	d := s.qrStatus(in, status, in.login.pending)
	in.login = nil
	s.log.Debug("login ended", "guid", in.guid, "status", status, "reason", reason)
	return d
}

// completeLogin logs who in: 11002 status 2, then 11003. s.mu must be held.
func (s *Sim) completeLogin(in *instance, who *User) []*delivery {
	ds := []*delivery{s.qrStatus(in, QRLoggedIn, who)}
	in.login = nil
	in.user, in.status = who, StatusOnline
	data := map[string]any{"user_id": who.UserID, "nickname": who.Name}
	for k, v := range map[string]string{"corp_id": who.CorpID, "corp_name": who.CorpName, "acctid": who.AcctID,
		"mobile": who.Mobile, "avatar": who.Avatar, "position": who.Position} {
		if v != "" {
			data[k] = v
		}
	}
	return append(ds, s.queue(in, NotifyLogin, data))
}

// verifyLogin takes the verification code of a login in status 10. A
// wrong code is an error; the MaxVerifyAttempts-th fails the login.
func (s *Sim) verifyLogin(r *request) (any, error) {
	in, err := s.instance(r)
	if err != nil {
		return nil, err
	}
	code, err := r.need("code")
	if err != nil {
		return nil, err
	}
	key, _, err := r.str("qrcode_key")
	if err != nil {
		return nil, err
	}
	l := in.login
	switch {
	case l == nil || l.status != QRVerify:
		return nil, fail(CodeState, "no login of instance %s waits for a verification code", in.guid)
	case key != "" && key != l.key:
		return nil, fail(CodeBadRequest, "qrcode_key does not match the login's QR code")
	case code != l.code:
		l.attempts++
		if left := MaxVerifyAttempts - l.attempts; left > 0 {
			return nil, fail(CodeVerifyFailed, "验证码错误 (wrong verification code), %d attempts left", left)
		}
		s.endLogin(in, QRFailed, "验证码错误")
		return nil, fail(CodeVerifyFailed, "验证码错误 (wrong verification code): the login failed, get a new QR code")
	}
	s.completeLogin(in, l.pending)
	return map[string]any{}, nil
}

// Logout logs instance guid out, as when the user quits WeCom: it posts
// 11004 and the instance is running again, needing a new login.
func (s *Sim) Logout(ctx context.Context, guid string) error {
	s.mu.Lock()
	in := s.st.get(guid)
	if in == nil || in.status != StatusOnline {
		s.mu.Unlock()
		if in == nil {
			return fmt.Errorf("logout: %w: %q", ErrUnknownInstance, guid)
		}
		return fmt.Errorf("logout of %s: %w: not online", guid, ErrState)
	}
	in.user, in.status = nil, StatusRunning
	d := s.queue(in, NotifyLogout, map[string]any{"error_code": -1, "error_message": "用户主动退出登录"})
	s.mu.Unlock()
	if err := s.cb.Wait(ctx, d); err != nil {
		return fmt.Errorf("logout of %s: %w", guid, err)
	}
	return nil
}

// sessionList pages the session list: sessions after begin_seq, at most
// limit (100 by default), and the seq of the last one as the next cursor.
func (s *Sim) sessionList(r *request) (any, error) {
	in, err := s.online(r)
	if err != nil {
		return nil, err
	}
	begin, err := r.integer("begin_seq", 0)
	if err != nil {
		return nil, err
	}
	limit, err := r.integer("limit", 100)
	if err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 1000 {
		return nil, fail(CodeBadRequest, "limit must be 1..1000, got %d", limit)
	}
	list := []string{}
	next := begin
	for _, ss := range in.sessions {
		if ss.seq <= begin || int64(len(list)) >= limit {
			continue
		}
		list = append(list, ss.id)
		next = ss.seq
	}
	return map[string]any{"session_list": list, "begin_seq": strconv.FormatInt(next, 10)}, nil
}
