package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/switchboard-dev/switchboard/runtime"
	"github.com/switchboard-dev/switchboard/runtime/config"
)

func replayCmd() *cobra.Command {
	var only, vendor string
	cmd := &cobra.Command{
		Use:   "replay EVENTS.jsonl",
		Short: "Feed recorded or seed events to plugins, bindings faked, and print what they did",
		Long: `Feed events to the plugins of scripts_dir and plugins_dir, one at a time, and print
each binding call they make. Nothing is sent: every call is checked against the
endpoint table and the plugin's permissions, recorded, and answered with {}.
KV lives in a throwaway store. Each line of EVENTS.jsonl is an event (the JSON a
plugin receives), or with --vendor a raw callback body of that vendor. "-" reads
standard input. Exits 1 when a handler failed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(configFlag(cmd), os.Environ())
			if err != nil {
				return err
			}
			var in io.Reader = cmd.InOrStdin()
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			}
			reg, err := runtime.Registry(cfg, nil)
			if err != nil {
				return err
			}
			events, err := runtime.ReadEvents(in, reg, vendor)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			out := cmd.OutOrStdout()
			failed := 0
			err = runtime.Replay(ctx, cfg, events, only, runtime.NewLogger(cfg.Log, cmd.ErrOrStderr()), func(r runtime.ReplayResult) {
				verdict := "ok"
				if r.Err != nil {
					verdict = "FAILED: " + r.Err.Error()
					failed++
				}
				fmt.Fprintf(out, "%s %s -> %s: %s (%s)\n", r.Event.ID, r.Event.Topic(), r.Plugin, verdict, r.Took.Round(10_000))
				for _, c := range r.Calls {
					args, _ := json.Marshal(c.Call.Args)
					line := fmt.Sprintf("    %s %s", c.Call, args)
					if c.Err != nil {
						line += "  refused: " + c.Err.Error()
					}
					fmt.Fprintln(out, line)
				}
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "%d events replayed\n", len(events))
			if failed > 0 {
				return &exitError{code: 1, err: fmt.Errorf("%d handler(s) failed", failed)}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&only, "plugin", "", "replay to this plugin only")
	cmd.Flags().StringVar(&vendor, "vendor", "", "the lines are raw callbacks of this vendor (quntool, wework, wechat)")
	return cmd
}
