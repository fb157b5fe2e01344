package quntool

import "github.com/switchboard-dev/switchboard/bindings"

// vendorDoc is the registry's description of the vendor.
const vendorDoc = "Quntool (聚合聊天) openAPI: container-based WeCom accounts, JSON over " +
	"GET/POST/PUT/DELETE under /gnapi/open with an apikey header. Sends are paced at " +
	"one per 500 ms per account and 50,000 per hour per company; -1000999 is the " +
	"vendor's own frequency limit."

// Vendor returns the registry entry for Quntool: its endpoints, c as the
// client (nil for description-only use such as docs and typings), Reply and
// Normalize. Pass a nil interface, not a typed nil pointer, to leave the
// client out.
func Vendor(c bindings.Client) bindings.Vendor {
	eps := make([]bindings.Endpoint, len(Endpoints))
	copy(eps, Endpoints)
	return bindings.Vendor{
		Name:      Name,
		Doc:       vendorDoc,
		Endpoints: eps,
		Client:    c,
		Reply:     Reply,
		Normalize: Normalize,
	}
}
