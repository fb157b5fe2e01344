package sim

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"time"
)

// state is everything the simulator remembers. It is guarded by Sim.mu and
// replaced whole by Reset.
type state struct {
	instances  map[string]*instance
	order      []string // guids in creation order
	violations int
	seq        int64 // message seq, shared by every instance
	msgID      int64
}

func newState() *state {
	return &state{instances: map[string]*instance{}, seq: 14303400, msgID: 1000100}
}

// instance is one emulated WeCom client.
type instance struct {
	guid       string
	status     int
	user       *User
	notifyURL  string
	bridge     string
	clientType int
	contacts   map[string]*Contact
	rooms      map[string]*Room
	sessions   []session
	sessionSeq int64
	lastSend   time.Time
	login      *qrLogin
}

// session is one entry of the session list; seq orders the pages.
type session struct {
	id  string
	seq int64
}

// qrLogin is a login in progress: the QR code on show and, after a scan
// that needs one, the verification code.
type qrLogin struct {
	key, content string
	issued       time.Time
	status       int
	pending      *User // the account that scanned, waiting for its code
	code         string
	attempts     int
}

func newInstance(guid string) *instance {
	return &instance{guid: guid, status: StatusRunning, clientType: DefaultClientType,
		contacts: map[string]*Contact{}, rooms: map[string]*Room{}, sessionSeq: 1000000}
}

// addSession puts a conversation on the session list once.
func (in *instance) addSession(id string) {
	for _, s := range in.sessions {
		if s.id == id {
			return
		}
	}
	in.sessionSeq++
	in.sessions = append(in.sessions, session{id: id, seq: in.sessionSeq})
}

// public is the instance as Instance reports it.
func (in *instance) public() Instance {
	out := Instance{GUID: in.guid, Status: in.status, Stopped: in.status == StatusStopped,
		NotifyURL: in.notifyURL, Bridge: in.bridge, ClientType: in.clientType}
	if in.user != nil {
		u := *in.user
		out.User = &u
	}
	for _, id := range sortedKeys(in.contacts) {
		out.Contacts = append(out.Contacts, *in.contacts[id])
	}
	for _, id := range sortedKeys(in.rooms) {
		r := *in.rooms[id]
		r.Admins = slices.Clone(r.Admins)
		r.Members = slices.Clone(r.Members)
		out.Rooms = append(out.Rooms, r)
	}
	for _, s := range in.sessions {
		out.Sessions = append(out.Sessions, s.id)
	}
	if in.login != nil {
		out.QRCodeKey, out.QRStatus = in.login.key, in.login.status
	}
	return out
}

// member reports whether id is in room r (the instance's user always is).
func (in *instance) member(r *Room, id string) bool {
	return (in.user != nil && id == in.user.UserID) || id == r.Owner || slices.Contains(r.Members, id) ||
		slices.Contains(r.Admins, id)
}

// name is what the instance knows of a person's name.
func (in *instance) name(id string) string {
	if c := in.contacts[id]; c != nil && c.Name != "" {
		return c.Name
	}
	if in.user != nil && id == in.user.UserID {
		return in.user.Name
	}
	return id
}

func (st *state) get(guid string) *instance { return st.instances[strings.TrimSpace(guid)] }

func (st *state) remove(guid string) {
	delete(st.instances, guid)
	st.order = slices.DeleteFunc(st.order, func(g string) bool { return g == guid })
}

func (st *state) nextSeq() string {
	st.seq++
	return strconv.FormatInt(st.seq, 10)
}

func (st *state) nextMsgID() string {
	st.msgID++
	return strconv.FormatInt(st.msgID, 10)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return b
}

// newGUID is a random UUID, the form of the vendor's guids.
func newGUID() string {
	b := randomBytes(16)
	b[6] = b[6]&0x0f | 0x30 // the vendor's guids are name-based (version 3)
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// digits is n random decimal digits after prefix.
func digits(prefix string, n int) string {
	b := []byte(prefix)
	for _, r := range randomBytes(n) {
		b = append(b, '0'+r%10)
	}
	return string(b)
}
