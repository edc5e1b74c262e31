package ari_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/callscreen/callscreen/ari"
)

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2025-01-31T12:34:56.789-0500", time.Date(2025, 1, 31, 17, 34, 56, 789e6, time.UTC)},
		{"2026-11-22T03:24:06.965+0000", time.Date(2026, 11, 22, 3, 24, 6, 965e6, time.UTC)},
		{"2026-11-22T03:24:06+0130", time.Date(2026, 11, 22, 1, 54, 6, 0, time.UTC)},
		{"2026-11-22T03:24:06.965Z", time.Date(2026, 11, 22, 3, 24, 6, 965e6, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ari.ParseTime(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tt.want) {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
	for _, bad := range []string{"", "yesterday", "2025-01-31 12:34:56", "2025-01-31T12:34:56.789-05:00:00"} {
		t.Run("bad "+bad, func(t *testing.T) {
			if _, err := ari.ParseTime(bad); err == nil {
				t.Errorf("ParseTime(%q) = nil error", bad)
			}
		})
	}
	t.Run("round trip", func(t *testing.T) {
		in := ari.Time{Time: time.Date(2025, 1, 31, 12, 34, 56, 789e6, time.FixedZone("", -5*3600))}
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != `"2025-01-31T12:34:56.789-0500"` {
			t.Errorf("marshalled %s", b)
		}
		var out ari.Time
		if err := json.Unmarshal(b, &out); err != nil || !out.Equal(in.Time) {
			t.Errorf("unmarshalled %v, %v", out, err)
		}
	})
}

// captureEvents returns every event message of the captures in testdata.
func captureEvents(t testing.TB) [][]byte {
	t.Helper()
	files, err := filepath.Glob("testdata/*.jsonl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures: %v", err)
	}
	var out [][]byte
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var e struct {
				Kind string          `json:"kind"`
				Data json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatal(err)
			}
			if e.Kind == "event" {
				out = append(out, e.Data)
			}
		}
		fh.Close()
	}
	return out
}

func TestParseEventCaptures(t *testing.T) {
	seen := map[string]int{}
	for _, data := range captureEvents(t) {
		ev, err := ari.ParseEvent(data)
		if err != nil {
			t.Fatalf("%s: %v", data, err)
		}
		h := ev.EventHeader()
		seen[h.Type]++
		if h.Timestamp.IsZero() || h.Application != "capture" || h.AsteriskID == "" {
			t.Errorf("%s: header %+v", h.Type, h)
		}
		switch e := ev.(type) {
		case *ari.StasisStart:
			if e.Channel.ID == "" || len(e.Args) == 0 || e.Args[0] != "profile=support" {
				t.Errorf("StasisStart: %+v", e)
			}
			if !e.Channel.InApp("capture") || e.Channel.InApp("other") {
				t.Errorf("InApp wrong for %+v", e.Channel.Dialplan)
			}
			if e.Channel.CreationTime.IsZero() {
				t.Error("StasisStart: no creationtime")
			}
		case *ari.ChannelDtmfReceived:
			if len(e.Digit) != 1 || e.DurationMS != 100 {
				t.Errorf("DTMF: %+v", e)
			}
		case *ari.PlaybackStarted:
			if e.Playback.ChannelID() == "" || e.Playback.State != "playing" {
				t.Errorf("PlaybackStarted: %+v", e.Playback)
			}
		case *ari.PlaybackFinished:
			if e.Playback.ChannelID() == "" || (e.Playback.State != "done" && e.Playback.State != "failed") {
				t.Errorf("PlaybackFinished: %+v", e.Playback)
			}
		case *ari.ChannelHangupRequest:
			if e.Cause != 16 || e.Soft {
				t.Errorf("ChannelHangupRequest: %+v", e)
			}
		case *ari.ChannelVarset:
			if e.Variable == "" || e.Channel == nil {
				t.Errorf("ChannelVarset: %+v", e)
			}
		case *ari.StasisEnd:
		default:
			t.Errorf("unexpected %T", ev)
		}
	}
	for _, typ := range []string{"StasisStart", "StasisEnd", "ChannelDtmfReceived", "PlaybackStarted", "PlaybackFinished", "ChannelHangupRequest", "ChannelVarset"} {
		if seen[typ] == 0 {
			t.Errorf("captures have no %s", typ)
		}
	}
}

