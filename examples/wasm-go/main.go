//go:build wasip1

// Command wasm-go is the echo plugin as a Go WASM plugin: it answers
// "ping" with "pong" and echoes any other text back, in the conversation
// the message came from, and counts its replies in the KV store. The same
// logic as scripts/echo.js.
//
// Build:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o echo.wasm .
//
// Install as plugins/echo.wasm with echo.json beside it (see manifest.json
// here: it subscribes to message.text and asks for kv and the reply
// endpoints).
package main

import (
	"strings"

	"github.com/switchboard-dev/switchboard/pdk"
)

//go:wasmexport handle
func handle() int32 { return pdk.Run(onEvent) }

func onEvent(ev *pdk.Event) ([]pdk.Action, error) {
	m := ev.Message
	if ev.Type != "message" || m == nil || m.Kind != "text" || m.Self {
		return nil, nil // only text from others
	}
	text := strings.TrimSpace(m.Text)
	reply := "pong"
	if text != "ping" {
		prefix, ok := pdk.Config("prefix")
		if !ok || prefix == "" {
			prefix = "echo: "
		}
		reply = prefix + text
	}
	if err := pdk.Reply(reply); err != nil {
		return nil, err
	}
	n, err := pdk.Incr("replies", 1) // per-plugin counter, kept across reloads and restarts
	if err != nil {
		return nil, err
	}
	conv := ""
	if ev.Conversation != nil {
		conv = ev.Conversation.ID
	}
	pdk.LogKV("info", "replied", "n", n, "conversation", conv, "reply", reply)
	return nil, nil
}

func main() {}
