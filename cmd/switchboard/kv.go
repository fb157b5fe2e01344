package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchboard-dev/switchboard/internal/adminclient"
	"github.com/switchboard-dev/switchboard/kv"
	badgerkv "github.com/switchboard-dev/switchboard/kv/badger"
	"github.com/switchboard-dev/switchboard/runtime/config"
	"github.com/switchboard-dev/switchboard/runtime/storage"
)

// kvCmd is `switchboard kv get|set|del|ls --plugin NAME`: on the stopped
// store in data_dir, or, when a running process holds it, through that
// process's admin API.
func kvCmd() *cobra.Command {
	var pluginName string
	cmd := &cobra.Command{
		Use:   "kv",
		Short: "Read and change a plugin's key-value store",
		Long: `Read and change a plugin's key-value namespace. Works on the store in data_dir when
Switchboard is stopped, and through the admin API of the running process otherwise.
Values are JSON: set takes a JSON value ('"text"', '42', '{"a":1}').`,
	}
	cmd.PersistentFlags().StringVar(&pluginName, "plugin", "", "the plugin whose namespace to use (required)")
	_ = cmd.MarkPersistentFlagRequired("plugin")

	var prefix string
	var limit int
	ls := &cobra.Command{
		Use: "ls", Short: "List keys and values", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return withBucket(c, pluginName, func(b kvBackend) error {
				cursor := ""
				for shown := 0; shown < limit; {
					items, next, err := b.List(prefix, min(kv.MaxListLimit, limit-shown), cursor)
					if err != nil {
						return err
					}
					for _, it := range items {
						exp := ""
						if it.ExpiresAt > 0 {
							exp = "  (expires " + time.Unix(it.ExpiresAt, 0).Format(time.RFC3339) + ")"
						}
						fmt.Fprintf(c.OutOrStdout(), "%s\t%s%s\n", it.Key, it.Value, exp)
					}
					shown += len(items)
					if next == "" {
						break
					}
					cursor = next
				}
				return nil
			})
		},
	}
	ls.Flags().StringVar(&prefix, "prefix", "", "only keys starting with this")
	ls.Flags().IntVar(&limit, "limit", 1000, "at most this many keys")

	get := &cobra.Command{
		Use: "get KEY", Short: "Print a key's JSON value", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return withBucket(c, pluginName, func(b kvBackend) error {
				v, err := b.Get(args[0])
				if err != nil {
					return err
				}
				fmt.Fprintln(c.OutOrStdout(), string(v))
				return nil
			})
		},
	}
	var ttl time.Duration
	set := &cobra.Command{
		Use: "set KEY JSON", Short: "Set a key to a JSON value", Args: cobra.ExactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			if !json.Valid([]byte(args[1])) {
				return fmt.Errorf("value %q is not JSON: quote strings ('\"text\"')", args[1])
			}
			return withBucket(c, pluginName, func(b kvBackend) error {
				return b.Set(args[0], json.RawMessage(args[1]), ttl)
			})
		},
	}
	set.Flags().DurationVar(&ttl, "ttl", 0, "expire after this long (0: never)")
	del := &cobra.Command{
		Use: "del KEY", Short: "Delete a key", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return withBucket(c, pluginName, func(b kvBackend) error { return b.Delete(args[0]) })
		},
	}
	cmd.AddCommand(ls, get, set, del)
	return cmd
}

// kvBackend is what the kv command needs of a namespace.
type kvBackend interface {
	Get(key string) (json.RawMessage, error)
	Set(key string, value json.RawMessage, ttl time.Duration) error
	Delete(key string) error
	List(prefix string, limit int, cursor string) ([]kv.Item, string, error)
}

// withBucket runs fn on the plugin's namespace: in the store when it can be
// opened, else through the running process's admin API.
func withBucket(cmd *cobra.Command, plugin string, fn func(kvBackend) error) error {
	cfg, err := config.Load(configFlag(cmd), os.Environ())
	if err != nil {
		return err
	}
	db, err := storage.Open(cfg.DataDir, storage.Options{})
	if err == nil {
		defer db.Close()
		store := badgerkv.New(db)
		err := fn(store.Bucket(plugin))
		return errors.Join(err, store.Close())
	}
	if !errors.Is(err, storage.ErrLocked) {
		return err
	}
	c := adminclient.For(cfg)
	c.Base += "/kv/" + url.PathEscape(plugin)
	return fn(&adminKV{c})
}

// adminKV is a namespace reached through the admin API.
type adminKV struct{ c *adminclient.Client }

func (a *adminKV) do(method, path string, body []byte) ([]byte, error) {
	data, err := a.c.Do(method, path, body)
	if errors.Is(err, adminclient.ErrNotFound) {
		return nil, kv.ErrNotFound
	}
	return data, err
}

func (a *adminKV) Get(key string) (json.RawMessage, error) {
	data, err := a.do(http.MethodGet, "/"+url.PathEscape(key), nil)
	if err != nil {
		return nil, err
	}
	var v struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("admin API: %w", err)
	}
	return v.Value, nil
}

func (a *adminKV) Set(key string, value json.RawMessage, ttl time.Duration) error {
	q := ""
	if ttl > 0 {
		q = fmt.Sprintf("?ttl=%d", int(ttl.Seconds()))
	}
	_, err := a.do(http.MethodPut, "/"+url.PathEscape(key)+q, value)
	return err
}

func (a *adminKV) Delete(key string) error {
	_, err := a.do(http.MethodDelete, "/"+url.PathEscape(key), nil)
	if errors.Is(err, kv.ErrNotFound) {
		return nil
	}
	return err
}

func (a *adminKV) List(prefix string, limit int, cursor string) ([]kv.Item, string, error) {
	q := url.Values{"prefix": {prefix}, "limit": {fmt.Sprint(limit)}, "cursor": {cursor}}
	data, err := a.do(http.MethodGet, "?"+q.Encode(), nil)
	if err != nil {
		return nil, "", err
	}
	var page struct {
		Items  []kv.Item `json:"items"`
		Cursor string    `json:"cursor"`
	}
	if err := json.Unmarshal(data, &page); err != nil {
		return nil, "", fmt.Errorf("admin API: %w", err)
	}
	return page.Items, page.Cursor, nil
}
