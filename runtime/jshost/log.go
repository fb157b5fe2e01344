package jshost

import (
	"encoding/json"
	"math"

	"github.com/dop251/goja"
	"github.com/hashicorp/go-hclog"
)

// logObject is the `log` global: log.debug/info/warn/error(msg, fields)
// write msg to the plugin's log with the fields of the object as key/value
// pairs, plus the event id inside an event's handler.
func (h *host) logObject() *goja.Object {
	o := h.rt.NewObject()
	for _, l := range []struct {
		name  string
		level hclog.Level
	}{{"trace", hclog.Trace}, {"debug", hclog.Debug}, {"info", hclog.Info}, {"warn", hclog.Warn}, {"error", hclog.Error}} {
		level := l.level
		_ = o.Set(l.name, func(call goja.FunctionCall) goja.Value {
			if !h.logs(level) {
				return goja.Undefined()
			}
			msg := call.Argument(0)
			text := ""
			if isString(msg) {
				text = msg.String()
			} else {
				text = h.inspect(msg)
			}
			h.emit(level, text, call.Argument(1))
			return goja.Undefined()
		})
	}
	return o
}

// consoleObject is the `console` global: its methods format their
// arguments like Node's and write to the plugin's log.
func (h *host) consoleObject() *goja.Object {
	o := h.rt.NewObject()
	for _, l := range []struct {
		name  string
		level hclog.Level
	}{{"log", hclog.Info}, {"info", hclog.Info}, {"warn", hclog.Warn}, {"error", hclog.Error},
		{"debug", hclog.Debug}, {"trace", hclog.Trace}} {
		level := l.level
		_ = o.Set(l.name, func(call goja.FunctionCall) goja.Value {
			if h.logs(level) {
				h.emit(level, h.format(call.Arguments), nil)
			}
			return goja.Undefined()
		})
	}
	return o
}

func (h *host) logs(level hclog.Level) bool {
	l := h.log.GetLevel()
	return l != hclog.Off && level >= l
}

// emit writes one log line. fields, if an object, gives key/value pairs.
// Loop only.
func (h *host) emit(level hclog.Level, msg string, fields goja.Value) {
	var args []any
	if id := h.loop.current().eventID(); id != "" {
		args = append(args, "event", id)
	}
	if o, ok := fields.(*goja.Object); ok {
		for _, k := range o.Keys() {
			args = append(args, k, h.fieldValue(o.Get(k)))
		}
	} else if fields != nil && !goja.IsUndefined(fields) && !goja.IsNull(fields) {
		args = append(args, "fields", h.fieldValue(fields))
	}
	h.log.Log(level, msg, args...)
}

// fieldValue turns a field into a log value: primitives as themselves,
// objects and arrays as their JSON (written as JSON by the JSON log format).
func (h *host) fieldValue(v goja.Value) any {
	switch {
	case v == nil || goja.IsUndefined(v):
		return "undefined"
	case goja.IsNull(v):
		return nil
	}
	if _, isObj := v.(*goja.Object); !isObj {
		switch x := v.Export().(type) {
		case string, bool, int64:
			return x
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return h.inspect(v)
			}
			return x
		}
		return h.inspect(v)
	}
	if msg, _, isErr := h.describeValue(v); isErr {
		return msg // an Error: its "Name: message"
	}
	if s, err := h.stringify(v); err == nil && s != "" && (s[0] == '{' || s[0] == '[') {
		return jsonField(s)
	}
	return h.inspect(v)
}

// jsonField is a field value that is already JSON: text logs show it as
// is, JSON logs embed it rather than quoting it.
type jsonField string

// String implements fmt.Stringer.
func (f jsonField) String() string { return string(f) }

// MarshalJSON implements json.Marshaler.
func (f jsonField) MarshalJSON() ([]byte, error) {
	if !json.Valid([]byte(f)) {
		return json.Marshal(string(f))
	}
	return []byte(f), nil
}
