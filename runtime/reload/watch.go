// Package reload keeps the running plugins in step with the plugin folders
// (SPEC §6, §7): a Watcher turns fsnotify events into debounced lists of
// changed plugin names, and a Manager loads each changed plugin, swaps the
// new version in only when it compiled and initialized, keeps the old one
// running when it did not, and unloads deleted plugins.
package reload

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/hashicorp/go-hclog"

	"github.com/switchboard-dev/switchboard/runtime/plugin"
)

// DefaultDebounce is how long a plugin's files must be quiet before it is
// reloaded: long enough for an editor's write-rename-chmod sequence.
const DefaultDebounce = 150 * time.Millisecond

// Watcher watches one plugin folder, recursively, and reports which
// plugins changed. It is started by Watch and stopped by cancelling the
// context given to Watch; Done is closed when it has stopped.
type Watcher struct {
	dir      string
	kind     plugin.Kind
	debounce time.Duration
	fsw      *fsnotify.Watcher
	log      hclog.Logger
	onChange func(names []string)
	done     chan struct{}

	mu      sync.Mutex
	pending map[string]bool
	timer   *time.Timer
}

// Watch starts watching dir (which must exist) for plugins of kind. After
// each burst of changes, once nothing changed for debounce, onChange is
// called with the sorted names of the plugins whose files changed
// (including deleted ones), or with All when changes were lost and the
// whole folder must be rescanned. onChange runs on the watcher's goroutine, one
// call at a time.
func Watch(ctx context.Context, dir string, kind plugin.Kind, debounce time.Duration, log hclog.Logger, onChange func(names []string)) (*Watcher, error) {
	if debounce <= 0 {
		debounce = DefaultDebounce
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", dir, err)
	}
	w := &Watcher{dir: dir, kind: kind, debounce: debounce, fsw: fsw, log: log.Named("watch"),
		onChange: onChange, done: make(chan struct{}), pending: map[string]bool{}}
	if err := w.addTree(dir); err != nil {
		fsw.Close()
		return nil, err
	}
	fire := make(chan struct{}, 1)
	go w.loop(ctx, fire)
	return w, nil
}

// Done is closed when the watcher has stopped.
func (w *Watcher) Done() <-chan struct{} { return w.done }

// addTree watches dir and every folder below it.
func (w *Watcher) addTree(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			if err := w.fsw.Add(p); err != nil {
				return fmt.Errorf("watch %s: %w", p, err)
			}
		}
		return nil
	})
}

func (w *Watcher) loop(ctx context.Context, fire chan struct{}) {
	defer close(w.done)
	defer w.fsw.Close()
	for {
		select {
		case <-ctx.Done():
			w.mu.Lock()
			if w.timer != nil {
				w.timer.Stop()
			}
			w.mu.Unlock()
			return
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return
			}
			w.log.Warn("file watcher error; rescanning everything", "dir", w.dir, "error", err)
			w.markAll()
			w.arm(fire)
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return
			}
			if ev.Op&fsnotify.Create != 0 {
				if st, err := os.Stat(ev.Name); err == nil && st.IsDir() {
					if err := w.addTree(ev.Name); err != nil {
						w.log.Warn("cannot watch new folder", "path", ev.Name, "error", err)
					}
				}
			}
			name := plugin.NameFor(w.dir, ev.Name, w.kind)
			if name == "" {
				continue
			}
			w.mu.Lock()
			w.pending[name] = true
			w.mu.Unlock()
			w.arm(fire)
		case <-fire:
			w.mu.Lock()
			names := make([]string, 0, len(w.pending))
			for n := range w.pending {
				names = append(names, n)
			}
			w.pending = map[string]bool{}
			w.mu.Unlock()
			if len(names) > 0 {
				sort.Strings(names)
				w.onChange(names)
			}
		}
	}
}

// arm (re)starts the debounce timer.
func (w *Watcher) arm(fire chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
	}
	w.timer = time.AfterFunc(w.debounce, func() {
		select {
		case fire <- struct{}{}:
		default:
		}
	})
}

// All is the name reported when individual changes were lost (a watcher
// overflow): the receiver must rescan the whole folder.
const All = "*"

func (w *Watcher) markAll() {
	w.mu.Lock()
	w.pending[All] = true
	w.mu.Unlock()
}
