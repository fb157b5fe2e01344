// Package poll is the msg-server archive poller (SPEC §4): msg-server
// pushes nothing, so the poller asks it, per configured corp and staff
// member, for what was archived since it last looked, and appends each new
// message to the event journal as a "message" event of vendor msgserver.
//
// One round: for each target corp, optionally trigger the vendor's sync;
// for each of its staff members, list the sessions of every type, and for
// each session whose latest message is newer than the staff member's
// cursor, read its messages newest first down to the cursor; normalize
// them, append them oldest first, and move the cursor after each append
// that succeeded. The cursor is the archive's seq, which the vendor
// assigns in the order messages are archived. A round only takes messages
// up to the highest seq its session listing saw, so a message archived
// while the round runs is left whole for the next round rather than
// half-seen. A crash between an append and the cursor's move appends the
// same events again on restart; the journal drops them by event id.
//
// Lifecycle: New validates Options; Run polls until its context ends; Poll
// runs one round (tests, an admin "poll now"). A Poller is safe for
// concurrent use, but rounds of one Poller are meant to run one at a time.
package poll

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/bindings/msgserver"
	"github.com/switchboard-dev/switchboard/runtime/event"
)

// Defaults for Options.
const (
	DefaultInterval   = 10 * time.Second
	DefaultBackoff    = time.Second
	DefaultMaxBackoff = time.Minute
	DefaultPageSize   = msgserver.MaxPageSize
	DefaultBatchSize  = 256
	// DefaultRequestsPerSecond leaves most of the vendor's 100 requests
	// per second to plugins.
	DefaultRequestsPerSecond = 20
	// requestAttempts is how many times a request that fails transiently
	// (other than by throttling) is sent before the round gives up on it.
	requestAttempts = 3
	// listingAttempts is how many times a staff member's sessions are
	// listed before a listing that changed under the poller is an error.
	listingAttempts = 3
	// maxPages bounds the pages read from one listing.
	maxPages = 10000
)

// Errors callers act on.
var (
	// ErrOptions: New was given unusable options.
	ErrOptions = errors.New("invalid poller options")
	// ErrInconsistent: the session listing kept changing while it was
	// paged (sessions moving between pages), so it could not be trusted to
	// be complete. Transient: the next round tries again.
	ErrInconsistent = errors.New("session listing changed while paging")
)

// Appender stores events durably, deduplicated by Event.ID, and reports
// which were new. runtime/journal's Journal is one.
type Appender interface {
	Append(ctx context.Context, evs []*event.Event) ([]bool, error)
}

// Target is a corp and the staff members whose archives are polled.
type Target struct {
	CorpID string
	Staff  []string
}

// Options configures a Poller.
type Options struct {
	// Client talks to msg-server. Required.
	Client *msgserver.Client
	// Targets are the corps and staff members to poll. At least one.
	Targets []Target
	// Interval is the pause between rounds (DefaultInterval when zero).
	Interval time.Duration
	// Sync triggers the vendor's archive sync of each corp before its
	// staff members are polled.
	Sync bool
	// Appender receives the events. Required.
	Appender Appender
	// Cursor keeps how far each staff member's archive was read.
	// Required; use NewKVCursors for one that survives restarts.
	Cursor CursorStore
	// Logger receives the poller's log (silent when nil).
	Logger hclog.Logger
	// Backoff is the pause before the first retry of a round that failed
	// transiently (vendor unreachable, failing or throttling, journal
	// error), doubled for each further failure up to MaxBackoff
	// (DefaultBackoff, DefaultMaxBackoff when zero).
	Backoff, MaxBackoff time.Duration
	// PageSize is the page size of every query, 1 to 100
	// (DefaultPageSize when zero).
	PageSize int
	// BatchSize is how many events go to one Append (DefaultBatchSize
	// when zero).
	BatchSize int
	// RequestsPerSecond paces the poller's own requests
	// (DefaultRequestsPerSecond when zero; negative: unpaced).
	RequestsPerSecond int
}

