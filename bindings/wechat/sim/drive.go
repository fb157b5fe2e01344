package sim

import (
	"context"
	"encoding/xml"
	"fmt"
	"slices"
	"strings"
	"time"
)

// withInstance runs fn on the instance guid under the lock and waits for
// the callbacks it queued. what names the driving method in errors.
func (s *Sim) withInstance(ctx context.Context, what, guid string, fn func(inst *instance, now time.Time) ([]*delivery, error)) error {
	s.mu.Lock()
	inst := s.st.instances[guid]
	var ds []*delivery
	err := fmt.Errorf("%w: %q", ErrUnknownInstance, guid)
	if inst != nil {
		ds, err = fn(inst, s.now())
	}
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return s.await(ctx, what, ds...)
}

// loginUnderWay answers the login of inst in one of the statuses want.
func loginUnderWay(inst *instance, now time.Time, want ...int) (*loginState, error) {
	l := inst.login
	switch {
	case inst.account != nil:
		return nil, fmt.Errorf("%w: %s is already logged in", ErrState, inst.account.WxID)
	case l == nil:
		return nil, fmt.Errorf("%w: no login QR code; call /login/get_login_qrcode first", ErrState)
	case !slices.Contains(want, l.status):
		return nil, fmt.Errorf("%w: the QR code's status is %d, not %v", ErrState, l.status, want)
	case l.status <= QRScanned && !now.Before(l.expires):
		return nil, fmt.Errorf("%w: the QR code expired at %s", ErrState, l.expires.Format(time.RFC3339))
	}
	return l, nil
}

// ScanQR scans the instance's login QR code with the phone of acct: the
// status becomes QRScanned and a 1002 callback says who scanned it.
func (s *Sim) ScanQR(ctx context.Context, guid string, acct Account) error {
	if strings.TrimSpace(acct.WxID) == "" {
		return fmt.Errorf("scan qr: %w: the account's WxID is required", ErrInvalid)
	}
	return s.withInstance(ctx, "scan qr", guid, func(inst *instance, now time.Time) ([]*delivery, error) {
		l, err := loginUnderWay(inst, now, QRWaiting)
		if err != nil {
			return nil, err
		}
		a := acct
		l.status, l.scanner = QRScanned, &a
		return []*delivery{s.queueCallback(inst, NotifyQRCodeChange, qrData(l))}, nil
	})
}

// ConfirmLogin confirms the scanned login on the phone: the account logs
// in, with the callbacks 1002 (confirmed), 1003, 1005 and 1009.
func (s *Sim) ConfirmLogin(ctx context.Context, guid string) error {
	return s.withInstance(ctx, "confirm login", guid, func(inst *instance, now time.Time) ([]*delivery, error) {
		l, err := loginUnderWay(inst, now, QRScanned)
		if err != nil {
			return nil, err
		}
		return s.completeLogin(inst, l.scanner, now), nil
	})
}

// RequireVerify answers the scanned login with a request for verification
// (status QRNeedVerify, 1002) and returns the code the phone shows;
// /login/verify_login_url with it completes the login.
func (s *Sim) RequireVerify(ctx context.Context, guid string) (string, error) {
	var code string
	err := s.withInstance(ctx, "require verify", guid, func(inst *instance, now time.Time) ([]*delivery, error) {
		l, err := loginUnderWay(inst, now, QRScanned)
		if err != nil {
			return nil, err
		}
		l.status, l.code = QRNeedVerify, fmt.Sprintf("%06d", s.st.nextSeq()%1_000_000)
		code = l.code
		return []*delivery{s.queueCallback(inst, NotifyQRCodeChange, qrData(l))}, nil
	})
	return code, err
}

// RefuseLogin refuses the scanned login on the phone: status QRRefused
// (1002) and a failed login (1008).
func (s *Sim) RefuseLogin(ctx context.Context, guid string) error {
	return s.withInstance(ctx, "refuse login", guid, func(inst *instance, now time.Time) ([]*delivery, error) {
		l, err := loginUnderWay(inst, now, QRScanned, QRNeedVerify)
		if err != nil {
			return nil, err
		}
		l.status = QRRefused
		ds := []*delivery{s.queueCallback(inst, NotifyQRCodeChange, qrData(l))}
		inst.login = nil
		return append(ds, s.queueCallback(inst, NotifyLoginFailed, map[string]any{"message": "用户拒绝登录"})), nil
	})
}

