package wework

import "github.com/switchboard-dev/switchboard/bindings"

// vendorDoc is the registry's description of the vendor.
const vendorDoc = "WeCom protocol API: instances named by a guid, JSON requests carrying the guid, " +
	"{error_code, error_message, data} answers, callbacks {guid, notify_type, data}. Conversation ids " +
	"must start with \"S:\" (private) or \"R:\" (group): -2003 otherwise; -4017 is a contact without " +
	"external-contact permission. The vendor documents no send limit: sends are paced at one per 500 ms " +
	"per instance."

// Vendor returns the registry entry for the vendor: its endpoints, c as
// the client (nil for description-only use such as docs and typings),
// Reply and Normalize.
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
