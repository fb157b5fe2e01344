package sim

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// AddContact makes c a contact of account (again, if it had been deleted),
// quietly: no callback is posted. Its profile (name, avatar...) becomes
// known to the simulator, so groups and cards show it.
func (s *Sim) AddContact(account string, c Contact) error {
	c.UserID = strings.TrimSpace(c.UserID)
	if c.UserID == "" {
		return fmt.Errorf("add contact: %w: UserID is required", ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.st.accounts.get(account)
	switch {
	case a == nil:
		return fmt.Errorf("add contact %s: %w: %q", c.UserID, ErrUnknownAccount, account)
	case c.UserID == a.wxid:
		return fmt.Errorf("add contact: %w: %s cannot be its own contact", ErrInvalid, c.UserID)
	}
	s.notePerson(c, a)
	s.st.addContact(a, &contact{id: c.UserID, inner: c.Inner, remark: c.Remark, desc: c.Desc,
		phones: append([]string(nil), c.Phones...), added: s.now(), relationSaved: true})
	return nil
}

// AddPerson makes c known without making them anyone's contact: a WeChat
// or WeCom user /contact/search finds by c.Mobile and /contact/search/add
// can add.
func (s *Sim) AddPerson(c Contact) error {
	c.UserID = strings.TrimSpace(c.UserID)
	if c.UserID == "" {
		return fmt.Errorf("add person: %w: UserID is required", ErrInvalid)
	}
	if digitsOnly(c.Mobile) == "" {
		return fmt.Errorf("add person %s: %w: Mobile is required to be found", c.UserID, ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notePerson(c, nil)
	return nil
}

// notePerson records c's profile; a is the account it is a contact of, if
// any (its company is an inner contact's default). s.mu must be held.
func (s *Sim) notePerson(c Contact, a *account) {
	corp := c.CorpID
	switch {
	case corp != "":
	case c.Inner && a != nil:
		corp = a.corp
	case strings.HasPrefix(c.UserID, "788"):
		corp = WeChatCorpID
	}
	avatar := c.Avatar
	if avatar == "" && s.st.people[c.UserID] == nil {
		avatar = "http://wx.qlogo.cn/mmhead/sim_" + c.UserID + "/0"
	}
	s.st.upsertPerson(person{id: c.UserID, name: c.Name, avatar: avatar, corp: corp, unionID: c.UnionID,
		mobile: digitsOnly(c.Mobile), position: c.Position, sex: c.Sex})
}

func digitsOnly(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// weCom reports whether id is a WeCom user (ids starting with 16); other
// ids are WeChat users.
func weCom(id string) bool { return strings.HasPrefix(id, "16") }

// contactJSON is a contact as the contact lists answer it.
func (s *Sim) contactJSON(a *account, c *contact, external bool) map[string]any {
	p := s.st.profile(c.id)
	nick, real := "", ""
	if weCom(c.id) {
		nick, real = p.name, p.name
	}
	out := map[string]any{
		"avatar":          p.avatar,
		"conversation_id": privateConversation(a.wxid, c.id),
		"corp_id":         p.corp,
		"nickname":        nick,
		"position":        p.position,
		"realname":        real,
		"remark":          c.remark,
		"sex":             p.sex,
		"user_id":         c.id,
		"username":        p.name,
	}
	if external {
		out["external_user_id"] = externalUserID(a.corp, c.id)
		out["is_delete"] = c.deleted
		out["delete_time"] = nil
		if c.deleted {
			out["delete_time"] = vendorTime(c.deletedAt)
		}
	}
	return out
}

func (s *Sim) contactList(r *request, inner bool) (any, error) {
	a, err := s.account(r, known)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for _, id := range a.contactOrder {
		if c := a.contacts[id]; c.inner == inner {
			out = append(out, s.contactJSON(a, c, !inner))
		}
	}
	return out, nil
}

func (s *Sim) contactExternalList(r *request) (any, error) { return s.contactList(r, false) }

func (s *Sim) contactInnerList(r *request) (any, error) { return s.contactList(r, true) }

func (s *Sim) contactExtendInfo(r *request) (any, error) {
	_, c, err := s.accountContact(r, known, "ContactId", true)
	if err != nil {
		return nil, err
	}
	status := 1
	if c.deleted {
		status = 2
	}
	phones := append([]string{}, c.phones...)
	return map[string]any{"corp_remark": c.corpRemark, "desc": c.desc, "phone_list": phones,
		"remark": c.remark, "status": status, "user_id": c.id}, nil
}

// editContact changes a contact of an online account.
func (s *Sim) editContact(r *request, edit func(c *contact) error) (any, error) {
	_, c, err := s.accountContact(r, online, "contactId", false)
	if err != nil {
		return nil, err
	}
	return nil, edit(c)
}

func (s *Sim) contactRemark(r *request) (any, error) {
	return s.editContact(r, func(c *contact) error {
		c.remark = r.f.str("remark")
		return nil
	})
}

func (s *Sim) contactDesc(r *request) (any, error) {
	return s.editContact(r, func(c *contact) error {
		c.desc = r.f.str("desc")
		return nil
	})
}

func (s *Sim) contactPhone(r *request) (any, error) {
	return s.editContact(r, func(c *contact) error {
		if _, ok := r.f["phones"]; !ok {
			return fail(CodeBadRequest, "phones is required (a list; empty clears)")
		}
		phones, err := r.f.list("phones")
		c.phones = phones
		return err
	})
}

// contactRemove deletes a friend: the contact stays listed with is_delete.
func (s *Sim) contactRemove(r *request) (any, error) {
	a, c, err := s.accountContact(r, online, "ContactUserId", true)
	if err != nil {
		return nil, err
	}
	if !c.deleted {
		c.deleted, c.deletedAt = true, r.now
		s.log.Info("contact removed", "account", a.wxid, "contact", c.id)
	}
	return nil, nil
}

// contactExternalQuery answers the contacts named by ContactInfos
// [{WxId, ContactUserId}] that exist; the others are left out.
func (s *Sim) contactExternalQuery(r *request) (any, error) {
	infos, err := r.f.objects("ContactInfos")
	if err != nil {
		return nil, err
	}
	if len(infos) == 0 {
		return nil, fail(CodeBadRequest, "ContactInfos is required: a list of {WxId, ContactUserId}")
	}
	out := []map[string]any{}
	for i, info := range infos {
		wxid, cid := strings.TrimSpace(info.str("WxId")), strings.TrimSpace(info.str("ContactUserId"))
		if wxid == "" || cid == "" {
			return nil, fail(CodeBadRequest, "ContactInfos[%d] needs WxId and ContactUserId", i)
		}
		a := s.st.accounts.get(wxid)
		if a == nil {
			continue
		}
		if c := a.contacts[cid]; c != nil && !c.inner {
			out = append(out, s.contactJSON(a, c, true))
		}
	}
	return out, nil
}

// befriend adds id as a's contact, as when a friend request is accepted,
// and posts notify_type_contact_add.
func (s *Sim) befriend(a *account, id string, now time.Time) *delivery {
	p := s.st.profile(id)
	inner := p.corp == a.corp
	s.st.addContact(a, &contact{id: id, inner: inner, added: now, relationSaved: true})
	s.log.Info("contact added", "account", a.wxid, "contact", id)
	return s.accountCallback(a, "notify_type_contact_add", map[string]any{
		"acctid":          p.acctID,
		"avatar":          p.avatar,
		"conversation_id": privateConversation(a.wxid, id),
		"corp_id":         p.corp,
		"mobile":          "",
		"nickname":        "",
		"position":        p.position,
		"realname":        "",
		"remark":          "",
		"sex":             p.sex,
		"unionid":         p.unionID,
		"user_id":         id,
		"username":        p.name,
	}, "")
}

//go:embed search_template.json
var searchTemplate []byte

// searchResult is /contact/search's answer for p, found by keyword.
func (s *Sim) searchResult(p *person, keyword string) (map[string]any, error) {
	var tpl struct {
		ContactInfo   map[string]any `json:"contact_info"`
		ContactInfoWX map[string]any `json:"contact_info_wx"`
		CorpInfo      map[string]any `json:"corpinfo"`
	}
	if err := json.Unmarshal(searchTemplate, &tpl); err != nil {
		return nil, fmt.Errorf("search template: %w", err)
	}
	info, wx := tpl.ContactInfo, tpl.ContactInfoWX
	if weCom(p.id) {
		info["corpid"] = p.corp
		info["gender"] = p.sex
		info["gid"] = fmt.Sprint(derivedNumber(1_000_000_000, 1_000_000_000, "gid", p.id)) + "0000000"
		info["iconurl"] = p.avatar
		info["name"] = maskName(p.name)
		info["realname"] = maskName(p.name)
		info["uin"] = p.id
		info["unionid"] = p.unionID
	} else {
		wx["gender"] = p.sex
		wx["iconurl"] = p.avatar
		wx["name"] = p.name
		wx["uin"] = p.id
	}
	item := map[string]any{
		"contact_info": info, "contact_info_wx": wx, "corpinfo": tpl.CorpInfo,
		"flag": 0, "item_type": 1, "name": "", "openid": openID(p.id), "relation": 1, "search_status": 1,
		"wx_ticket": strings.ToUpper(derive("", 64, "ticket", p.id)),
	}
	return map[string]any{
		"contact_info": info, "corpinfo": tpl.CorpInfo, "datalist": []any{item},
		"error_code": 0, "error_message": "", "flag": 0, "keyword": keyword, "name": "",
		"relation": 1, "search_status": 1,
	}, nil
}

// maskName hides all but the last character of a WeCom user's name, as
// WeCom's search does: "**雨".
func maskName(name string) string {
	r := []rune(name)
	if len(r) < 2 {
		return name
	}
	return strings.Repeat("*", min(len(r)-1, 2)) + string(r[len(r)-1])
}

// contactSearch finds a person by mobile number.
func (s *Sim) contactSearch(r *request) (any, error) {
	if _, err := s.account(r, online); err != nil {
		return nil, err
	}
	keyword, err := r.f.need("keyword")
	if err != nil {
		return nil, err
	}
	phone := digitsOnly(keyword)
	if phone == "" {
		return nil, fail(CodeBadRequest, "keyword must be a mobile number")
	}
	for _, p := range s.st.people {
		if p.mobile == phone {
			return s.searchResult(p, keyword)
		}
	}
	return nil, fail(CodeNotFound, "no WeChat or WeCom user has the mobile number %s", keyword)
}

// contactSearchAdd sends a friend request to a searched person; the
// simulated person accepts at once (notify_type_contact_add).
func (s *Sim) contactSearchAdd(r *request) (any, error) {
	a, id, err := s.accountField(r, online, "contactUserId")
	if err != nil {
		return nil, err
	}
	openid, err := r.f.need("openid")
	if err != nil {
		return nil, err
	}
	p := s.st.people[id]
	switch {
	case p == nil || p.mobile == "":
		return nil, fail(CodeNotFound, "contactUserId %s was not found by /contact/search", id)
	case openid != openID(id):
		return nil, fail(CodeFailed, "openid does not belong to %s; use the one /contact/search answered", id)
	case id == a.wxid:
		return nil, fail(CodeFailed, "an account cannot add itself")
	}
	if a.activeContact(id) == nil {
		s.befriend(a, id, r.now)
	}
	return nil, nil
}

// relation is what /contact/relation answers for contact c of a.
func (s *Sim) relation(a *account, c *contact) map[string]any {
	return map[string]any{
		"ContactUserId":  c.id,
		"ExternalUserId": externalUserID(a.corp, c.id),
		"CorpId":         openCorpID(a.corp),
		"CorpIdOrigin":   a.corp,
		"UnionId":        s.st.profile(c.id).unionID,
		"AddWay":         0,
		"State":          nil,
		"CreateTime":     vendorTime(c.added),
		"AddWayDesc":     "未知来源",
	}
}

// byExternalID finds a's contact whose external id is ext; saved limits
// the search to ids in the vendor's database.
func byExternalID(a *account, ext string, saved bool) *contact {
	for _, id := range a.contactOrder {
		c := a.contacts[id]
		if externalUserID(a.corp, id) == ext && (c.relationSaved || !saved) {
			return c
		}
	}
	return nil
}

// toExternalUserID converts a contact's user id to its external id, asking
// WeCom (the account must be online).
func (s *Sim) toExternalUserID(r *request) (any, error) {
	a, c, err := s.accountContact(r, online, "ContactUserId", false)
	if err != nil {
		return nil, err
	}
	c.relationSaved = true
	return map[string]any{"ExternalUserId": externalUserID(a.corp, c.id)}, nil
}

// toExternalUserIDFromDb answers the stored external id, "" when none.
func (s *Sim) toExternalUserIDFromDB(r *request) (any, error) {
	a, id, err := s.accountField(r, known, "ContactUserId")
	if err != nil {
		return nil, err
	}
	ext := ""
	if c := a.contacts[id]; c != nil && c.relationSaved {
		ext = externalUserID(a.corp, id)
	}
	return map[string]any{"ExternalUserId": ext}, nil
}

func (s *Sim) toContactUserID(r *request) (any, error) {
	a, ext, err := s.accountField(r, online, "ExternalUserId")
	if err != nil {
		return nil, err
	}
	c := byExternalID(a, ext, false)
	if c == nil {
		return nil, fail(CodeNotFound, "ExternalUserId %s is not a contact of %s", ext, a.wxid)
	}
	c.relationSaved = true
	return map[string]any{"ContactUserId": c.id}, nil
}

func (s *Sim) toContactUserIDFromDB(r *request) (any, error) {
	a, ext, err := s.accountField(r, known, "ExternalUserId")
	if err != nil {
		return nil, err
	}
	id := ""
	if c := byExternalID(a, ext, true); c != nil {
		id = c.id
	}
	return map[string]any{"ContactUserId": id}, nil
}

func (s *Sim) toExternalRoomID(r *request) (any, error) {
	a, id, err := s.accountField(r, online, "RoomId")
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(id, "R:") {
		id = "R:" + id
	}
	rm := s.st.rooms.get(id)
	if rm == nil || rm.member(a.wxid) == nil {
		return nil, fail(CodeNotFound, "RoomId %s is not a group %s is in", id, a.wxid)
	}
	return map[string]any{"ExternalRoomId": externalRoomID(a.corp, rm.id)}, nil
}

func (s *Sim) toRoomID(r *request) (any, error) {
	a, ext, err := s.accountField(r, online, "ExternalRoomId")
	if err != nil {
		return nil, err
	}
	for rm := range s.st.rooms.all() {
		if rm.member(a.wxid) != nil && externalRoomID(a.corp, rm.id) == ext {
			return map[string]any{"RoomId": rm.id}, nil
		}
	}
	return nil, fail(CodeNotFound, "ExternalRoomId %s is not a group %s is in", ext, a.wxid)
}

// contactRelation looks a contact up by its user id or its external id.
func (s *Sim) contactRelation(r *request) (any, error) {
	a, err := s.account(r, known)
	if err != nil {
		return nil, err
	}
	id, ext := strings.TrimSpace(r.f.str("ContactUserId")), strings.TrimSpace(r.f.str("ExternalUserId"))
	var c *contact
	switch {
	case id == "" && ext == "":
		return nil, fail(CodeBadRequest, "ContactUserId or ExternalUserId is required")
	case id != "":
		c = a.contacts[id]
		if c != nil && ext != "" && externalUserID(a.corp, id) != ext {
			return nil, fail(CodeFailed, "ContactUserId %s and ExternalUserId %s are different contacts", id, ext)
		}
	default:
		c = byExternalID(a, ext, false)
	}
	if c == nil {
		return nil, fail(CodeNotFound, "no contact of %s matches", a.wxid)
	}
	return s.relation(a, c), nil
}

func (s *Sim) contactRelationSync(r *request) (any, error) {
	a, c, err := s.accountContact(r, online, "ContactUserId", false)
	if err != nil {
		return nil, err
	}
	c.relationSaved = true
	out := s.relation(a, c)
	p := s.st.profile(c.id)
	out["Name"], out["Avatar"] = p.name, p.avatar
	return out, nil
}
