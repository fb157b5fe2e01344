package sim

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
)

// AddRoom adds a group quietly (no callback) and answers it with its
// defaults filled in: an id when ID is empty, the owner among the members.
// Members' names are what the simulator knows of them (accounts, contacts,
// persons), else their ids.
func (s *Sim) AddRoom(r Room) (Room, error) {
	r.Owner = strings.TrimSpace(r.Owner)
	if r.Owner == "" {
		return r, fmt.Errorf("add room: %w: Owner is required", ErrInvalid)
	}
	if r.ID != "" && (!strings.HasPrefix(r.ID, "R:") || len(r.ID) < 3) {
		return r, fmt.Errorf(`add room: %w: ID %q must start with "R:"`, ErrInvalid, r.ID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.ID == "" {
		r.ID = "R:" + randomDigits("108", 14)
	}
	if s.st.rooms.get(r.ID) != nil {
		return r, fmt.Errorf("add room: %w: %s", ErrExists, r.ID)
	}
	now := s.now()
	rm := &room{id: r.ID, name: r.Name, owner: r.Owner, created: now, admins: map[string]bool{}}
	rm.members = append(rm.members, &member{id: r.Owner, inviter: r.Owner, joined: now})
	for _, id := range r.Members {
		if id = strings.TrimSpace(id); id != "" && rm.member(id) == nil {
			rm.members = append(rm.members, &member{id: id, inviter: r.Owner, joined: now, scene: 1})
		}
	}
	for _, id := range r.Admins {
		if rm.member(id) == nil {
			return r, fmt.Errorf("add room %s: %w: admin %s is not a member", r.ID, ErrInvalid, id)
		}
		rm.admins[id] = true
	}
	s.st.rooms.put(rm.id, rm)
	return rm.public(), nil
}

func (rm *room) public() Room {
	out := Room{ID: rm.id, Name: rm.name, Owner: rm.owner, Members: rm.memberIDs(), Notice: rm.notice}
	for _, m := range rm.members {
		if rm.admins[m.id] {
			out.Admins = append(out.Admins, m.id)
		}
	}
	return out
}

// Room answers the group id as it is now.
func (s *Sim) Room(id string) (Room, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rm := s.st.rooms.get(id)
	if rm == nil {
		return Room{}, false
	}
	return rm.public(), true
}

// displayName is the room's name, or as WeCom shows an unnamed group, its
// first members' names.
func (s *Sim) displayName(rm *room) string {
	if rm.name != "" {
		return rm.name
	}
	var names []string
	for _, m := range rm.members[:min(len(rm.members), 3)] {
		names = append(names, s.st.name(m.id))
	}
	return strings.Join(names, "、")
}

// roomCallback posts a callback about rm to every online account among
// ids.
func (s *Sim) roomCallback(ids []string, typ string, data map[string]any) []*delivery {
	var out []*delivery
	for _, id := range ids {
		if a := s.st.accounts.get(id); a != nil && s.st.online(a) {
			out = append(out, s.accountCallback(a, typ, data, ""))
		}
	}
	return out
}

func (s *Sim) memberList(ids []string) []map[string]any {
	out := make([]map[string]any, len(ids))
	for i, id := range ids {
		out[i] = map[string]any{"name": s.st.name(id), "user_id": id}
	}
	return out
}

// QuitRoom makes user leave the group: every online account still in it,
// and the user if it is an account, gets notify_type_room_member_quit.
func (s *Sim) QuitRoom(ctx context.Context, roomID, user string) error {
	s.mu.Lock()
	rm := s.st.rooms.get(roomID)
	switch {
	case rm == nil:
		s.mu.Unlock()
		return fmt.Errorf("quit room: %w: %s", ErrUnknownRoom, roomID)
	case rm.member(user) == nil:
		s.mu.Unlock()
		return fmt.Errorf("quit room %s: %w: %s is not a member", roomID, ErrInvalid, user)
	}
	told := rm.memberIDs()
	rm.members = slices.DeleteFunc(rm.members, func(m *member) bool { return m.id == user })
	delete(rm.admins, user)
	if rm.owner == user && len(rm.members) > 0 {
		rm.owner = rm.members[0].id
	}
	ds := s.roomCallback(told, "notify_type_room_member_quit", map[string]any{
		"op_user_id": user, "op_user_name": s.st.name(user), "room_conversation_id": rm.id, "room_name": s.displayName(rm),
	})
	if len(rm.members) == 0 {
		s.st.rooms.drop(rm.id)
	}
	s.mu.Unlock()
	if err := s.cb.Wait(ctx, ds...); err != nil {
		return fmt.Errorf("quit room %s: %w", roomID, err)
	}
	return nil
}

// DisbandRoom dissolves the group: it is gone, and every online account
// that was in it gets the gray notice WeCom shows (chat_gray_msg).
func (s *Sim) DisbandRoom(ctx context.Context, roomID string) error {
	s.mu.Lock()
	rm := s.st.rooms.get(roomID)
	if rm == nil {
		s.mu.Unlock()
		return fmt.Errorf("disband room: %w: %s", ErrUnknownRoom, roomID)
	}
	s.st.rooms.drop(roomID)
	now := s.now()
	var ds []*delivery
	for _, id := range rm.memberIDs() {
		a := s.st.accounts.get(id)
		if a == nil || !s.st.online(a) {
			continue
		}
		ds = append(ds, s.accountCallback(a, "chat_gray_msg", map[string]any{
			"appinfo":         randomHex(24),
			"content":         "该群已被群主解散",
			"content_type":    1011,
			"conversation_id": rm.id,
			"is_pc":           0,
			"receiver":        a.wxid,
			"send_time":       fmt.Sprint(now.Unix()),
			"sender":          rm.owner,
			"sender_name":     "",
			"server_id":       fmt.Sprint(s.st.nextSeq()),
		}, ""))
	}
	s.mu.Unlock()
	if err := s.cb.Wait(ctx, ds...); err != nil {
		return fmt.Errorf("disband room %s: %w", roomID, err)
	}
	return nil
}

// newMembers reads memberWxIds: a's contacts who are not the account.
func (s *Sim) newMembers(a *account, r *request, field string) ([]string, error) {
	ids, err := r.f.needList(field)
	if err != nil {
		return nil, err
	}
	var out, strangers []string
	for _, id := range ids {
		switch {
		case id == a.wxid, slices.Contains(out, id):
		case a.activeContact(id) == nil:
			strangers = append(strangers, id)
		default:
			out = append(out, id)
		}
	}
	if len(strangers) > 0 {
		return nil, fail(CodeFailed, "%s: not contacts of %s: %s", field, a.wxid, strings.Join(strangers, ", "))
	}
	return out, nil
}

// groupCreate creates a group of the account and at least two contacts.
func (s *Sim) groupCreate(r *request) (any, error) {
	a, err := s.account(r, online)
	if err != nil {
		return nil, err
	}
	ids, err := s.newMembers(a, r, "memberWxIds")
	if err != nil {
		return nil, err
	}
	if len(ids) < 2 {
		return nil, fail(CodeBadRequest, "memberWxIds needs at least two members besides the account")
	}
	rm := &room{id: "R:" + randomDigits("108", 14), owner: a.wxid, created: r.now, admins: map[string]bool{}}
	rm.members = append(rm.members, &member{id: a.wxid, inviter: a.wxid, joined: r.now})
	added := make([]map[string]any, 0, len(ids))
	for _, id := range ids {
		rm.members = append(rm.members, &member{id: id, inviter: a.wxid, joined: r.now, scene: 1})
		added = append(added, map[string]any{"success_add_vidlist": id})
	}
	s.st.rooms.put(rm.id, rm)
	s.log.Info("group created", "account", a.wxid, "room", rm.id, "members", len(rm.members))
	s.roomCallback(rm.memberIDs(), "notify_type_room_create", map[string]any{
		"member_list": s.memberList(ids), "op_user_id": a.wxid, "op_user_name": a.nickname,
		"room_conversation_id": rm.id, "room_name": s.displayName(rm),
	})
	seq := s.st.nextSeq()
	return map[string]any{
		"createruin":    a.wxid,
		"createtime":    r.now.Unix(),
		"error_code":    0,
		"error_message": "",
		// The vendor answers one zero entry when no member failed.
		"failmem":             []map[string]any{{"type": 0, "vid": 0}},
		"msgid":               seq,
		"msgseq":              fmt.Sprint(seq + 7_500_000),
		"roomid":              strings.TrimPrefix(rm.id, "R:"),
		"roomname":            "",
		"sessionid":           base64.StdEncoding.EncodeToString([]byte(randomHex(16))),
		"success_add_vidlist": added,
	}, nil
}

// groupList lists the groups the account is in.
func (s *Sim) groupList(r *request) (any, error) {
	a, err := s.account(r, known)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for rm := range s.st.rooms.all() {
		if rm.member(a.wxid) == nil {
			continue
		}
		out = append(out, map[string]any{
			"wx_id":           nil,
			"conversation_id": rm.id,
			"create_time":     rm.created.Unix(),
			"create_user_id":  rm.owner,
			"is_external":     boolInt(s.st.external(rm, a.corp)),
			"nickname":        s.displayName(rm),
			"is_admin":        boolInt(rm.admins[a.wxid]),
			"is_creator":      boolInt(rm.owner == a.wxid),
			"total":           len(rm.members),
		})
	}
	return out, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *Sim) groupRename(r *request) (any, error) {
	a, rm, err := s.accountRoom(r, online)
	if err != nil {
		return nil, err
	}
	name, err := r.f.need("name")
	if err != nil {
		return nil, err
	}
	rm.name = name
	s.roomCallback(rm.memberIDs(), "room_name_changed", map[string]any{
		"op_user_id": a.wxid, "room_conversation_id": rm.id, "room_name": name,
	})
	return nil, nil
}

func (s *Sim) groupMemberList(r *request) (any, error) {
	a, rm, err := s.accountRoom(r, known)
	if err != nil {
		return nil, err
	}
	list := make([]map[string]any, 0, len(rm.members))
	for _, m := range rm.members {
		p := s.st.profile(m.id)
		remark := ""
		if c := a.contacts[m.id]; c != nil {
			remark = c.remark
		}
		nick, real := "", ""
		if weCom(m.id) {
			real = p.name
		}
		list = append(list, map[string]any{
			"acctid": p.acctID, "avatar": p.avatar, "corp_id": p.corp, "invite_user_id": m.inviter,
			"is_admin": boolInt(rm.admins[m.id]), "join_scene": m.scene, "join_time": m.joined.Unix(),
			"mobile": p.mobile, "nickname": nick, "position": p.position, "realname": real, "remark": remark,
			"room_nickname": "", "sex": p.sex, "unionid": p.unionID, "user_id": m.id, "username": p.name,
		})
	}
	return map[string]any{
		"conversation_id": rm.id, "member_list": list,
		"page_num": 1, "page_size": 100000, "total": len(list), "total_page": 1,
	}, nil
}

// groupMemberAdd invites contacts. Like the vendor, an internal group
// (everyone in the account's company) quietly keeps out people from
// outside the company while answering success.
func (s *Sim) groupMemberAdd(r *request) (any, error) {
	a, rm, err := s.accountRoom(r, online)
	if err != nil {
		return nil, err
	}
	ids, err := s.newMembers(a, r, "memberWxIds")
	if err != nil {
		return nil, err
	}
	internal := !s.st.external(rm, a.corp)
	var added []string
	for _, id := range ids {
		switch {
		case rm.member(id) != nil:
		case internal && s.st.profile(id).corp != a.corp:
			s.log.Info("invitation to an internal group ignored", "room", rm.id, "user", id)
		default:
			rm.members = append(rm.members, &member{id: id, inviter: a.wxid, joined: r.now, scene: 1})
			added = append(added, id)
		}
	}
	if len(added) > 0 {
		s.roomCallback(rm.memberIDs(), "notify_type_room_add_member", s.memberChange(rm, a, added))
	}
	return nil, nil
}

func (s *Sim) memberChange(rm *room, a *account, ids []string) map[string]any {
	return map[string]any{
		"member_list": s.memberList(ids), "op_user_id": a.wxid, "op_user_name": a.nickname,
		"room_conversation_id": rm.id, "room_name": s.displayName(rm),
	}
}

// groupMemberRemove removes members. Like the vendor, only the owner or an
// admin really removes anyone; others are answered success all the same.
func (s *Sim) groupMemberRemove(r *request) (any, error) {
	a, rm, err := s.accountRoom(r, online)
	if err != nil {
		return nil, err
	}
	ids, err := r.f.needList("memberWxIds")
	if err != nil {
		return nil, err
	}
	if !rm.privileged(a.wxid) {
		s.log.Info("member removal by a plain member ignored", "room", rm.id, "account", a.wxid)
		return nil, nil
	}
	told := rm.memberIDs()
	var removed []string
	for _, id := range ids {
		if id != rm.owner && id != a.wxid && rm.member(id) != nil && !slices.Contains(removed, id) {
			removed = append(removed, id)
		}
	}
	if len(removed) == 0 {
		return nil, nil
	}
	rm.members = slices.DeleteFunc(rm.members, func(m *member) bool { return slices.Contains(removed, m.id) })
	for _, id := range removed {
		delete(rm.admins, id)
	}
	s.roomCallback(told, "notify_type_room_del_member", s.memberChange(rm, a, removed))
	return nil, nil
}

// groupMemberContact sends a friend request to a member; the simulated
// member accepts at once (notify_type_contact_add).
func (s *Sim) groupMemberContact(r *request) (any, error) {
	a, rm, err := s.accountRoom(r, online)
	if err != nil {
		return nil, err
	}
	id, err := r.f.need("memberWxId")
	if err != nil {
		return nil, err
	}
	switch {
	case rm.member(id) == nil:
		return nil, fail(CodeFailed, "memberWxId %s is not a member of %s", id, rm.id)
	case id == a.wxid:
		return nil, fail(CodeFailed, "an account cannot add itself")
	case a.activeContact(id) == nil:
		s.befriend(a, id, r.now)
	}
	return nil, nil
}

// groupNotice posts a notice. Only the owner's or an admin's notice is
// kept; the answer is success either way, as the vendor's is.
func (s *Sim) groupNotice(r *request) (any, error) {
	a, rm, err := s.accountRoom(r, online)
	if err != nil {
		return nil, err
	}
	content, err := r.f.need("Content")
	if err != nil {
		return nil, err
	}
	if rm.privileged(a.wxid) {
		rm.notice = content
	} else {
		s.log.Info("notice by a plain member ignored", "room", rm.id, "account", a.wxid)
	}
	return nil, nil
}
