package simkit

import (
	"sync"
	"testing"
	"time"
)

func TestManualClock(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := NewManualClock(start)
	if !c.Now().Equal(start) {
		t.Fatalf("Now = %v, want %v", c.Now(), start)
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Advance(time.Second)
			_ = c.Now()
		}()
	}
	wg.Wait()
	if want := start.Add(10 * time.Second); !c.Now().Equal(want) {
		t.Errorf("after 10 concurrent seconds Now = %v, want %v", c.Now(), want)
	}
	c.Advance(-time.Minute)
	if want := start.Add(-50 * time.Second); !c.Now().Equal(want) {
		t.Errorf("after going back a minute Now = %v, want %v", c.Now(), want)
	}
}
