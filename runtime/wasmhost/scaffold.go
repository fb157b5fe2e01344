package wasmhost

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/switchboard-dev/switchboard/runtime/plugin"
)

// pdkModule is the module the scaffolded plugin requires for the PDK.
const pdkModule = "github.com/switchboard-dev/switchboard"

// ErrScaffoldExists is a scaffold that would overwrite a file.
var ErrScaffoldExists = errors.New("file already exists")

// Scaffold writes the skeleton of a Go WASM plugin called name into dir
// (created if missing): main.go (a handler answering "ping" with the Go
// PDK), manifest.json, go.mod, Makefile and README.md. It never overwrites
// a file: if any of them exists it writes nothing and returns an error
// wrapping ErrScaffoldExists. name must be a valid plugin name. The files
// build with `make` into plugin.wasm, so dir can be dropped into plugins/
// as a folder plugin.
func Scaffold(dir, name string) error {
	if !plugin.ValidName(name) {
		return fmt.Errorf("scaffold: %q is not a plugin name (letters, digits, '_', '-', '.')", name)
	}
	files := scaffoldFiles(name, pdkVersion())
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("scaffold %s: %s: %w", name, p, ErrScaffoldExists)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("scaffold %s: %w", name, err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("scaffold %s: %w", name, err)
	}
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, []byte(f.body), 0o644); err != nil {
			return fmt.Errorf("scaffold %s: %w", name, err)
		}
	}
	return nil
}

// pdkVersion is the version of this build's module, "" for a development
// build (then go.mod gets the PDK through `go get`).
func pdkVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok || bi.Main.Path != pdkModule || bi.Main.Version == "" || bi.Main.Version == "(devel)" {
		return ""
	}
	return bi.Main.Version
}

type scaffoldFile struct{ name, body string }

func scaffoldFiles(name, version string) []scaffoldFile {
	gomod := "module " + strings.ReplaceAll(name, ".", "-") + "\n\ngo 1.24\n"
	if version != "" {
		gomod += "\nrequire " + pdkModule + " " + version + "\n"
	}
	r := strings.NewReplacer("{{name}}", name, "{{pdk}}", pdkModule+"/pdk")
	return []scaffoldFile{
		{"main.go", r.Replace(scaffoldMain)},
		{"manifest.json", r.Replace(scaffoldManifest)},
		{"go.mod", gomod},
		{"Makefile", r.Replace(scaffoldMakefile)},
		{"README.md", r.Replace(scaffoldReadme)},
	}
}

const scaffoldMain = `//go:build wasip1

// Command {{name}} is a Switchboard WASM plugin. The host calls handle once
// per event the manifest subscribes to; see docs/wasm-abi.md.
package main

import (
	"strings"

	"{{pdk}}"
)

//go:wasmexport handle
func handle() int32 { return pdk.Run(onEvent) }

// onEvent answers "ping" with "pong" and counts the pings it answered.
func onEvent(ev *pdk.Event) ([]pdk.Action, error) {
	m := ev.Message
	if m == nil || m.Self || strings.TrimSpace(m.Text) != "ping" {
		return nil, nil
	}
	if err := pdk.Reply("pong"); err != nil {
		return nil, err
	}
	n, err := pdk.Incr("pings", 1)
	if err != nil {
		return nil, err
	}
	pdk.LogKV("info", "answered a ping", "n", n)
	return nil, nil
}

func main() {}
`

const scaffoldManifest = `{
  "name": "{{name}}",
  "version": "0.1.0",
  "description": "answers ping with pong",
  "events": ["message.text"],
  "permissions": ["kv", "quntool.msg.*", "wework.msg.*", "wechat.msg.*"],
  "limits": { "timeout_ms": 2000, "memory_mb": 64 }
}
`

const scaffoldMakefile = `# Builds plugin.wasm: copy this folder to plugins/{{name}}/ (or plugin.wasm
# to plugins/{{name}}.wasm and manifest.json to plugins/{{name}}.json).
plugin.wasm: main.go go.mod
	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm .

.PHONY: deps
deps:
	go get {{pdk}}@latest
	go mod tidy
`

const scaffoldReadme = "# {{name}}\n\n" +
	"A Switchboard WASM plugin written in Go with the Switchboard PDK ({{pdk}}).\n\n" +
	"## Build\n\n" +
	"```sh\nmake deps   # once: fetches the PDK\nmake        # GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm .\n```\n\n" +
	"Go 1.24 or newer is required (`//go:wasmexport`).\n\n" +
	"## Install\n\n" +
	"Copy this folder to `plugins/{{name}}/` (Switchboard loads `plugin.wasm` and `manifest.json` from it).\n" +
	"Switchboard reloads it when `plugin.wasm` changes.\n\n" +
	"## What it may do\n\n" +
	"`manifest.json` lists the events it receives and the permissions it asks for; `switchboard.yaml`\n" +
	"(`plugins.{{name}}.allow`) decides what it gets. Host functions it is not granted are not linked,\n" +
	"and a module importing one is refused at load. Limits: `timeout_ms` per event, `memory_mb` of\n" +
	"linear memory. The ABI is described in docs/wasm-abi.md of the Switchboard repository.\n"
