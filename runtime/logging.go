package runtime

import (
	"io"
	"os"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/switchboard-dev/switchboard/runtime/config"
)

// NewLogger builds the process logger from the log settings: hclog, text
// or JSON, to w (stderr when nil). Plugin loggers are named sub-loggers of
// it, so every line of a plugin is tagged with the plugin's name.
func NewLogger(c config.Log, w io.Writer) hclog.Logger {
	if w == nil {
		w = os.Stderr
	}
	return hclog.New(&hclog.LoggerOptions{
		Name:            "switchboard",
		Level:           hclog.LevelFromString(strings.ToLower(c.Level)),
		JSONFormat:      c.Format == "json",
		Output:          w,
		TimeFormat:      "2006-01-02T15:04:05.000Z07:00",
		IncludeLocation: false,
	})
}
