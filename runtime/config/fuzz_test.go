package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/config"
)

// yamlBlock is a fenced YAML example of a Markdown document.
var yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// FuzzLoad writes the fuzz input as switchboard.yaml and loads it, with
// environment overrides made of the second input's lines. Load must not
// panic, and must answer a valid Config or an error wrapping
// config.ErrConfig. It is seeded with the documented file (docs/config.md),
// each transport and log setting, and mistakes of every kind.
func FuzzLoad(f *testing.F) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "config.md"))
	if err != nil {
		f.Fatal(err)
	}
	blocks := yamlBlock.FindAllSubmatch(doc, -1)
	if len(blocks) == 0 {
		f.Fatal("docs/config.md has no yaml example")
	}
	for _, b := range blocks {
		f.Add(b[1], "")
	}
	seeds := []struct{ yaml, env string }{
		{"", ""},
		{"listen: \"127.0.0.1:9999\"\nlog: { level: debug, format: json }\n", "SWITCHBOARD_LISTEN=127.0.0.1:7000"},
		{"vendors:\n  quntool: { transport: mqtt, mqtt_url: \"tcp://127.0.0.1:1884\", mqtt_username: u, mqtt_password: p }\n", ""},
		{"vendors:\n  quntool: { transport: mqtt }\n", ""},
		{"vendors:\n  quntool: { allow_ips: [\"127.0.0.1\", \"10.0.0.0/8\"], callback_token: tok }\n", "SWITCHBOARD_VENDORS_QUNTOOL_APIKEY=k2"},
		{"plugins:\n  echo: { allow: [\"quntool.msg.*\", kv], config: { greeting: hi, nested: { a: 1 } } }\n", "SWITCHBOARD_PLUGIN_DEFAULTS_ALLOW=kv,quntool.*"},
		{"limits:\n  max_wait_ms: soon\n", "SWITCHBOARD_LIMITS_MAX_WAIT_MS=abc"},
		{"lisen: x\n", "SWITCHBOARD_LISTN=x"},
		{"listen: [\n", ""},
		{"vendors: 3\n", ""},
		{"plugins:\n  \"\": {}\n", ""},
		{"a: &a [*a]\n", ""},
	}
	for _, s := range seeds {
		f.Add([]byte(s.yaml), s.env)
	}
	f.Fuzz(func(t *testing.T, yaml []byte, env string) {
		path := filepath.Join(t.TempDir(), "switchboard.yaml")
		if err := os.WriteFile(path, yaml, 0o600); err != nil {
			t.Fatal(err)
		}
		var environ []string
		if env != "" {
			environ = strings.Split(env, "\n")
		}
		cfg, err := config.Load(path, environ)
		switch {
		case err != nil && !errors.Is(err, config.ErrConfig):
			t.Fatalf("error %v does not wrap config.ErrConfig", err)
		case err != nil && cfg != nil:
			t.Fatalf("error %v, and a config", err)
		case err == nil && cfg == nil:
			t.Fatal("neither a config nor an error")
		case err == nil:
			if err := cfg.Validate(); err != nil {
				t.Fatalf("Load answered a config that does not validate: %v", err)
			}
		}
	})
}
