package screen

import (
	"fmt"
	"sync"
	"testing"

	"github.com/callscreen/callscreen/number"
)

func TestNumberCache(t *testing.T) {
	c := newNumberCache(64)
	for _, raw := range []string{"+12125551234", "2125551234", "anonymous", "", "911", "\xff", "+44 20 7946 0958", "(212) 555-1234"} {
		if got, want := c.parse(raw, "US"), number.Parse(raw, "US"); got != want {
			t.Errorf("parse(%q) = %+v; want %+v", raw, got, want)
		}
		if got, want := c.parse(raw, "US"), number.Parse(raw, "US"); got != want {
			t.Errorf("cached parse(%q) = %+v; want %+v", raw, got, want)
		}
	}
	if got := c.parse("2125551234", "GB"); got.Region == "US" {
		t.Errorf("region not part of the key: %+v", got)
	}
	// Bounded: far more distinct numbers than the size.
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				raw := fmt.Sprintf("(212) %03d-%04d", 200+g, i)
				if n, want := c.parse(raw, "US"), fmt.Sprintf("+1212%03d%04d", 200+g, i); n.E164 != want {
					t.Errorf("parse(%q) = %+v", raw, n)
					return
				}
			}
		}()
	}
	wg.Wait()
	total := 0
	for i := range c.shards {
		total += len(c.shards[i].m)
	}
	if total > 64 {
		t.Fatalf("cache holds %d numbers; bound is 64", total)
	}
	if total < 16 {
		t.Fatalf("cache holds %d numbers after 2,000 that need the library", total)
	}
	// Text too long to be a number is not cached, nor what
	// number.ParseFast reads without the library.
	c = newNumberCache(64)
	for _, raw := range []string{"+1212555123412345678901234567890123", "+12125551234", "2125551234", "12125551234", "anonymous", "abc"} {
		if got, want := c.parse(raw, "US"), number.Parse(raw, "US"); got != want {
			t.Errorf("parse(%q) = %+v; want %+v", raw, got, want)
		}
	}
	for i := range c.shards {
		for k := range c.shards[i].m {
			t.Errorf("%q was cached", k.raw)
		}
	}
}
