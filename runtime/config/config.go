// Package config loads switchboard.yaml (SPEC §11): every key has a
// default, SWITCHBOARD_<KEY> environment variables override the file, and
// an unknown key or a bad value is an error that names the key.
//
// A Config is plain data, loaded once at start-up and read-only after
// that; the runtime never mutates it.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"

	"github.com/switchboard-dev/switchboard/runtime/plugin"
)

// DefaultFile is the config file looked for in the working directory.
const DefaultFile = "switchboard.yaml"

// EnvPrefix prefixes every environment override.
const EnvPrefix = "SWITCHBOARD_"

// ErrConfig marks every configuration problem.
var ErrConfig = errors.New("config")

// Config is the whole of switchboard.yaml.
type Config struct {
	Listen         string                     `koanf:"listen"`
	DataDir        string                     `koanf:"data_dir"`
	ScriptsDir     string                     `koanf:"scripts_dir"`
	PluginsDir     string                     `koanf:"plugins_dir"`
	Log            Log                        `koanf:"log"`
	Receiver       Receiver                   `koanf:"receiver"`
	Admin          Admin                      `koanf:"admin"`
	Vendors        Vendors                    `koanf:"vendors"`
	PluginDefaults plugin.Settings            `koanf:"plugin_defaults"`
	Plugins        map[string]plugin.Settings `koanf:"plugins"`
	Limits         Limits                     `koanf:"limits"`
	Outbox         Outbox                     `koanf:"outbox"`
}

// Log configures hclog.
type Log struct {
	Level  string `koanf:"level"`  // trace, debug, info, warn, error
	Format string `koanf:"format"` // text or json
}

// Receiver configures the callback receiver.
type Receiver struct {
	// MaxBodyBytes bounds a callback body (default 1 MiB).
	MaxBodyBytes int `koanf:"max_body_bytes"`
}

// Admin configures the admin API under /admin/.
type Admin struct {
	// Token, when set, lets non-loopback clients in with
	// "Authorization: Bearer <token>". Without it the admin API answers
	// loopback clients only.
	Token string `koanf:"token"`
}

// Vendors holds the per-vendor connection settings.
type Vendors struct {
	Quntool   Quntool   `koanf:"quntool"`
	Wework    Vendor    `koanf:"wework"`
	Wechat    Vendor    `koanf:"wechat"`
	Msgserver Msgserver `koanf:"msgserver"`
}

// Vendor is the common part of a vendor's settings.
type Vendor struct {
	BaseURL       string `koanf:"base_url"`
	CallbackToken string `koanf:"callback_token"`
	// AllowIPs, when not empty, restricts callbacks to these addresses or CIDR ranges.
	AllowIPs  []string `koanf:"allow_ips"`
	TimeoutMS int      `koanf:"timeout_ms"`
}

// Quntool adds the apikey and the choice of transport for sends.
type Quntool struct {
	Vendor `koanf:",squash"`
	APIKey string `koanf:"apikey"`
	// Transport carries message sends: "http" (default) or "mqtt" (the
	// vendor's SendMessage / SendMessageResp topics on MQTTURL). Every
	// other endpoint always goes over HTTP.
	Transport string `koanf:"transport"`
	// MQTTURL is the broker, "tcp://host:port" (required for mqtt).
	MQTTURL      string `koanf:"mqtt_url"`
	MQTTUsername string `koanf:"mqtt_username"`
	MQTTPassword string `koanf:"mqtt_password"`
}

// Msgserver adds the signing settings.
type Msgserver struct {
	BaseURL           string `koanf:"base_url"`
	Secret            string `koanf:"secret"`
	SignatureEncoding string `koanf:"signature_encoding"` // urlencoded (Python form) or raw (JavaScript form)
	TimeoutMS         int    `koanf:"timeout_ms"`
	// Poll makes the runtime page new archive messages into the journal
	// as message events (SPEC §4). Off while Targets is empty.
	Poll MsgserverPoll `koanf:"poll"`
}

// MsgserverPoll configures the msgserver archive poller.
type MsgserverPoll struct {
	// IntervalMS is the pause between two polls of one staff member
	// (default 10000).
	IntervalMS int `koanf:"interval_ms"`
	// Sync asks the vendor to sync a corp's archive (chat-msg/sync) before
	// each poll round of it (default true).
	Sync bool `koanf:"sync"`
	// Targets are the corps and staff members polled.
	Targets []PollTarget `koanf:"targets"`
}

