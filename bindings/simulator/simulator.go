// Package simulator runs the vendor simulators together, each on its own
// loopback HTTP server, the way `switchboard sim` and `switchboard run
// --sim` use them: it points a configuration's vendor base URLs at them,
// tells them where to post callbacks, serves a small control API for
// newcomers (say something, see what was sent), and plays the demo
// conversation.
//
// Lifecycle: Start builds and starts every simulator and its server;
// Close stops them. A Cluster is safe for concurrent use; the simulators
// themselves are reachable as fields for tests and scripted play.
package simulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	msgserversim "github.com/switchboard-dev/switchboard/bindings/msgserver/sim"
	quntoolsim "github.com/switchboard-dev/switchboard/bindings/quntool/sim"
	wechatsim "github.com/switchboard-dev/switchboard/bindings/wechat/sim"
	weworksim "github.com/switchboard-dev/switchboard/bindings/wework/sim"
	"github.com/switchboard-dev/switchboard/runtime/config"
)

// Vendors are the simulated vendors, in the order they are started.
var Vendors = []string{"quntool", "wework", "wechat", "msgserver"}

// DefaultAddrs are where `switchboard sim` listens by default: the ports of
// the default base URLs in switchboard.yaml, so a runtime on its defaults
// reaches the simulators without any setting.
var DefaultAddrs = map[string]string{
	"quntool":   "127.0.0.1:9000",
	"wework":    "127.0.0.1:8080",
	"wechat":    "127.0.0.1:8081",
	"msgserver": "127.0.0.1:9002",
}

// MsgserverSecret is the signing secret of the msgserver simulator, set on
// the configuration by Configure.
const MsgserverSecret = "switchboard-sim-secret"

// ControlPrefix is where each simulator server answers the control API.
const ControlPrefix = "/_sim/"

// Options configure a Cluster.
type Options struct {
	// Addrs are the listen addresses per vendor ("127.0.0.1:0" for a free
	// port when a vendor is missing).
	Addrs map[string]string
	// CallbackBase is where callbacks go: the vendor's name is appended
	// ("http://127.0.0.1:8088/callback" posts quntool's callbacks to
	// ".../callback/quntool"). Empty: callbacks are recorded, not posted.
	CallbackBase string
	// Quntool tunes the quntool simulator (CallbackURL and Logger are set
	// by the cluster).
	Quntool quntoolsim.Options
	// Wework and Wechat tune those simulators (CallbackURL and Logger are
	// set by the cluster).
	Wework weworksim.Options
	Wechat wechatsim.Options
	Logger hclog.Logger
}

// Cluster is the running simulators.
type Cluster struct {
	Quntool   *quntoolsim.Sim
	Wework    *weworksim.Sim
	Wechat    *wechatsim.Sim
	Msgserver *msgserversim.Sim

	log     hclog.Logger
	urls    map[string]string
	servers []*http.Server
}

// Start starts every simulator and its HTTP server.
func Start(o Options) (*Cluster, error) {
	log := o.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	c := &Cluster{log: log, urls: map[string]string{}}
	callback := func(vendor string) string {
		if o.CallbackBase == "" {
			return ""
		}
		return strings.TrimSuffix(o.CallbackBase, "/") + "/" + vendor
	}
	qo := o.Quntool
	qo.CallbackURL = callback("quntool")
	qo.Logger = log.Named("quntool")
	c.Quntool = quntoolsim.New(qo)
	if err := c.serve(o.Addrs, "quntool", quntoolsim.APIPrefix, c.Quntool.Handler(), c.quntoolControl()); err != nil {
		c.Close(context.Background())
		return nil, err
	}
	wo := o.Wework
	wo.CallbackURL = callback("wework")
	wo.Logger = log.Named("wework")
	c.Wework = weworksim.New(wo)
	if err := c.serve(o.Addrs, "wework", "", c.Wework.Handler(), c.Wework.Control()); err != nil {
		c.Close(context.Background())
		return nil, err
	}
	xo := o.Wechat
	xo.CallbackURL = callback("wechat")
	xo.Logger = log.Named("wechat")
	c.Wechat = wechatsim.New(xo)
	if err := c.serve(o.Addrs, "wechat", "", c.Wechat.Handler(), c.wechatControl()); err != nil {
		c.Close(context.Background())
		return nil, err
	}
	ms, err := msgserversim.New(msgserversim.Options{Secret: MsgserverSecret, Logger: log.Named("msgserver")})
	if err != nil {
		c.Close(context.Background())
		return nil, err
	}
	c.Msgserver = ms
	if err := c.serve(o.Addrs, "msgserver", msgserversim.APIPrefix, ms.Handler(), http.NotFoundHandler()); err != nil {
		c.Close(context.Background())
		return nil, err
	}
	return c, nil
}