// Disconnect logs the account out as the vendor reports it: notifyType is
// NotifyUserLogout (logged out on the phone), NotifyHeartBeatError or
// NotifySessionTimeout.
func (s *Sim) Disconnect(ctx context.Context, guid string, notifyType int) error {
	reasons := map[int]string{NotifyUserLogout: "已在手机上退出登录", NotifyHeartBeatError: "心跳失败", NotifySessionTimeout: "会话超时"}
	reason, ok := reasons[notifyType]
	if !ok {
		return fmt.Errorf("disconnect: %w: notify type %d is not a logout (1004, 1006, 1007)", ErrInvalid, notifyType)
	}
	return s.withInstance(ctx, "disconnect", guid, func(inst *instance, _ time.Time) ([]*delivery, error) {
		if inst.account == nil {
			return nil, fmt.Errorf("%w: instance %s is not logged in", ErrState, guid)
		}
		return []*delivery{s.logout(inst, notifyType, reason)}, nil
	})
}

// SyncFailed reports that the instance's message sync broke (2006): no
// message arrives (Say fails) until /client/restore_client.
func (s *Sim) SyncFailed(ctx context.Context, guid string) error {
	return s.withInstance(ctx, "sync failed", guid, func(inst *instance, _ time.Time) ([]*delivery, error) {
		if inst.account == nil {
			return nil, fmt.Errorf("%w: instance %s is not logged in", ErrState, guid)
		}
		inst.syncBroke = true
		return []*delivery{s.queueCallback(inst, NotifySyncMsgFailed, map[string]any{"message": "同步消息失败，请调用恢复接口"})}, nil
	})
}

// Incoming is a text message someone sends to the account, for Say.
type Incoming struct {
	// GUID is the receiving instance; an account must be logged in.
	GUID string
	// From is the sender's wxid: a friend of the account, or in a room one
	// of its members.
	From string
	// Room is the room's id for a room message; empty for a private one.
	Room string
	Text string
	// AtList are the mentioned wxids (MentionAll for everyone).
	AtList []string
}

// Say posts a 1010 text message the account received, as the vendor does,
// and returns once it is delivered.
func (s *Sim) Say(ctx context.Context, in Incoming) error {
	return s.withInstance(ctx, "say", in.GUID, func(inst *instance, now time.Time) ([]*delivery, error) {
		if err := canReceive(inst); err != nil {
			return nil, err
		}
		from := strings.TrimSpace(in.From)
		switch {
		case from == "":
			return nil, fmt.Errorf("%w: From is required", ErrInvalid)
		case from == inst.account.WxID:
			return nil, fmt.Errorf("%w: From is the account itself; what it says are sends", ErrInvalid)
		case strings.TrimSpace(in.Text) == "":
			return nil, fmt.Errorf("%w: Text is required", ErrInvalid)
		}
		msg := map[string]any{"msg_type": MsgText, "to_user_name": inst.account.WxID, "content": in.Text,
			"push_content": inst.name(from) + " : " + in.Text}
		if in.Room == "" {
			if c := inst.contacts[from]; c == nil || c.Type != ContactFriend {
				return nil, fmt.Errorf("%w: %s is not a friend of %s", ErrUnknownContact, from, inst.account.WxID)
			}
			if len(in.AtList) > 0 {
				return nil, fmt.Errorf("%w: mentions only happen in rooms", ErrInvalid)
			}
			msg["from_user_name"] = from
		} else {
			rm := inst.rooms[in.Room]
			switch {
			case rm == nil:
				return nil, fmt.Errorf("%w: %s", ErrUnknownRoom, in.Room)
			case !hasMember(rm, from):
				return nil, fmt.Errorf("%w: %s is not a member of %s", ErrInvalid, from, in.Room)
			}
			msg["from_user_name"], msg["content"] = in.Room, from+":\n"+in.Text
			if len(in.AtList) > 0 {
				msg["msg_source"] = "<msgsource><atuserlist><![CDATA[," + strings.Join(in.AtList, ",") + "]]></atuserlist></msgsource>"
			}
		}
		return []*delivery{s.newMessage(inst, msg, now)}, nil
	})
}

// canReceive reports why inst cannot receive messages, or nil.
func canReceive(inst *instance) error {
	switch {
	case inst.account == nil:
		return fmt.Errorf("%w: instance %s is not logged in", ErrState, inst.guid)
	case inst.stopped:
		return fmt.Errorf("%w: instance %s is stopped", ErrState, inst.guid)
	case inst.syncBroke:
		return fmt.Errorf("%w: instance %s lost its message sync; restore it", ErrState, inst.guid)
	}
	return nil
}

