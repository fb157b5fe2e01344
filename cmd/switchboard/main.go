// Command switchboard is the Switchboard binary: the runtime, the vendor
// simulator, and the tools around them (SPEC §11). It holds flags, wiring
// and signal handling only; the work is done in runtime/ and bindings/.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/switchboard-dev/switchboard/internal/outboxcli"
	"github.com/switchboard-dev/switchboard/internal/weworkcli"
	"github.com/switchboard-dev/switchboard/runtime/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// exitError carries a process exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func main() {
	root := &cobra.Command{
		Use:           "switchboard",
		Short:         "Switchboard: a runtime for WeCom and WeChat automation through protocol vendors",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().String("config", "", "config file (default ./switchboard.yaml when it exists)")
	load := func() (*config.Config, error) {
		return config.Load(configFlag(root), os.Environ())
	}
	root.AddCommand(runCmd(), checkCmd(), versionCmd(), simCmd(), kvCmd(), newCmd(), replayCmd(),
		outboxcli.Command(load), weworkcli.Command(load))
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "switchboard:", err)
		var ee *exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(1)
	}
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "switchboard %s\n", version)
		},
	}
}