// Stats count what a Poller did since New.
type Stats struct {
	Rounds     int64 // rounds completed, with or without errors
	Requests   int64 // vendor requests sent
	Appended   int64 // events the Appender took as new
	Duplicates int64 // events it already had
	Failures   int64 // syncs and staff polls that failed
	Retries    int64 // requests sent again and rounds started early after transient failures
}

// TargetError is the failure of one sync (Staff empty) or one staff
// member's poll.
type TargetError struct {
	Corp, Staff string
	Err         error
}

func (e *TargetError) Error() string {
	if e.Staff == "" {
		return fmt.Sprintf("msgserver poll: sync %s: %v", e.Corp, e.Err)
	}
	return fmt.Sprintf("msgserver poll: %s/%s: %v", e.Corp, e.Staff, e.Err)
}

func (e *TargetError) Unwrap() error { return e.Err }

// Transient reports whether trying again later may succeed: everything
// but the vendor's refusals (bad signature, unknown corp or staff, bad
// arguments).
func (e *TargetError) Transient() bool { return !permanent(e.Err) }

func permanent(err error) bool {
	var ve *bindings.VendorError
	var ae *bindings.ArgumentError
	return (errors.As(err, &ve) && !msgserver.Retryable(err)) || errors.As(err, &ae)
}

// Poller polls msg-server archives into an Appender. Build it with New.
type Poller struct {
	o   Options
	log hclog.Logger

	mu    sync.Mutex
	stats Stats
	next  time.Time // earliest time of the next request
}

// New validates o and returns a Poller.
func New(o Options) (*Poller, error) {
	switch {
	case o.Client == nil:
		return nil, fmt.Errorf("%w: no client", ErrOptions)
	case o.Appender == nil:
		return nil, fmt.Errorf("%w: no appender", ErrOptions)
	case o.Cursor == nil:
		return nil, fmt.Errorf("%w: no cursor store", ErrOptions)
	case len(o.Targets) == 0:
		return nil, fmt.Errorf("%w: no targets", ErrOptions)
	case o.PageSize < 0 || o.PageSize > msgserver.MaxPageSize:
		return nil, fmt.Errorf("%w: page size %d is not within 1..%d", ErrOptions, o.PageSize, msgserver.MaxPageSize)
	case o.Interval < 0 || o.Backoff < 0 || o.MaxBackoff < 0 || o.BatchSize < 0:
		return nil, fmt.Errorf("%w: negative interval, backoff or batch size", ErrOptions)
	}
	seen := map[string]bool{}
	targets := make([]Target, 0, len(o.Targets))
	for i, t := range o.Targets {
		if t.CorpID == "" {
			return nil, fmt.Errorf("%w: target %d has no corp id", ErrOptions, i)
		}
		if len(t.Staff) == 0 {
			return nil, fmt.Errorf("%w: target %s lists no staff", ErrOptions, t.CorpID)
		}
		for _, s := range t.Staff {
			key := t.CorpID + "\x00" + s
			if s == "" || seen[key] {
				return nil, fmt.Errorf("%w: target %s: staff id %q empty or listed twice", ErrOptions, t.CorpID, s)
			}
			seen[key] = true
		}
		targets = append(targets, Target{CorpID: t.CorpID, Staff: slices.Clone(t.Staff)})
	}
	o.Targets = targets
	o.Interval = cmp.Or(o.Interval, DefaultInterval)
	o.Backoff = cmp.Or(o.Backoff, DefaultBackoff)
	o.MaxBackoff = max(cmp.Or(o.MaxBackoff, DefaultMaxBackoff), o.Backoff)
	o.PageSize = cmp.Or(o.PageSize, DefaultPageSize)
	o.BatchSize = cmp.Or(o.BatchSize, DefaultBatchSize)
	o.RequestsPerSecond = cmp.Or(o.RequestsPerSecond, DefaultRequestsPerSecond)
	log := o.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Poller{o: o, log: log}, nil
}

// Stats returns the counters so far.
func (p *Poller) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

func (p *Poller) count(f func(s *Stats)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(&p.stats)
}