// PollTarget is one corp and the staff members whose archive is polled.
type PollTarget struct {
	CorpID string   `koanf:"corp_id"`
	Staff  []string `koanf:"staff"`
}

// Limits are the host-enforced rate limits; defaults are the vendors'
// documented limits (SPEC §2, §10).
type Limits struct {
	Quntool struct {
		SendIntervalMS      int `koanf:"send_interval_ms"`
		SendsPerHourPerCorp int `koanf:"sends_per_hour_per_corp"`
	} `koanf:"quntool"`
	Wechat struct {
		CallsPerMinute int `koanf:"calls_per_minute"`
	} `koanf:"wechat"`
	Wework struct {
		SendIntervalMS int `koanf:"send_interval_ms"`
	} `koanf:"wework"`
	Msgserver struct {
		RequestsPerSecond int `koanf:"requests_per_second"`
	} `koanf:"msgserver"`
	MaxWaitMS int `koanf:"max_wait_ms"`
}

// Outbox configures the durable outbox of sends (SPEC §10).
type Outbox struct {
	// MaxAttempts is how many times a send is tried before it moves to the
	// dead-letter list (default 5).
	MaxAttempts int `koanf:"max_attempts"`
	// BackoffMS is the pause before the first retry of a transient failure,
	// doubled for each further one up to MaxBackoffMS (defaults 1000, 60000).
	BackoffMS    int `koanf:"backoff_ms"`
	MaxBackoffMS int `koanf:"max_backoff_ms"`
}

// MaxWait is Limits.MaxWaitMS as a duration.
func (l Limits) MaxWait() time.Duration { return time.Duration(l.MaxWaitMS) * time.Millisecond }

// Default returns the configuration used when no file and no environment
// variable says otherwise.
func Default() *Config {
	c := &Config{
		Listen:     "0.0.0.0:8088",
		DataDir:    "./data",
		ScriptsDir: "./scripts",
		PluginsDir: "./plugins",
		Log:        Log{Level: "info", Format: "text"},
		Receiver:   Receiver{MaxBodyBytes: 1 << 20},
		Vendors: Vendors{
			Quntool: Quntool{Vendor: Vendor{BaseURL: "http://127.0.0.1:9000/gnapi/open"}},
			Wework:  Vendor{BaseURL: "http://127.0.0.1:8080"},
			Wechat:  Vendor{BaseURL: "http://127.0.0.1:8081"},
			Msgserver: Msgserver{BaseURL: "http://127.0.0.1:9002/api/v1", SignatureEncoding: "urlencoded",
				Poll: MsgserverPoll{IntervalMS: 10000, Sync: true}},
		},
		PluginDefaults: plugin.Settings{Allow: []string{"*"}, TimeoutMS: 5000},
		Plugins:        map[string]plugin.Settings{},
	}
	c.Limits.Quntool.SendIntervalMS = 500
	c.Limits.Quntool.SendsPerHourPerCorp = 50000
	c.Limits.Wechat.CallsPerMinute = 100
	c.Limits.Wework.SendIntervalMS = 500
	c.Limits.Msgserver.RequestsPerSecond = 100
	c.Limits.MaxWaitMS = 30000
	c.Vendors.Quntool.Transport = "http"
	c.Outbox = Outbox{MaxAttempts: 5, BackoffMS: 1000, MaxBackoffMS: 60000}
	return c
}

