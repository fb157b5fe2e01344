//go:build wasip1

// Command gopanic is a hostile Go guest: every event panics.
package main

import "github.com/switchboard-dev/switchboard/pdk"

//go:wasmexport handle
func handle() int32 {
	return pdk.Run(func(ev *pdk.Event) ([]pdk.Action, error) {
		panic("boom: event " + ev.ID)
	})
}

func main() {}
