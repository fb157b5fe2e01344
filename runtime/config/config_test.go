package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "switchboard.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultsWithoutFile(t *testing.T) {
	t.Parallel()
	cfg, err := Load(filepath.Join(t.TempDir(), "none.yaml"), nil)
	if err == nil {
		t.Fatalf("an explicit missing file must be an error, got %+v", cfg)
	}
	// No file named and none in the working directory: the defaults.
	cfg, err = Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "0.0.0.0:8088" || cfg.Limits.Quntool.SendIntervalMS != 500 ||
		cfg.Limits.Quntool.SendsPerHourPerCorp != 50000 || cfg.Limits.Wechat.CallsPerMinute != 100 ||
		cfg.Limits.MaxWaitMS != 30000 || cfg.Vendors.Msgserver.SignatureEncoding != "urlencoded" ||
		cfg.PluginDefaults.TimeoutMS != 5000 || cfg.PluginDefaults.Allow[0] != "*" {
		t.Fatalf("defaults wrong: %+v", cfg)
	}
}

func TestFileAndEnv(t *testing.T) {
	t.Parallel()
	p := write(t, `
listen: "127.0.0.1:9999"
log: { level: debug, format: json }
vendors:
  quntool: { base_url: "http://10.0.0.1:9000/gnapi/open", apikey: "k1", callback_token: "tok", allow_ips: ["127.0.0.1", "10.0.0.0/8"] }
  msgserver: { secret: s, signature_encoding: raw }
plugins:
  echo: { allow: ["quntool.msg.*", "kv"], config: { greeting: hi, nested: { a: 1 } }, disabled: false }
limits:
  quntool: { send_interval_ms: 700 }
`)
	cfg, err := Load(p, []string{"SWITCHBOARD_LISTEN=127.0.0.1:7000", "SWITCHBOARD_VENDORS_QUNTOOL_APIKEY=k2",
		"SWITCHBOARD_LIMITS_MAX_WAIT_MS=1000", "SWITCHBOARD_PLUGIN_DEFAULTS_ALLOW=kv,quntool.*", "HOME=/x", "SWITCHBOARD_CONFIG=ignored"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:7000" {
		t.Errorf("env did not override listen: %q", cfg.Listen)
	}
	if cfg.Vendors.Quntool.APIKey != "k2" || cfg.Vendors.Quntool.CallbackToken != "tok" || len(cfg.Vendors.Quntool.AllowIPs) != 2 {
		t.Errorf("quntool = %+v", cfg.Vendors.Quntool)
	}
	if cfg.Limits.MaxWaitMS != 1000 || cfg.Limits.Quntool.SendIntervalMS != 700 || cfg.Limits.Quntool.SendsPerHourPerCorp != 50000 {
		t.Errorf("limits = %+v", cfg.Limits)
	}
	if got := cfg.PluginDefaults.Allow; len(got) != 2 || got[1] != "quntool.*" {
		t.Errorf("plugin_defaults.allow from env = %v", got)
	}
	s := cfg.PluginSettings("echo")
	if s == nil || s.Config["greeting"] != "hi" || len(s.Allow) != 2 {
		t.Errorf("plugins.echo = %+v", s)
	}
	if cfg.PluginSettings("other") != nil {
		t.Error("unconfigured plugin has settings")
	}
	if cfg.Log.Format != "json" || cfg.Vendors.Msgserver.SignatureEncoding != "raw" {
		t.Errorf("log/msgserver = %+v %+v", cfg.Log, cfg.Vendors.Msgserver)
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, yaml string
		env        []string
		want       string
	}{
		{"unknown top key", "lisen: x\n", nil, `unknown key "lisen"`},
		{"unknown nested key", "vendors:\n  quntool: { apikye: x }\n", nil, `unknown key "vendors.quntool.apikye"`},
		{"unknown plugin key", "plugins:\n  echo: { alow: [kv] }\n", nil, `unknown key "plugins.echo.alow"`},
		{"bad listen", "listen: nohost\n", nil, "listen"},
		{"bad level", "log: { level: loud }\n", nil, "log.level"},
		{"bad format", "log: { format: xml }\n", nil, "log.format"},
		{"bad url", "vendors:\n  wework: { base_url: 'ftp://x' }\n", nil, "vendors.wework.base_url"},
		{"bad encoding", "vendors:\n  msgserver: { signature_encoding: base64 }\n", nil, "vendors.msgserver.signature_encoding"},
		{"bad limit", "limits:\n  wechat: { calls_per_minute: 0 }\n", nil, "limits.wechat.calls_per_minute"},
		{"bad type", "limits:\n  max_wait_ms: soon\n", nil, "max_wait_ms"},
		{"bad permission", "plugins:\n  echo: { allow: ['quntool..x'] }\n", nil, "plugins.echo.allow"},
		{"bad ip", "vendors:\n  wechat: { allow_ips: ['nope'] }\n", nil, "vendors.wechat.allow_ips"},
		{"unknown env", "", []string{"SWITCHBOARD_LISTN=x"}, "SWITCHBOARD_LISTN"},
		{"bad env value", "", []string{"SWITCHBOARD_LIMITS_MAX_WAIT_MS=abc"}, "max_wait_ms"},
		{"bad yaml", "listen: [\n", nil, "switchboard.yaml"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(write(t, c.yaml), c.env)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrConfig) {
				t.Errorf("error %v does not wrap ErrConfig", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not name %q", err, c.want)
			}
		})
	}
}
