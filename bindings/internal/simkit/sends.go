package simkit

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// Sends is the record of the sends a simulator accepted, oldest first, with
// a signal that wakes whoever waits for more. The zero value is an empty
// record. Every method is safe for concurrent use; its lock is a leaf, so a
// simulator may Add while holding its own state lock, keeping the record in
// the order of its state changes.
type Sends[T any] struct {
	mu     sync.Mutex
	items  []T
	signal chan struct{} // closed and replaced by Add and Reset
}

// wakeLocked answers the channel the next Add or Reset closes. l.mu must be
// held.
func (l *Sends[T]) wakeLocked() chan struct{} {
	if l.signal == nil {
		l.signal = make(chan struct{})
	}
	return l.signal
}

// notifyLocked wakes every waiter. l.mu must be held.
func (l *Sends[T]) notifyLocked() {
	if l.signal != nil {
		close(l.signal)
		l.signal = nil
	}
}

// Add records a send and wakes the waiters.
func (l *Sends[T]) Add(t T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.items = append(l.items, t)
	l.notifyLocked()
}

// All answers a copy of the record, oldest first.
func (l *Sends[T]) All() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.items)
}

// Len counts the recorded sends.
func (l *Sends[T]) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.items)
}

// Reset empties the record and wakes the waiters (a waiter's position past
// the end starts again from the beginning).
func (l *Sends[T]) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.items = nil
	l.notifyLocked()
}

// Wait blocks until at least n sends are recorded and answers them all;
// when ctx ends first it answers those there are and the context's error.
func (l *Sends[T]) Wait(ctx context.Context, n int) ([]T, error) {
	for {
		l.mu.Lock()
		have, wake := len(l.items), l.wakeLocked()
		if have >= n {
			out := slices.Clone(l.items)
			l.mu.Unlock()
			return out, nil
		}
		l.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return l.All(), fmt.Errorf("wait for %d sends (have %d): %w", n, have, ctx.Err())
		}
	}
}

// Since answers the sends from index from on (from 0 when a Reset emptied
// the record since), that index, and a channel closed by the next Add or
// Reset.
func (l *Sends[T]) Since(from int) (int, []T, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if from > len(l.items) {
		from = 0
	}
	return from, slices.Clone(l.items[from:]), l.wakeLocked()
}
