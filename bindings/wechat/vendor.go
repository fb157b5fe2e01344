package wechat

import (
	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/runtime/event"
)

// Name is the vendor's name in the registry, in events and in
// /callback/{vendor}.
const Name = event.VendorWechat

// vendorDoc is the registry's description of the vendor.
const vendorDoc = "WeChat protocol SaaS API: instance (guid) based WeChat accounts, JSON POSTs answered " +
	"with {code, message, data}; 130 endpoints in 13 modules, those without a documented path reachable " +
	"through wechat.call(path, body). More than 100 calls in a minute blocks the instance for 30 minutes."

// Vendor returns the registry entry for WeChat: its endpoints, c as the
// client, Reply and Normalize. A nil c leaves the client out, for
// description-only use such as docs and typings.
func Vendor(c *Client) bindings.Vendor {
	eps := make([]bindings.Endpoint, len(Endpoints))
	copy(eps, Endpoints)
	v := bindings.Vendor{
		Name:      Name,
		Doc:       vendorDoc,
		Endpoints: eps,
		Reply:     Reply,
		Normalize: Normalize,
	}
	if c != nil {
		v.Client = c
	}
	return v
}