func TestParseEvent(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		check   func(t *testing.T, ev ari.Event)
		wantErr bool
	}{
		{
			name: "unknown type is not fatal",
			in:   `{"type":"ChannelTalkingStarted","timestamp":"2025-01-31T12:34:56.789-0500","channel":{"id":"1.1"}}`,
			check: func(t *testing.T, ev ari.Event) {
				o, ok := ev.(*ari.OtherEvent)
				if !ok || o.Type != "ChannelTalkingStarted" || len(o.Raw) == 0 {
					t.Errorf("got %#v", ev)
				}
			},
		},
		{
			name: "soft hangup",
			in:   `{"type":"ChannelHangupRequest","soft":true,"cause":32,"channel":{"id":"1.2"}}`,
			check: func(t *testing.T, ev ari.Event) {
				e := ev.(*ari.ChannelHangupRequest)
				if !e.Soft || e.Cause != 32 || e.Channel.ID != "1.2" {
					t.Errorf("got %+v", e)
				}
			},
		},
		{
			name: "destroyed",
			in:   `{"type":"ChannelDestroyed","cause":16,"cause_txt":"Normal Clearing","channel":{"id":"1.3"}}`,
			check: func(t *testing.T, ev ari.Event) {
				e := ev.(*ari.ChannelDestroyed)
				if e.Cause != 16 || e.CauseTxt != "Normal Clearing" {
					t.Errorf("got %+v", e)
				}
			},
		},
		{
			name: "global varset has no channel",
			in:   `{"type":"ChannelVarset","variable":"G","value":"1"}`,
			check: func(t *testing.T, ev ari.Event) {
				if e := ev.(*ari.ChannelVarset); e.Channel != nil {
					t.Errorf("got %+v", e)
				}
			},
		},
		{
			name: "replaced",
			in:   `{"type":"ApplicationReplaced","application":"callscreen"}`,
			check: func(t *testing.T, ev ari.Event) {
				if _, ok := ev.(*ari.ApplicationReplaced); !ok {
					t.Errorf("got %T", ev)
				}
			},
		},
		{
			name: "empty timestamp",
			in:   `{"type":"StasisEnd","timestamp":"","channel":{"id":"1.4"}}`,
			check: func(t *testing.T, ev ari.Event) {
				if !ev.EventHeader().Timestamp.IsZero() {
					t.Error("want zero timestamp")
				}
			},
		},
		{name: "not json", in: `{"type":`, wantErr: true},
		{name: "array", in: `[1,2]`, wantErr: true},
		{name: "no type", in: `{"channel":{"id":"1.1"}}`, wantErr: true},
		{name: "start without channel id", in: `{"type":"StasisStart","args":[],"channel":{}}`, wantErr: true},
		{name: "dtmf without channel", in: `{"type":"ChannelDtmfReceived","digit":"1"}`, wantErr: true},
		{name: "bad timestamp", in: `{"type":"StasisEnd","timestamp":"noon","channel":{"id":"1"}}`, wantErr: true},
		{name: "wrong field type", in: `{"type":"StasisStart","args":"profile=x","channel":{"id":"1"}}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := ari.ParseEvent([]byte(tt.in))
			if tt.wantErr {
				if !errors.Is(err, ari.ErrBadEvent) {
					t.Fatalf("err = %v, want ErrBadEvent", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, ev)
		})
	}
}

func FuzzParseEvent(f *testing.F) {
	for _, data := range captureEvents(f) {
		f.Add(data)
	}
	f.Add([]byte(`{"type":"ChannelDtmfReceived","digit":"#","channel":{"id":"x"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := ari.ParseEvent(data)
		if err != nil {
			if !errors.Is(err, ari.ErrBadEvent) {
				t.Fatalf("error %v does not wrap ErrBadEvent", err)
			}
			return
		}
		if ev.EventHeader().Type == "" {
			t.Fatal("event without type")
		}
		// What parsed must survive a round trip.
		if _, ok := ev.(*ari.OtherEvent); ok {
			return
		}
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		if _, err := ari.ParseEvent(b); err != nil {
			t.Fatalf("re-parse %s: %v", b, err)
		}
	})
}

func BenchmarkParseEvent(b *testing.B) {
	events := captureEvents(b)
	var size int
	for _, e := range events {
		size += len(e)
	}
	b.SetBytes(int64(size / len(events)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := ari.ParseEvent(events[i%len(events)]); err != nil {
			b.Fatal(err)
		}
	}
}
