package jshost

import (
	"github.com/dop251/goja"

	"github.com/switchboard-dev/switchboard/runtime/event"
)

// The event's own fields, in SPEC §3 order. reply is a method: it can be
// read, replaced and deleted like a field but is not listed among the keys,
// so JSON.stringify(ev) and Object.keys(ev) show exactly the event's JSON.
const (
	fID = iota
	fType
	fVendor
	fAccount
	fTime
	fReceived
	fConversation
	fMessage
	fData
	fRaw
	fReply
	nFields
)

var fieldNames = [nFields]string{"id", "type", "vendor", "account", "time", "received",
	"conversation", "message", "data", "raw", "reply"}

func fieldIndex(key string) int {
	switch key {
	case "id":
		return fID
	case "type":
		return fType
	case "vendor":
		return fVendor
	case "account":
		return fAccount
	case "time":
		return fTime
	case "received":
		return fReceived
	case "conversation":
		return fConversation
	case "message":
		return fMessage
	case "data":
		return fData
	case "raw":
		return fRaw
	case "reply":
		return fReply
	}
	return -1
}

// evObject is the `ev` a handler receives: a goja dynamic object whose
// fields are built from the Event only when the plugin reads them (raw, the
// vendor's payload, is parsed on first access; reply is created on first
// access). The plugin may set, add and delete properties as on any object.
// Loop only.
type evObject struct {
	h     *host
	t     *task
	vals  [nFields]goja.Value
	built uint16 // bit i: vals[i] holds the field's value (built or set)
	gone  uint16 // bit i: the plugin deleted the field
	extra map[string]goja.Value
	order []string // keys of extra, in insertion order

	ownReply bool // the plugin assigned ev.reply
}

func (h *host) newEventObject(t *task) *goja.Object {
	return h.rt.NewDynamicObject(&evObject{h: h, t: t})
}

// present reports whether the event has field i at all (JSON omitempty).
func (o *evObject) present(i int) bool {
	if o.gone&(1<<i) != 0 {
		return false
	}
	if o.built&(1<<i) != 0 {
		return o.vals[i] != nil
	}
	ev := o.t.ev
	switch i {
	case fConversation:
		return ev.Conversation != nil
	case fMessage:
		return ev.Message != nil
	case fData:
		return len(ev.Data) > 0
	}
	return true
}

// Get implements goja.DynamicObject.
func (o *evObject) Get(key string) goja.Value {
	i := fieldIndex(key)
	if i < 0 {
		return o.extra[key]
	}
	if !o.present(i) {
		return nil
	}
	if o.built&(1<<i) == 0 {
		o.vals[i] = o.build(i)
		o.built |= 1 << i
	}
	return o.vals[i]
}

func (o *evObject) build(i int) goja.Value {
	h, ev, rt := o.h, o.t.ev, o.h.rt
	switch i {
	case fID:
		return rt.ToValue(ev.ID)
	case fType:
		return rt.ToValue(ev.Type)
	case fVendor:
		return rt.ToValue(ev.Vendor)
	case fAccount:
		return rt.ToValue(ev.Account)
	case fTime:
		return rt.ToValue(ev.Time)
	case fReceived:
		return rt.ToValue(ev.Received)
	case fConversation:
		c := rt.NewObject()
		_ = c.Set("id", ev.Conversation.ID)
		_ = c.Set("kind", ev.Conversation.Kind)
		return c
	case fMessage:
		return h.messageObject(ev.Message)
	case fData:
		return h.toJS(ev.Data, false)
	case fRaw:
		if len(ev.Raw) == 0 {
			return goja.Null()
		}
		v, err := h.parseJSON(ev.Raw)
		if err != nil {
			rethrowIfUncatchable(err)
			return rt.ToValue(string(ev.Raw))
		}
		return v
	case fReply:
		return h.replyFunc(o.t)
	}
	return goja.Undefined()
}

// messageObject builds ev.message with the JSON field set of event.Message
// (omitempty fields left out).
func (h *host) messageObject(m *event.Message) *goja.Object {
	rt := h.rt
	o := rt.NewObject()
	_ = o.Set("id", m.ID)
	_ = o.Set("kind", m.Kind)
	_ = o.Set("text", m.Text)
	if m.From != nil {
		from := rt.NewObject()
		_ = from.Set("id", m.From.ID)
		if m.From.Name != "" {
			_ = from.Set("name", m.From.Name)
		}
		_ = o.Set("from", from)
	}
	if m.To != "" {
		_ = o.Set("to", m.To)
	}
	_ = o.Set("self", m.Self)
	if len(m.Mentions) > 0 {
		_ = o.Set("mentions", h.toJS(m.Mentions, false))
	}
	if m.File != nil {
		f := rt.NewObject()
		if m.File.URL != "" {
			_ = f.Set("url", m.File.URL)
		}
		if m.File.Name != "" {
			_ = f.Set("name", m.File.Name)
		}
		if m.File.Size != 0 {
			_ = f.Set("size", m.File.Size)
		}
		_ = o.Set("file", f)
	}
	return o
}

// Set implements goja.DynamicObject.
func (o *evObject) Set(key string, val goja.Value) bool {
	i := fieldIndex(key)
	if i < 0 {
		if o.extra == nil {
			o.extra = map[string]goja.Value{}
		}
		if _, ok := o.extra[key]; !ok {
			o.order = append(o.order, key)
		}
		o.extra[key] = val
		return true
	}
	if val == nil {
		val = goja.Undefined()
	}
	o.vals[i] = val
	o.built |= 1 << i
	o.gone &^= 1 << i
	if i == fReply {
		o.ownReply = true
	}
	return true
}

// Has implements goja.DynamicObject.
func (o *evObject) Has(key string) bool {
	i := fieldIndex(key)
	if i < 0 {
		_, ok := o.extra[key]
		return ok
	}
	return o.present(i)
}

// Delete implements goja.DynamicObject.
func (o *evObject) Delete(key string) bool {
	i := fieldIndex(key)
	if i < 0 {
		if _, ok := o.extra[key]; ok {
			delete(o.extra, key)
			for j, k := range o.order {
				if k == key {
					o.order = append(o.order[:j], o.order[j+1:]...)
					break
				}
			}
		}
		return true
	}
	o.gone |= 1 << i
	o.built &^= 1 << i
	o.vals[i] = nil
	return true
}

// Keys implements goja.DynamicObject: the event's JSON fields in SPEC
// order, then the properties the plugin added.
func (o *evObject) Keys() []string {
	keys := make([]string, 0, nFields+len(o.order))
	for i := 0; i < fReply; i++ {
		if o.present(i) {
			keys = append(keys, fieldNames[i])
		}
	}
	// reply is listed only once the plugin assigned it a value of its own.
	if o.ownReply && o.present(fReply) {
		keys = append(keys, fieldNames[fReply])
	}
	return append(keys, o.order...)
}
