package sim

import (
	"fmt"
	"slices"
	"strings"
)

// AddLabel creates a company label named name in the company of account
// and answers its id. Labels live in one label group per company.
func (s *Sim) AddLabel(account, name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", fmt.Errorf("add label: %w: the name is required", ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.st.accounts.get(account)
	if a == nil {
		return "", fmt.Errorf("add label %q: %w: %q", name, ErrUnknownAccount, account)
	}
	cl := s.st.labels[a.corp]
	if cl == nil {
		cl = &corpLabels{groupID: randomDigits("14073", 12)}
		s.st.labels[a.corp] = cl
	}
	for _, l := range cl.list {
		if l.name == name {
			return "", fmt.Errorf("add label %q: %w in company %s", name, ErrExists, a.corp)
		}
	}
	l := &label{id: randomDigits("14073", 12), name: name, groupID: cl.groupID, created: s.now()}
	cl.list = append(cl.list, l)
	return l.id, nil
}

// labelByID finds a label of corp.
func (s *Sim) labelByID(corp, id string) *label {
	if cl := s.st.labels[corp]; cl != nil {
		for _, l := range cl.list {
			if l.id == id {
				return l
			}
		}
	}
	return nil
}

// labelAll lists the company's label group and labels.
func (s *Sim) labelAll(r *request) (any, error) {
	a, err := s.account(r, known)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	cl := s.st.labels[a.corp]
	if cl == nil {
		return out, nil
	}
	entry := func(id, name, group string, created int64) map[string]any {
		return map[string]any{"corpId": a.corp, "name": name, "labelId": id, "labelGroupId": group,
			"dataType": 0, "labelType": 1, "sortOrder": 0, "business": 0, "createTime": created}
	}
	var first int64
	if len(cl.list) > 0 {
		first = cl.list[0].created.Unix()
	}
	// A labelGroupId of "0" marks the group itself.
	out = append(out, entry(cl.groupID, "客户标签", "0", first))
	for _, l := range cl.list {
		out = append(out, entry(l.id, l.name, l.groupID, l.created.Unix()))
	}
	return out, nil
}

// labelSet replaces a contact's labels; an empty list clears them.
func (s *Sim) labelSet(r *request) (any, error) {
	a, c, err := s.accountContact(r, online, "contactUserId", false)
	if err != nil {
		return nil, err
	}
	if _, ok := r.f["labelids"]; !ok {
		return nil, fail(CodeBadRequest, "labelIds is required (a list; empty clears the contact's labels)")
	}
	ids, err := r.f.list("labelIds")
	if err != nil {
		return nil, err
	}
	var set []string
	for _, id := range ids {
		if s.labelByID(a.corp, id) == nil {
			return nil, fail(CodeNotFound, "labelId %s is not a label of company %s (see /label/all)", id, a.corp)
		}
		if !slices.Contains(set, id) {
			set = append(set, id)
		}
	}
	c.labels = set
	return nil, nil
}

// labelOfContact lists a contact's labels.
func (s *Sim) labelOfContact(r *request) (any, error) {
	a, c, err := s.accountContact(r, known, "contactUserId", true)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for _, id := range c.labels {
		if l := s.labelByID(a.corp, id); l != nil {
			out = append(out, map[string]any{"name": l.name, "label_id": l.id})
		}
	}
	return out, nil
}

// labelSearch pages through the contacts of the accounts wxids that carry
// any of labelIds.
func (s *Sim) labelSearch(r *request) (any, error) {
	wxids, err := r.f.needList("wxids")
	if err != nil {
		return nil, err
	}
	ids, err := r.f.needList("labelIds")
	if err != nil {
		return nil, err
	}
	page, _, err := r.f.integer("PageIndex")
	if err != nil {
		return nil, err
	}
	size, _, err := r.f.integer("PageSize")
	if err != nil {
		return nil, err
	}
	if page < 1 {
		page = 1
	}
	if size < 1 {
		size = 100
	}
	var hits []map[string]any
	for _, wxid := range wxids {
		a := s.st.accounts.get(wxid)
		if a == nil {
			return nil, fail(CodeNotFound, "wxids: %s is not a WeCom account of this server", wxid)
		}
		for _, cid := range a.contactOrder {
			c := a.contacts[cid]
			if !slices.ContainsFunc(c.labels, func(l string) bool { return slices.Contains(ids, l) }) {
				continue
			}
			item := s.contactJSON(a, c, true)
			delete(item, "external_user_id")
			mark := s.st.lastChat[chatKey(a.wxid, item["conversation_id"].(string))]
			var last int64
			if !mark.at.IsZero() {
				last = mark.at.UnixMilli()
			}
			item["wx_id"] = a.wxid
			item["desc"] = c.desc
			item["external_job"] = nil
			item["LastChatTimestamp"] = last
			item["LastChatMsg"] = mark.text
			item["NewMsgCount"] = 0
			item["WarnMsg"] = map[string]any{}
			hits = append(hits, item)
		}
	}
	out := []map[string]any{}
	if from := (page - 1) * size; from < int64(len(hits)) {
		out = hits[from:min(from+size, int64(len(hits)))]
	}
	return out, nil
}

// labelContacts lists an account's contacts carrying a label.
func (s *Sim) labelContacts(r *request) (any, error) {
	a, id, err := s.accountField(r, known, "labelId")
	if err != nil {
		return nil, err
	}
	if s.labelByID(a.corp, id) == nil {
		return nil, fail(CodeNotFound, "labelId %s is not a label of company %s", id, a.corp)
	}
	out := []map[string]any{}
	for _, cid := range a.contactOrder {
		if c := a.contacts[cid]; slices.Contains(c.labels, id) {
			item := s.contactJSON(a, c, true)
			delete(item, "is_delete")
			delete(item, "delete_time")
			out = append(out, item)
		}
	}
	return out, nil
}
