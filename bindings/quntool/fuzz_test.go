package quntool_test

import (
	"testing"

	"github.com/switchboard-dev/switchboard/bindings/quntool"
	"github.com/switchboard-dev/switchboard/runtime/event"
	"github.com/switchboard-dev/switchboard/runtime/event/eventtest"
)

// FuzzNormalize fuzzes Normalize from the golden callback bodies (see
// eventtest.FuzzNormalizer for what it checks).
func FuzzNormalize(f *testing.F) {
	eventtest.FuzzNormalizer(f, event.VendorQuntool, quntool.Normalize)
}
