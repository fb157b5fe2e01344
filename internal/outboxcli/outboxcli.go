// Package outboxcli is `switchboard outbox ls [--dead] | retry ID | drop ID
// | stats`: ops' view of the durable outbox of sends (SPEC §10). It works on
// the store in data_dir when Switchboard is stopped, and through the admin
// API of the running process (/admin/outbox) when that process holds the
// store.
//
// Command builds a new cobra command per call; it holds no state.
package outboxcli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchboard-dev/switchboard/internal/adminclient"
	"github.com/switchboard-dev/switchboard/runtime/config"
	"github.com/switchboard-dev/switchboard/runtime/outbox"
	"github.com/switchboard-dev/switchboard/runtime/storage"
)

// Backend is what the command acts on: an *outbox.Outbox over the stopped
// store, or the running process's admin API.
type Backend interface {
	List(s outbox.State, limit int) ([]outbox.Entry, error)
	Retry(id string) (outbox.Entry, error)
	Drop(id string) error
	Stats() (outbox.Stats, error)
}

// Command returns the outbox command; load reads the configuration (data_dir,
// listen, admin token) when a subcommand runs.
func Command(load func() (*config.Config, error)) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "outbox",
		Short: "Inspect, retry and drop stored sends",
		Long: `Inspect the durable outbox of sends: the pending sends not yet accepted by their vendor, and
the dead letters (sends that failed permanently, or too many times). A dead letter can be
retried (sent again, attempts reset) or dropped. Works on the store in data_dir when
Switchboard is stopped, and through the admin API of the running process otherwise.`,
	}
	var dead, asJSON bool
	var limit int
	ls := &cobra.Command{
		Use: "ls", Short: "List pending sends (or dead letters with --dead)", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if limit <= 0 {
				return fmt.Errorf("--limit %d: want a positive number", limit)
			}
			state := outbox.Pending
			if dead {
				state = outbox.Dead
			}
			return with(load, func(b Backend) error {
				entries, err := b.List(state, limit)
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(c.OutOrStdout(), entries)
				}
				return printEntries(c.OutOrStdout(), entries)
			})
		},
	}
	ls.Flags().BoolVar(&dead, "dead", false, "list the dead letters instead of the pending sends")
	ls.Flags().IntVar(&limit, "limit", outbox.DefaultListLimit, "at most this many entries")
	ls.Flags().BoolVar(&asJSON, "json", false, "print the entries as JSON")

	retry := &cobra.Command{
		Use: "retry ID", Short: "Send an entry again now (a dead letter goes back to pending)", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return with(load, func(b Backend) error {
				e, err := b.Retry(args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(c.OutOrStdout(), "%s pending: %s to %s\n", e.ID, e.Call(), e.Conversation)
				return nil
			})
		},
	}
	drop := &cobra.Command{
		Use: "drop ID", Short: "Delete an entry, pending or dead", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return with(load, func(b Backend) error {
				if err := b.Drop(args[0]); err != nil {
					return err
				}
				fmt.Fprintf(c.OutOrStdout(), "%s dropped\n", args[0])
				return nil
			})
		},
	}
	stats := &cobra.Command{
		Use: "stats", Short: "Count pending and dead entries (and, on a running process, sends)", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return with(load, func(b Backend) error {
				st, err := b.Stats()
				if err != nil {
					return err
				}
				return printJSON(c.OutOrStdout(), st)
			})
		},
	}
	cmd.AddCommand(ls, retry, drop, stats)
	return cmd
}

// with runs fn on the outbox: in the store when it can be opened, else
// through the running process's admin API.
func with(load func() (*config.Config, error), fn func(Backend) error) error {
	cfg, err := load()
	if err != nil {
		return err
	}
	db, err := storage.Open(cfg.DataDir, storage.Options{})
	if errors.Is(err, storage.ErrLocked) {
		c := adminclient.For(cfg)
		c.Base += "/outbox"
		return fn(&Remote{C: c})
	}
	if err != nil {
		return err
	}
	ob, err := outbox.Open(db, outbox.Options{})
	if err != nil {
		_ = db.Close()
		return err
	}
	err = fn(ob)
	if cerr := ob.Close(); err == nil {
		err = cerr
	}
	if cerr := db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close store: %w", cerr)
	}
	return err
}

// Remote is the outbox of a running process, through its admin API
// (outbox.Handler). Safe for concurrent use.
type Remote struct{ C *adminclient.Client }

func (r *Remote) do(method, path string, v any) error {
	data, err := r.C.Do(method, path, nil)
	if errors.Is(err, adminclient.ErrNotFound) {
		return fmt.Errorf("%w: %v", outbox.ErrNotFound, err)
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	return nil
}

// List implements Backend.
func (r *Remote) List(s outbox.State, limit int) ([]outbox.Entry, error) {
	q := url.Values{"state": {string(s)}, "limit": {fmt.Sprint(limit)}}
	var page outbox.ListPage
	if err := r.do(http.MethodGet, "?"+q.Encode(), &page); err != nil {
		return nil, err
	}
	return page.Entries, nil
}

// Retry implements Backend.
func (r *Remote) Retry(id string) (outbox.Entry, error) {
	var e outbox.Entry
	err := r.do(http.MethodPost, "/retry/"+url.PathEscape(id), &e)
	return e, err
}

// Drop implements Backend.
func (r *Remote) Drop(id string) error {
	var v map[string]string
	return r.do(http.MethodPost, "/drop/"+url.PathEscape(id), &v)
}

// Stats implements Backend.
func (r *Remote) Stats() (outbox.Stats, error) {
	var st outbox.Stats
	err := r.do(http.MethodGet, "/stats", &st)
	return st, err
}

func printEntries(w io.Writer, entries []outbox.Entry) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCREATED\tATTEMPTS\tCALL\tPLUGIN/SEND KEY\tCONVERSATION\tNEXT\tLAST ERROR")
	for _, e := range entries {
		next := "-"
		if !e.NextAttempt.IsZero() {
			next = e.NextAttempt.Local().Format(time.DateTime)
		}
		last := "-"
		if e.LastError != nil {
			last = strings.ReplaceAll(fmt.Sprintf("%v %s", e.LastError.Code, e.LastError.Message), "\n", " ")
		}
		// The send key names the plugin, the event (journal seq) and the
		// send's number within it; the plugin alone for other sends.
		plugin := e.Key
		if plugin == "" {
			plugin = e.Plugin
		}
		if plugin == "" {
			plugin = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.Created.Local().Format(time.DateTime),
			e.Attempts, e.Call(), plugin, e.Conversation, next, last)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("print entries: %w", err)
	}
	if len(entries) == 0 {
		_, err := fmt.Fprintln(w, "(none)")
		return err
	}
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("print JSON: %w", err)
	}
	return nil
}
