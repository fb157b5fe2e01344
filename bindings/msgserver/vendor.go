package msgserver

import "github.com/switchboard-dev/switchboard/bindings"

// vendorDoc is the registry's description of the vendor.
const vendorDoc = "msg-server, a WeCom chat-archive service (会话存档): archive sync, a staff member's " +
	"sessions, one session's messages and full-text search, under /api/v1 with an HMAC-SHA256 " +
	"signature over the sorted parameters. At most 100 requests per second; pages of at most 100. " +
	"It pushes nothing and sends nothing: archived messages arrive through the poller."

// Vendor returns the registry entry for msg-server: its endpoints and c as
// the client (nil for description-only use such as docs and typings). It
// has no Reply and no Normalize. Pass a nil interface, not a typed nil
// pointer, to leave the client out.
func Vendor(c bindings.Client) bindings.Vendor {
	eps := make([]bindings.Endpoint, len(Endpoints))
	copy(eps, Endpoints)
	return bindings.Vendor{
		Name:      Name,
		Doc:       vendorDoc,
		Endpoints: eps,
		Client:    c,
	}
}