// serve starts one vendor's server: the API at its root, the control API
// under ControlPrefix.
func (c *Cluster) serve(addrs map[string]string, vendor, apiPrefix string, api, control http.Handler) error {
	addr := addrs[vendor]
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s simulator: listen on %s: %w", vendor, addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle(ControlPrefix, http.StripPrefix(strings.TrimSuffix(ControlPrefix, "/"), control))
	mux.Handle("/", api)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	c.servers = append(c.servers, srv)
	c.urls[vendor] = "http://" + ln.Addr().String() + apiPrefix
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.log.Error("simulator server stopped", "vendor", vendor, "error", err)
		}
	}()
	return nil
}

// BaseURL is the base_url a binding uses to reach vendor's simulator.
func (c *Cluster) BaseURL(vendor string) string { return c.urls[vendor] }

// Configure points cfg's vendor base URLs at the simulators (and sets
// whatever credentials they expect).
func (c *Cluster) Configure(cfg *config.Config) {
	if u := c.urls["quntool"]; u != "" {
		cfg.Vendors.Quntool.BaseURL = u
	}
	if u := c.urls["wework"]; u != "" {
		cfg.Vendors.Wework.BaseURL = u
	}
	if u := c.urls["wechat"]; u != "" {
		cfg.Vendors.Wechat.BaseURL = u
	}
	if u := c.urls["msgserver"]; u != "" {
		cfg.Vendors.Msgserver.BaseURL = u
		cfg.Vendors.Msgserver.Secret = MsgserverSecret
		cfg.Vendors.Msgserver.SignatureEncoding = "urlencoded"
	}
}

// Close stops the servers and the simulators' callback senders.
func (c *Cluster) Close(ctx context.Context) error {
	var errs []error
	for _, srv := range c.servers {
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Quntool != nil {
		c.Quntool.Close()
	}
	if c.Wework != nil {
		c.Wework.Close()
	}
	if c.Wechat != nil {
		c.Wechat.Close()
	}
	if c.Msgserver != nil {
		errs = append(errs, c.Msgserver.Close())
	}
	return errors.Join(errs...)
}

// quntoolControl serves POST /say (a quntoolsim.Incoming as JSON, fields
// named as in Go or in snake case) and GET /sent (every accepted send).
func (c *Cluster) quntoolControl() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /say", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Account        string   `json:"account"`
			From           string   `json:"from"`
			FromName       string   `json:"from_name"`
			ConversationID string   `json:"conversation_id"`
			Text           string   `json:"text"`
			AtList         []string `json:"at_list"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil {
			controlError(w, http.StatusBadRequest, fmt.Errorf("body must be a JSON object: %w", err))
			return
		}
		if in.Account == "" {
			in.Account = DemoAccount
		}
		err := c.Quntool.Say(r.Context(), quntoolsim.Incoming{Account: in.Account, From: in.From, FromName: in.FromName,
			ConversationID: in.ConversationID, Text: in.Text, AtList: in.AtList})
		if err != nil {
			controlError(w, http.StatusUnprocessableEntity, err)
			return
		}
		writeJSON(w, map[string]any{"ok": true})
	})
	mux.HandleFunc("GET /sent", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, c.Quntool.Sent())
	})
	return mux
}

// wechatControl serves POST /say (a wechatsim.Incoming as JSON: guid,
// from, room, text, at_list) and GET /sent.
func (c *Cluster) wechatControl() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /say", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			GUID   string   `json:"guid"`
			From   string   `json:"from"`
			Room   string   `json:"room"`
			Text   string   `json:"text"`
			AtList []string `json:"at_list"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil {
			controlError(w, http.StatusBadRequest, fmt.Errorf("body must be a JSON object: %w", err))
			return
		}
		if err := c.Wechat.Say(r.Context(), wechatsim.Incoming{GUID: in.GUID, From: in.From, Room: in.Room, Text: in.Text, AtList: in.AtList}); err != nil {
			controlError(w, http.StatusUnprocessableEntity, err)
			return
		}
		writeJSON(w, map[string]any{"ok": true})
	})
	mux.HandleFunc("GET /sent", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, c.Wechat.Sent())
	})
	return mux
}

func controlError(w http.ResponseWriter, status int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": err.Error()})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