// Load reads path (or DefaultFile when path is "" and it exists), applies
// environment overrides from environ (os.Environ() form), and validates.
// An explicitly named file that does not exist is an error.
func Load(path string, environ []string) (*Config, error) {
	k := koanf.New(".")
	explicit := path != ""
	if !explicit {
		path = DefaultFile
	}
	if _, err := os.Stat(path); err == nil {
		if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrConfig, path, err)
		}
	} else if explicit {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	known := knownKeys(reflect.TypeOf(Config{}), "")
	for _, key := range k.Keys() {
		if !isKnown(known, key) {
			return nil, fmt.Errorf("%w: %s: unknown key %q", ErrConfig, path, key)
		}
	}
	if err := applyEnv(k, known, environ); err != nil {
		return nil, err
	}
	cfg := Default()
	err := k.UnmarshalWithConf("", cfg, koanf.UnmarshalConf{
		Tag: "koanf",
		DecoderConfig: &mapstructure.DecoderConfig{
			Result:           cfg,
			TagName:          "koanf",
			WeaklyTypedInput: true,
			ErrorUnused:      true,
			DecodeHook:       mapstructure.StringToSliceHookFunc(","),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %s", ErrConfig, path, cleanDecodeError(err))
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// knownKeys lists the dotted key paths of t's koanf tags. A map field is
// recorded as "path.*" (any name, with any keys below it), as are
// free-form maps like plugins.NAME.config.
func knownKeys(t reflect.Type, prefix string) map[string]bool {
	out := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("koanf")
		if tag == ",squash" {
			for k := range knownKeys(f.Type, prefix) {
				out[k] = true
			}
			continue
		}
		if tag == "" || tag == "-" {
			continue
		}
		key := prefix + tag
		ft := f.Type
		switch {
		case ft.Kind() == reflect.Struct:
			for k := range knownKeys(ft, key+".") {
				out[k] = true
			}
		case ft.Kind() == reflect.Map && ft.Elem().Kind() == reflect.Struct:
			for k := range knownKeys(ft.Elem(), key+".*.") {
				out[k] = true
			}
		case ft.Kind() == reflect.Map:
			out[key+".**"] = true
		default:
			out[key] = true
		}
	}
	return out
}

// isKnown matches a loaded key against the known patterns: "*" stands for
// one segment, a trailing "**" for any rest.
func isKnown(known map[string]bool, key string) bool {
	if known[key] {
		return true
	}
	segs := strings.Split(key, ".")
	for pattern := range known {
		ps := strings.Split(pattern, ".")
		if matchSegs(ps, segs) {
			return true
		}
	}
	return false
}

func matchSegs(ps, segs []string) bool {
	for i, p := range ps {
		if p == "**" {
			return len(segs) >= i
		}
		if i >= len(segs) || (p != "*" && p != segs[i]) {
			return false
		}
	}
	return len(ps) == len(segs)
}

// applyEnv overlays SWITCHBOARD_<KEY> variables: the key path upper-cased
// with dots as underscores (SWITCHBOARD_LISTEN,
// SWITCHBOARD_VENDORS_QUNTOOL_APIKEY, SWITCHBOARD_LIMITS_MAX_WAIT_MS).
// Lists take comma-separated values. An unknown SWITCHBOARD_ variable is an
// error, so a typo is not silently ignored.
func applyEnv(k *koanf.Koanf, known map[string]bool, environ []string) error {
	byEnv := map[string]string{}
	for key := range known {
		if strings.Contains(key, "*") {
			continue
		}
		byEnv[EnvPrefix+strings.ToUpper(strings.ReplaceAll(key, ".", "_"))] = key
	}
	var names []string
	values := map[string]string{}
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) || name == EnvPrefix+"CONFIG" {
			continue
		}
		names = append(names, name)
		values[name] = val
	}
	sort.Strings(names)
	for _, name := range names {
		key, ok := byEnv[name]
		if !ok {
			return fmt.Errorf("%w: environment variable %s names no setting", ErrConfig, name)
		}
		if err := k.Set(key, values[name]); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrConfig, name, err)
		}
	}
	return nil
}

func cleanDecodeError(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "decoding failed due to the following error(s):\n\n")
	return strings.ReplaceAll(s, "\n", "; ")
}

