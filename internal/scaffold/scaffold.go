// Package scaffold writes new plugins for `switchboard new`: a working
// starting point with a manifest, never overwriting anything.
package scaffold

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/switchboard-dev/switchboard/runtime/plugin"
)

// ErrExists is returned when a file the scaffold would write exists.
var ErrExists = errors.New("already exists")

// File is one file to write, relative to the target folder.
type File struct {
	Path    string
	Content string
}

// Write writes files below dir after checking that none exists; it
// returns the paths written.
func Write(dir string, files []File) ([]string, error) {
	for _, f := range files {
		p := filepath.Join(dir, f.Path)
		if _, err := os.Stat(p); err == nil {
			return nil, fmt.Errorf("%s: %w", p, ErrExists)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	var wrote []string
	for _, f := range files {
		p := filepath.Join(dir, f.Path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return wrote, err
		}
		if err := os.WriteFile(p, []byte(f.Content), 0o644); err != nil {
			return wrote, err
		}
		wrote = append(wrote, p)
	}
	return wrote, nil
}

// CheckName refuses names the runtime would not load.
func CheckName(name string) error {
	if !plugin.ValidName(name) {
		return fmt.Errorf("plugin name %q: use letters, digits, '_', '-' and '.', starting with a letter or digit", name)
	}
	return nil
}

var jsTemplate = template.Must(template.New("js").Parse(`// {{.Name}}: answers "help" in any conversation and counts the messages it saw.
// Edit and save: Switchboard reloads it. See docs/js-api.md.
on('message.text', async (ev) => {
  if (ev.message.self) return; // ignore what the account itself sent

  const seen = kv.incr('seen:' + ev.conversation.id);
  if (ev.message.text.trim() === 'help') {
    await ev.reply(config.help || 'Hello from {{.Name}}!');
  }
  log.debug('message', { conversation: ev.conversation.id, seen });
});
`))

var manifestTemplate = template.Must(template.New("manifest").Parse(`{
  "name": "{{.Name}}",
  "version": "0.1.0",
  "events": ["message.text"],
  "permissions": ["kv", "quntool.msg.text", "quntool.msg.roomAt", "wework.*", "wechat.*"],
  "limits": { "timeout_ms": 5000 },
  "config": { "help": "Hello from {{.Name}}!" }
}
`))

// JS returns a JavaScript plugin NAME.js with its manifest NAME.json.
func JS(name string) ([]File, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	var js, man strings.Builder
	data := struct{ Name string }{name}
	if err := jsTemplate.Execute(&js, data); err != nil {
		return nil, err
	}
	if err := manifestTemplate.Execute(&man, data); err != nil {
		return nil, err
	}
	return []File{{Path: name + ".js", Content: js.String()}, {Path: name + ".json", Content: man.String()}}, nil
}
