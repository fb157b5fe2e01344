//go:build wasip1

// Command abi exercises every host function and action of the ABI; the
// event's text picks the scenario and the guest reports what it saw in a
// log line "result" whose fields the test checks.
package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/pdk"
)

//go:wasmexport handle
func handle() int32 { return pdk.Run(onEvent) }

// errCode is the code of an *pdk.ErrorInfo, or the error text.
func errCode(err error) any {
	var e *pdk.ErrorInfo
	if errors.As(err, &e) {
		return e.Code
	}
	if err == nil {
		return nil
	}
	return err.Error()
}

// events counts the events this instance handled.
var events int

func onEvent(ev *pdk.Event) ([]pdk.Action, error) {
	events++
	r := map[string]any{"topic": ev.Topic(), "from": ev.Message.From.Name, "events": events}
	switch ev.Message.Text {
	case "count":
	case "panic":
		panic("asked to panic")
	case "kv":
		r["set"] = errCode(pdk.Set("a", map[string]any{"x": 1, "s": "é\"\n"}, 0))
		var got map[string]any
		r["get"] = errCode(pdk.Get("a", &got))
		r["got_s"] = got["s"]
		r["ttl"] = errCode(pdk.Set("t", "v", 90*time.Second))
		items, cursor, err := pdk.List("", 10, "")
		keys := []string{}
		for _, it := range items {
			keys = append(keys, it.Key)
		}
		r["list"], r["cursor"], r["list_err"] = strings.Join(keys, ","), cursor, errCode(err)
		r["delete"] = errCode(pdk.Delete("a"))
		r["after_delete"] = errCode(pdk.Get("a", &got))
		n, err := pdk.Incr("n", 5)
		r["incr"], r["incr_err"] = n, errCode(err)
		_, err = pdk.Incr("t", 1)
		r["incr_not_number"] = errCode(err)
		r["bad_key"] = errCode(pdk.Set("", 1, 0))
	case "call":
		data, err := pdk.Call("quntool", "msg.text", map[string]any{"wxId": "wxid_bot", "conversationId": "S:wxid_bob", "content": "hi"})
		r["data"], r["err"] = string(data), errCode(err)
		_, err = pdk.Call("quntool", "contact.list", nil)
		r["ungranted"] = errCode(err)
		_, err = pdk.Call("quntool", "msg.text", map[string]any{"wxId": "wxid_bot"})
		r["missing_arg"] = errCode(err)
		_, err = pdk.Call("", "msg.text", nil)
		r["no_binding"] = errCode(err)
	case "reply-image":
		r["err"] = errCode(pdk.ReplyWith(map[string]any{"image": "https://example.com/a.png"}))
		r["bad"] = errCode(pdk.ReplyWith(map[string]any{"nonsense": 1}))
	case "config":
		g, ok := pdk.Config("greeting")
		n, _ := pdk.Config("n")
		_, missing := pdk.Config("missing")
		r["greeting"], r["ok"], r["n"], r["missing"] = g, ok, n, missing
	case "actions":
		set := pdk.KVRequest{Key: "k", Value: []byte(`{"v":1}`), TTL: []byte(`"1h"`)}
		return []pdk.Action{
			pdk.ReplyText("first"),
			{KVSet: &set},
			{KVIncr: &pdk.KVRequest{Key: "c"}},
			{Call: &pdk.CallRequest{Binding: "quntool", Method: "msg.text",
				Args: map[string]any{"wxId": "wxid_bot", "conversationId": "S:wxid_bob", "content": "second"}}},
			{Log: &pdk.LogRecord{Level: "warn", Msg: "from an action", Fields: map[string]any{"k": "v"}}},
			{KVDelete: &pdk.KVRequest{Key: "gone"}},
		}, nil
	case "bad-action":
		return []pdk.Action{{Call: &pdk.CallRequest{Binding: "quntool", Method: "contact.list"}}}, nil
	case "fail":
		return nil, fmt.Errorf("refusing event %s", ev.ID)
	default:
		return nil, fmt.Errorf("unknown scenario %q", ev.Message.Text)
	}
	pdk.Log("info", "result", r)
	return nil, nil
}

func main() {}
