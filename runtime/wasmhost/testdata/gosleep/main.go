//go:build wasip1

// Command gosleep is a hostile Go guest: every event sleeps for an hour.
package main

import (
	"time"

	"github.com/switchboard-dev/switchboard/pdk"
)

//go:wasmexport handle
func handle() int32 {
	return pdk.Run(func(*pdk.Event) ([]pdk.Action, error) {
		time.Sleep(time.Hour)
		return nil, nil
	})
}

func main() {}
