//go:build wasip1

// Command gonoop is the benchmark floor of a Go guest: it reads the event
// and returns.
package main

import "github.com/switchboard-dev/switchboard/pdk"

//go:wasmexport handle
func handle() int32 {
	return pdk.Run(func(*pdk.Event) ([]pdk.Action, error) { return nil, nil })
}

func main() {}