// Run polls until ctx ends, then returns nil. Rounds are Interval apart;
// after a round with a transient failure the next comes after Backoff,
// doubling up to MaxBackoff while failures go on. Failures are logged,
// never fatal: a refused target (bad signature, unknown staff) is tried
// again every Interval, in case the configuration or the vendor changes.
func (p *Poller) Run(ctx context.Context) error {
	var backoff time.Duration
	for {
		err := p.Poll(ctx)
		if ctx.Err() != nil {
			return nil
		}
		wait := p.o.Interval
		switch {
		case err == nil:
			backoff = 0
		case transient(err):
			backoff = min(max(2*backoff, p.o.Backoff), p.o.MaxBackoff)
			wait = backoff
			p.count(func(s *Stats) { s.Retries++ })
			p.log.Warn("poll failed; retrying", "in", backoff, "error", err)
		default:
			backoff = 0
			p.log.Error("poll refused", "error", err)
		}
		if sleep(ctx, wait) != nil {
			return nil
		}
	}
}

// transient reports whether any of a round's failures may pass.
func transient(err error) bool {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			if transient(e) {
				return true
			}
		}
		return false
	}
	var te *TargetError
	if errors.As(err, &te) {
		return te.Transient()
	}
	return !permanent(err)
}

// Poll runs one round over every target. It answers the failures, each a
// *TargetError, joined; a target that fails does not stop the others.
func (p *Poller) Poll(ctx context.Context) error {
	var errs []error
	for _, t := range p.o.Targets {
		if ctx.Err() != nil {
			break
		}
		if p.o.Sync {
			if err := p.sync(ctx, t.CorpID); err != nil {
				errs = append(errs, &TargetError{Corp: t.CorpID, Err: err})
			}
		}
		for _, staff := range t.Staff {
			if ctx.Err() != nil {
				break
			}
			if err := p.pollStaff(ctx, t.CorpID, staff); err != nil {
				errs = append(errs, &TargetError{Corp: t.CorpID, Staff: staff, Err: err})
			}
		}
	}
	p.count(func(s *Stats) {
		s.Rounds++
		s.Failures += int64(len(errs))
	})
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// call sends one request, paced. A request the vendor throttles is sent
// again after a backoff for as long as ctx allows; one that fails
// otherwise transiently, up to requestAttempts times in all.
func (p *Poller) call(ctx context.Context, method string, args map[string]any) (json.RawMessage, error) {
	var backoff time.Duration
	for attempt := 1; ; attempt++ {
		if err := p.pace(ctx); err != nil {
			return nil, err
		}
		p.count(func(s *Stats) { s.Requests++ })
		data, err := p.o.Client.Call(ctx, method, args)
		if err == nil || !msgserver.Retryable(err) || ctx.Err() != nil {
			return data, err
		}
		if !errors.Is(err, bindings.ErrVendorThrottled) && attempt >= requestAttempts {
			return nil, err
		}
		backoff = min(max(2*backoff, p.o.Backoff), p.o.MaxBackoff)
		p.count(func(s *Stats) { s.Retries++ })
		p.log.Debug("request failed; retrying", "method", method, "in", backoff, "error", err)
		if err := sleep(ctx, backoff); err != nil {
			return nil, err
		}
	}
}

// pace waits for the poller's next request slot.
func (p *Poller) pace(ctx context.Context) error {
	if p.o.RequestsPerSecond < 0 {
		return ctx.Err()
	}
	gap := time.Second / time.Duration(p.o.RequestsPerSecond)
	p.mu.Lock()
	now := time.Now()
	at := p.next
	if at.Before(now) {
		at = now
	}
	p.next = at.Add(gap)
	p.mu.Unlock()
	return sleep(ctx, time.Until(at))
}

// sleep waits d, or less when ctx ends first (then answering its error).
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (p *Poller) sync(ctx context.Context, corp string) error {
	_, err := p.call(ctx, "chatMsg.sync", map[string]any{"ext_corp_id": corp})
	return err
}

// pending is one archived message waiting to be appended.
type pending struct {
	seq int64
	raw json.RawMessage
}

// pollStaff appends one staff member's new messages and moves the cursor.
func (p *Poller) pollStaff(ctx context.Context, corp, staff string) error {
	cur, err := p.o.Cursor.Get(corp, staff)
	if err != nil {
		return err
	}
	receivers, high, err := p.newSessions(ctx, corp, staff, cur.Seq)
	if err != nil {
		return err
	}
	if high < cur.Seq && high > 0 {
		p.log.Warn("archive seq is below the cursor; was the archive rebuilt? delete the cursor to read it again",
			"corp", corp, "staff", staff, "cursor", cur.Seq, "highest", high)
	}
	if high <= cur.Seq {
		return nil
	}
	var found []pending
	seen := map[int64]bool{}
	for _, r := range receivers {
		msgs, err := p.sessionMessages(ctx, corp, staff, r, cur.Seq, high)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if !seen[m.seq] {
				seen[m.seq] = true
				found = append(found, m)
			}
		}
	}
	slices.SortFunc(found, func(a, b pending) int { return cmp.Compare(a.seq, b.seq) })
	for start := 0; start < len(found); start += p.o.BatchSize {
		batch := found[start:min(start+p.o.BatchSize, len(found))]
		if err := p.append(ctx, staff, batch); err != nil {
			return err
		}
		if err := p.o.Cursor.Put(corp, staff, Cursor{Seq: batch[len(batch)-1].seq}); err != nil {
			return err
		}
	}
	if len(found) == 0 || found[len(found)-1].seq < high {
		return p.o.Cursor.Put(corp, staff, Cursor{Seq: high})
	}
	return nil
}