// newMessage completes a message's ids and time and queues its 1010.
// s.mu must be held.
func (s *Sim) newMessage(inst *instance, msg map[string]any, now time.Time) *delivery {
	id := s.st.nextSeq()
	msg["msg_id"], msg["new_msg_id"], msg["msg_seq"] = id, 7773749793000000000+id, id-400000000
	msg["create_time"], msg["status"], msg["img_status"] = now.Unix(), 3, 1
	return s.queueCallback(inst, NotifyNewMsg, msg)
}

// FriendRequest has p ask the account to be friends: a 1010 message of
// type 37. It returns the v3 and v4 tickets /contact/verify_friend takes
// to accept.
func (s *Sim) FriendRequest(ctx context.Context, guid string, p Person, greeting string) (v3t, v4t string, err error) {
	if strings.TrimSpace(p.WxID) == "" || isRoomID(p.WxID) {
		return "", "", fmt.Errorf("friend request: %w: the person's WxID is required", ErrInvalid)
	}
	err = s.withInstance(ctx, "friend request", guid, func(inst *instance, now time.Time) ([]*delivery, error) {
		if err := canReceive(inst); err != nil {
			return nil, err
		}
		if c := inst.contacts[p.WxID]; c != nil && c.Type == ContactFriend {
			return nil, fmt.Errorf("%w: %s is already a friend", ErrExists, p.WxID)
		}
		v3t, v4t = v3(p.WxID), token("v4_", 16)+"@stranger"
		inst.pendingIn[v3t] = &friendRequest{person: p, v4: v4t, greeting: greeting}
		content, err := xmlAttrs("msg", [][2]string{{"fromusername", p.WxID}, {"encryptusername", v3t},
			{"fromnickname", p.name()}, {"content", greeting}, {"alias", p.Alias}, {"ticket", v4t}, {"scene", "30"},
			{"bigheadimgurl", p.Avatar}, {"province", p.Province}, {"city", p.City}, {"sex", fmt.Sprint(p.Sex)}})
		if err != nil {
			return nil, err
		}
		msg := map[string]any{"msg_type": MsgFriend, "from_user_name": "fmessage", "to_user_name": inst.account.WxID,
			"content": content}
		return []*delivery{s.newMessage(inst, msg, now)}, nil
	})
	return v3t, v4t, err
}

// xmlAttrs renders an empty element with attributes, escaped.
func xmlAttrs(name string, attrs [][2]string) (string, error) {
	start := xml.StartElement{Name: xml.Name{Local: name}}
	for _, a := range attrs {
		start.Attr = append(start.Attr, xml.Attr{Name: xml.Name{Local: a[0]}, Value: a[1]})
	}
	var b strings.Builder
	enc := xml.NewEncoder(&b)
	if err := enc.EncodeToken(start); err != nil {
		return "", fmt.Errorf("encode %s: %w", name, err)
	}
	if err := enc.EncodeToken(start.End()); err != nil {
		return "", fmt.Errorf("encode %s: %w", name, err)
	}
	if err := enc.Flush(); err != nil {
		return "", fmt.Errorf("encode %s: %w", name, err)
	}
	return b.String(), nil
}

// AcceptFriend has wxid accept the friend request the account sent with
// /contact/add_friend: the person becomes a friend (1040).
func (s *Sim) AcceptFriend(ctx context.Context, guid, wxid string) error {
	return s.withInstance(ctx, "accept friend", guid, func(inst *instance, _ time.Time) ([]*delivery, error) {
		if !inst.pendingOut[wxid] {
			return nil, fmt.Errorf("%w: %s has no friend request from instance %s", ErrState, wxid, guid)
		}
		p, ok := s.st.directory[wxid]
		if !ok {
			p = Person{WxID: wxid}
		}
		return []*delivery{s.befriend(inst, p)}, nil
	})
}

// JoinRoom has the room's owner bring the account into a new room r
// (1042) and answers the room's id.
func (s *Sim) JoinRoom(ctx context.Context, guid string, r Room) (string, error) {
	var id string
	err := s.withInstance(ctx, "join room", guid, func(inst *instance, _ time.Time) ([]*delivery, error) {
		if inst.account == nil {
			return nil, fmt.Errorf("%w: instance %s is not logged in", ErrState, guid)
		}
		rm, err := inst.addRoom(r)
		if err != nil {
			return nil, err
		}
		id = rm.id
		d := roomData(rm, "", nil)
		d["inviter"] = rm.owner
		return []*delivery{s.queueCallback(inst, NotifyRoomAdd, d)}, nil
	})
	return id, err
}

