package wechat_test

import (
	"testing"

	"github.com/switchboard-dev/switchboard/bindings/wechat"
	"github.com/switchboard-dev/switchboard/runtime/event"
	"github.com/switchboard-dev/switchboard/runtime/event/eventtest"
)

// FuzzNormalize fuzzes Normalize from the golden callback bodies (see
// eventtest.FuzzNormalizer for what it checks).
func FuzzNormalize(f *testing.F) {
	eventtest.FuzzNormalizer(f, event.VendorWechat, wechat.Normalize)
}