// append normalizes and appends one batch. A message the normalizer
// cannot read is appended as an "unknown" event with its raw body, so
// nothing the archive holds is dropped.
func (p *Poller) append(ctx context.Context, staff string, batch []pending) error {
	evs := make([]*event.Event, len(batch))
	for i, m := range batch {
		ev, err := msgserver.NormalizeMessage(m.raw, staff)
		if err != nil {
			p.log.Warn("archived message not understood; kept as unknown", "staff", staff, "seq", m.seq, "error", err)
			ev = &event.Event{ID: event.HashID(msgserver.Name, m.raw), Type: event.TypeUnknown,
				Vendor: msgserver.Name, Account: staff, Raw: m.raw}
		}
		evs[i] = ev
	}
	fresh, err := p.o.Appender.Append(ctx, evs)
	if err != nil {
		return fmt.Errorf("append %d events: %w", len(evs), err)
	}
	n := int64(0)
	for _, f := range fresh {
		if f {
			n++
		}
	}
	p.count(func(s *Stats) {
		s.Appended += n
		s.Duplicates += int64(len(evs)) - n
	})
	return nil
}

// sessionItem is what the poller reads of a sessions item.
type sessionItem struct {
	SessionID   string   `json:"session_id"`
	SessionType string   `json:"session_type"`
	From        string   `json:"from"`
	ToList      []string `json:"tolist"`
	RoomID      string   `json:"room_id"`
	PeerExtID   string   `json:"peer_ext_id"`
	Seq         flexInt  `json:"seq"`
}

// receiver is the receiver_id that reads the session's messages.
func (s sessionItem) receiver(staff string) string {
	switch {
	case s.SessionType == msgserver.SessionGroup || s.RoomID != "":
		return cmp.Or(s.RoomID, s.PeerExtID)
	case s.PeerExtID != "":
		return s.PeerExtID
	case s.From != staff:
		return s.From
	case len(s.ToList) > 0:
		return s.ToList[0]
	}
	return ""
}

// newSessions lists the staff member's sessions of every type and answers
// the receivers of those with messages after seq, and the highest seq the
// listing saw.
func (p *Poller) newSessions(ctx context.Context, corp, staff string, after int64) ([]string, int64, error) {
	var receivers []string
	high := int64(0)
	for _, kind := range msgserver.SessionTypes {
		var items []sessionItem
		var err error
		for attempt := 1; ; attempt++ {
			items, err = p.listSessions(ctx, corp, staff, kind)
			if !errors.Is(err, ErrInconsistent) || attempt == listingAttempts {
				break
			}
		}
		if err != nil {
			return nil, 0, err
		}
		for _, it := range items {
			seq := int64(it.Seq)
			high = max(high, seq)
			if seq <= after {
				continue
			}
			r := it.receiver(staff)
			if r == "" {
				return nil, 0, fmt.Errorf("%s session %s names no other party", kind, it.SessionID)
			}
			if !slices.Contains(receivers, r) {
				receivers = append(receivers, r)
			}
		}
	}
	return receivers, high, nil
}