// Validate checks every value, naming the key of the first bad one.
func (c *Config) Validate() error {
	bad := func(key, format string, a ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrConfig, key, fmt.Sprintf(format, a...))
	}
	if _, port, err := net.SplitHostPort(c.Listen); err != nil || port == "" {
		return bad("listen", "want host:port, got %q", c.Listen)
	}
	for key, dir := range map[string]string{"data_dir": c.DataDir, "scripts_dir": c.ScriptsDir, "plugins_dir": c.PluginsDir} {
		if strings.TrimSpace(dir) == "" {
			return bad(key, "must not be empty")
		}
	}
	switch strings.ToLower(c.Log.Level) {
	case "trace", "debug", "info", "warn", "error":
	default:
		return bad("log.level", "want trace, debug, info, warn or error, got %q", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		return bad("log.format", "want text or json, got %q", c.Log.Format)
	}
	if c.Receiver.MaxBodyBytes < 1024 || c.Receiver.MaxBodyBytes > 64<<20 {
		return bad("receiver.max_body_bytes", "want 1024..67108864, got %d", c.Receiver.MaxBodyBytes)
	}
	for key, v := range map[string]Vendor{"vendors.quntool": c.Vendors.Quntool.Vendor, "vendors.wework": c.Vendors.Wework, "vendors.wechat": c.Vendors.Wechat} {
		if err := checkURL(v.BaseURL); err != nil {
			return bad(key+".base_url", "%v", err)
		}
		for _, ip := range v.AllowIPs {
			if net.ParseIP(ip) == nil {
				if _, _, err := net.ParseCIDR(ip); err != nil {
					return bad(key+".allow_ips", "%q is neither an IP address nor a CIDR range", ip)
				}
			}
		}
		if v.TimeoutMS < 0 {
			return bad(key+".timeout_ms", "must not be negative")
		}
	}
	if err := checkURL(c.Vendors.Msgserver.BaseURL); err != nil {
		return bad("vendors.msgserver.base_url", "%v", err)
	}
	if e := c.Vendors.Msgserver.SignatureEncoding; e != "urlencoded" && e != "raw" {
		return bad("vendors.msgserver.signature_encoding", "want urlencoded or raw, got %q", e)
	}
	switch q := c.Vendors.Quntool; q.Transport {
	case "http":
	case "mqtt":
		u, err := url.Parse(q.MQTTURL)
		if err != nil || (u.Scheme != "tcp" && u.Scheme != "mqtt" && u.Scheme != "ssl" && u.Scheme != "tls" && u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			return bad("vendors.quntool.mqtt_url", "want tcp://host:port (or ssl://, ws://, wss://) with transport mqtt, got %q", q.MQTTURL)
		}
	default:
		return bad("vendors.quntool.transport", "want http or mqtt, got %q", q.Transport)
	}
	for i, t := range c.Vendors.Msgserver.Poll.Targets {
		if strings.TrimSpace(t.CorpID) == "" {
			return bad(fmt.Sprintf("vendors.msgserver.poll.targets[%d].corp_id", i), "must not be empty")
		}
		if len(t.Staff) == 0 {
			return bad(fmt.Sprintf("vendors.msgserver.poll.targets[%d].staff", i), "must list at least one staff id")
		}
	}
	for key, v := range map[string]int{
		"vendors.msgserver.poll.interval_ms":     c.Vendors.Msgserver.Poll.IntervalMS,
		"outbox.max_attempts":                    c.Outbox.MaxAttempts,
		"outbox.backoff_ms":                      c.Outbox.BackoffMS,
		"outbox.max_backoff_ms":                  c.Outbox.MaxBackoffMS,
		"limits.quntool.send_interval_ms":        c.Limits.Quntool.SendIntervalMS,
		"limits.quntool.sends_per_hour_per_corp": c.Limits.Quntool.SendsPerHourPerCorp,
		"limits.wechat.calls_per_minute":         c.Limits.Wechat.CallsPerMinute,
		"limits.wework.send_interval_ms":         c.Limits.Wework.SendIntervalMS,
		"limits.msgserver.requests_per_second":   c.Limits.Msgserver.RequestsPerSecond,
		"limits.max_wait_ms":                     c.Limits.MaxWaitMS,
	} {
		if v <= 0 {
			return bad(key, "must be positive, got %d", v)
		}
	}
	if err := checkSettings("plugin_defaults", c.PluginDefaults); err != nil {
		return err
	}
	for name, s := range c.Plugins {
		if !plugin.ValidName(name) {
			return bad("plugins."+name, "not a valid plugin name")
		}
		if err := checkSettings("plugins."+name, s); err != nil {
			return err
		}
	}
	return nil
}

func checkSettings(key string, s plugin.Settings) error {
	for _, p := range s.Allow {
		if !plugin.ValidPermission(p) {
			return fmt.Errorf("%w: %s.allow: bad permission %q", ErrConfig, key, p)
		}
	}
	if s.TimeoutMS < 0 || s.TimeoutMS > 600_000 {
		return fmt.Errorf("%w: %s.timeout_ms: want 0..600000, got %d", ErrConfig, key, s.TimeoutMS)
	}
	return nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("want an http(s) URL, got %q", s)
	}
	return nil
}

// PluginSettings returns plugins.NAME, or nil when it is not configured.
func (c *Config) PluginSettings(name string) *plugin.Settings {
	if s, ok := c.Plugins[name]; ok {
		return &s
	}
	return nil
}
