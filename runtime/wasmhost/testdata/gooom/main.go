//go:build wasip1

// Command gooom is a hostile Go guest: every event allocates until the Go
// runtime runs out of memory.
package main

import "github.com/switchboard-dev/switchboard/pdk"

var hoard [][]byte

//go:wasmexport handle
func handle() int32 {
	return pdk.Run(func(*pdk.Event) ([]pdk.Action, error) {
		for {
			b := make([]byte, 1<<20)
			for i := range b {
				b[i] = byte(i)
			}
			hoard = append(hoard, b)
		}
	})
}

func main() {}
