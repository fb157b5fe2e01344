package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/switchboard-dev/switchboard/runtime"
	"github.com/switchboard-dev/switchboard/runtime/config"
)

func checkCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check PATH...",
		Short: "Compile and validate plugins and manifests",
		Long: `Compile and initialize plugins exactly as the runtime would, and validate manifests.
PATH is a plugin file (NAME.js), a plugin folder (with index.js), a manifest (NAME.json or
manifest.json), or a plugins folder such as ./scripts (every plugin in it is checked).
Binding calls made while a plugin initializes are refused. Exits 1 if anything fails.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(configFlag(cmd), os.Environ())
			if err != nil {
				return err
			}
			c, err := runtime.NewChecker(cfg)
			if err != nil {
				return err
			}
			defer c.Close()
			failed := 0
			for _, arg := range args {
				for _, res := range c.Check(context.Background(), arg) {
					if res.Err != nil {
						failed++
						fmt.Fprintf(cmd.OutOrStdout(), "FAIL %s (%s)\n     %s\n", res.Name, res.Path, indent(res.Err.Error()))
						continue
					}
					fmt.Fprintf(cmd.OutOrStdout(), "ok   %s (%s)%s\n", res.Name, res.Path, res.Detail)
				}
			}
			if failed > 0 {
				return &exitError{code: 1, err: fmt.Errorf("%d check(s) failed", failed)}
			}
			return nil
		},
	}
}

func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n     ") }

func configFlag(cmd *cobra.Command) string {
	p, _ := cmd.Flags().GetString("config")
	return p
}