// AddMembers has inviter (a member, the account's wxid by default) add
// people to a room (1046).
func (s *Sim) AddMembers(ctx context.Context, guid, roomID, inviter string, people ...Person) error {
	return s.changeMembers(ctx, "add members", guid, roomID, func(inst *instance, rm *room) ([]*delivery, error) {
		if inviter == "" {
			inviter = inst.account.WxID
		}
		if !hasMember(rm, inviter) {
			return nil, fmt.Errorf("%w: inviter %s is not a member of %s", ErrInvalid, inviter, roomID)
		}
		for _, p := range people {
			if strings.TrimSpace(p.WxID) == "" || hasMember(rm, p.WxID) {
				return nil, fmt.Errorf("%w: %q is no wxid or already a member of %s", ErrInvalid, p.WxID, roomID)
			}
		}
		for _, p := range people {
			rm.members[p.WxID] = p
		}
		d := roomData(rm, "", people)
		d["inviter"] = inviter
		return []*delivery{s.queueCallback(inst, NotifyRoomMemberAdd, d)}, nil
	})
}

// RemoveMembers removes members from a room (1048); the owner removes them
// unless operator names someone else.
func (s *Sim) RemoveMembers(ctx context.Context, guid, roomID, operator string, wxids ...string) error {
	return s.changeMembers(ctx, "remove members", guid, roomID, func(inst *instance, rm *room) ([]*delivery, error) {
		if operator == "" {
			operator = rm.owner
		}
		var gone []Person
		for _, id := range wxids {
			p, ok := rm.members[id]
			if !ok || id == inst.account.WxID {
				return nil, fmt.Errorf("%w: %s is not a member of %s other than the account (use RemoveMe)", ErrInvalid, id, roomID)
			}
			gone = append(gone, p)
		}
		for _, id := range wxids {
			delete(rm.members, id)
		}
		return []*delivery{s.queueCallback(inst, NotifyRoomMemberDel, roomData(rm, operator, gone))}, nil
	})
}

// RenameMember sets a member's display name in a room (1047).
func (s *Sim) RenameMember(ctx context.Context, guid, roomID, wxid, displayName string) error {
	return s.changeMembers(ctx, "rename member", guid, roomID, func(inst *instance, rm *room) ([]*delivery, error) {
		p, ok := rm.members[wxid]
		if !ok || strings.TrimSpace(displayName) == "" {
			return nil, fmt.Errorf("%w: %s is not a member of %s, or the name is blank", ErrInvalid, wxid, roomID)
		}
		p.Nickname = displayName
		rm.members[wxid] = p
		return []*delivery{s.queueCallback(inst, NotifyRoomMemberUpdate, roomData(rm, wxid, []Person{p}))}, nil
	})
}

// RemoveMe has the room's owner remove the account from a room (1044), or
// with disband, the owner disband it (1045). The room is gone either way.
func (s *Sim) RemoveMe(ctx context.Context, guid, roomID string, disband bool) error {
	return s.changeMembers(ctx, "remove me", guid, roomID, func(inst *instance, rm *room) ([]*delivery, error) {
		delete(inst.rooms, roomID)
		typ := NotifyRoomDelMe
		if disband {
			typ = NotifyRoomDisband
		}
		return []*delivery{s.queueCallback(inst, typ, roomData(rm, rm.owner, nil))}, nil
	})
}

func (s *Sim) changeMembers(ctx context.Context, what, guid, roomID string, fn func(*instance, *room) ([]*delivery, error)) error {
	return s.withInstance(ctx, what, guid, func(inst *instance, _ time.Time) ([]*delivery, error) {
		if inst.account == nil {
			return nil, fmt.Errorf("%w: instance %s is not logged in", ErrState, guid)
		}
		rm := inst.rooms[roomID]
		if rm == nil {
			return nil, fmt.Errorf("%w: %s", ErrUnknownRoom, roomID)
		}
		return fn(inst, rm)
	})
}

// roomData is the data of the room callbacks.
func roomData(rm *room, operator string, members []Person) map[string]any {
	d := map[string]any{"room_id": rm.id, "room_name": rm.name, "member_count": len(rm.members)}
	if operator != "" {
		d["operator"] = operator
	}
	if members != nil {
		list := make([]any, 0, len(members))
		for _, p := range members {
			list = append(list, map[string]any{"user_name": p.WxID, "nick_name": p.name()})
		}
		d["member_list"] = list
	}
	return d
}