// listSessions pages through one session type. The listing is ordered by
// time, so a session that gets a message while it is paged moves to the
// front and may push another past a page boundary unseen: a listing whose
// distinct sessions fall short of the total is answered ErrInconsistent.
func (p *Poller) listSessions(ctx context.Context, corp, staff, kind string) ([]sessionItem, error) {
	var out []sessionItem
	ids := map[string]bool{}
	for page := 1; page <= maxPages; page++ {
		var data struct {
			Items []json.RawMessage `json:"items"`
			Total flexInt           `json:"total"`
		}
		if err := p.query(ctx, "chatMsg.sessions", map[string]any{
			"ext_corp_id": corp, "ext_staff_id": staff, "session_type": kind,
			"page": page, "page_size": p.o.PageSize,
		}, &data); err != nil {
			return nil, err
		}
		for _, raw := range data.Items {
			var it sessionItem
			if err := json.Unmarshal(raw, &it); err != nil {
				return nil, fmt.Errorf("%w: sessions item: %v", bindings.ErrTransport, err)
			}
			key := cmp.Or(it.SessionID, string(raw))
			if !ids[key] {
				ids[key] = true
				out = append(out, it)
			}
		}
		if len(data.Items) < p.o.PageSize || int64(page*p.o.PageSize) >= int64(data.Total) {
			if len(ids) < int(data.Total) {
				return nil, fmt.Errorf("%w: %d of %d %s sessions seen", ErrInconsistent, len(ids), int64(data.Total), kind)
			}
			return out, nil
		}
	}
	return out, nil
}

// sessionMessages reads one session newest first (by seq) down to after,
// and answers the messages with after < seq <= high.
func (p *Poller) sessionMessages(ctx context.Context, corp, staff, receiver string, after, high int64) ([]pending, error) {
	var out []pending
	for page := 1; page <= maxPages; page++ {
		var data struct {
			Items []json.RawMessage `json:"items"`
			Total flexInt           `json:"total"`
		}
		if err := p.query(ctx, "chatMsg.sessionMsgs", map[string]any{
			"ext_corp_id": corp, "ext_staff_id": staff, "receiver_id": receiver,
			"sort_field": "seq", "sort_type": "desc", "page": page, "page_size": p.o.PageSize,
		}, &data); err != nil {
			return nil, err
		}
		reached := false
		for _, raw := range data.Items {
			var it struct {
				Seq flexInt `json:"seq"`
			}
			if err := json.Unmarshal(raw, &it); err != nil {
				return nil, fmt.Errorf("%w: session-msgs item: %v", bindings.ErrTransport, err)
			}
			seq := int64(it.Seq)
			if seq <= after {
				reached = true
				continue
			}
			if seq <= high {
				out = append(out, pending{seq: seq, raw: raw})
			}
		}
		if reached || len(data.Items) < p.o.PageSize || int64(page*p.o.PageSize) >= int64(data.Total) {
			return out, nil
		}
	}
	return out, nil
}

// query calls method and decodes its data into out.
func (p *Poller) query(ctx context.Context, method string, args map[string]any, out any) error {
	data, err := p.call(ctx, method, args)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%w: %s answered data that is not a page: %v", bindings.ErrTransport, method, err)
	}
	return nil
}

// flexInt reads a number the vendor may send as a number or as a string.
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			if string(b) == "null" {
				*f = 0
				return nil
			}
			return fmt.Errorf("not a number: %s", b)
		}
		n = json.Number(s)
	}
	if n == "" {
		*f = 0
		return nil
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		return fmt.Errorf("not an integer: %s", b)
	}
	*f = flexInt(i)
	return nil
}
