package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/callscreen/callscreen/cdr"
	"github.com/callscreen/callscreen/outbound"
)

// events records what the webhook was told.
type events struct {
	mu  sync.Mutex
	got []Event
	err error
}

func (e *events) Send(_ context.Context, ev any) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, ev.(Event))
	return e.err
}

func (e *events) names() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, ev := range e.got {
		out = append(out, ev.Event+" "+ev.Number)
	}
	return out
}

// flaky fails while err is set, else reads through.
type flaky struct {
	Source
	err error
}

func (f *flaky) Read(ctx context.Context, fn func(*cdr.Record) error) (cdr.Stats, error) {
	if f.err != nil {
		return cdr.Stats{}, f.err
	}
	return f.Source.Read(ctx, fn)
}

// logLines returns the JSON log records whose msg is msg.
func logLines(buf *bytes.Buffer, msg string) []map[string]any {
	var out []map[string]any
	for _, l := range strings.Split(buf.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// longCall is a healthy answered call of +15551230001 on 2 December.
func longCall(id string) string {
	return `"","+15551230001","12125551` + id + `","outbound","""Acme"" <+15551230001>","Local/x;2","","Dial","x","2026-12-02 09:00:00","2026-12-02 09:00:00","2026-12-02 09:05:00",300,300,"ANSWERED","DOCUMENTATION","9` + id + `.1",""` + "\n"
}

func TestMonitor(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "Master.csv")
	fixture, err := os.ReadFile("../../cdr/testdata/Master-outbound.csv")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, fixture, 0o644); err != nil {
		t.Fatal(err)
	}
	src := &flaky{Source: cdr.NewFollower(path, cdr.CSVOptions{Layout: cdr.DefaultLayout})}
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	hook := &events{}
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	th := outbound.DefaultThresholds()
	th.MinCalls = 4
	m := New(Options{
		Source: src, SourceName: path, WindowDays: 7, Refresh: time.Hour, Webhook: hook,
		Aggregator: outbound.Options{Thresholds: th},
		Logger:     slog.New(slog.NewJSONHandler(&logs, nil)), Metrics: NewMetrics(reg),
		Now: func() time.Time { return now },
	})
	ctx := context.Background()

	// 1. Both numbers cross the short-call threshold: an ERROR line and a
	// webhook event each, and their gauges.
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	m.Wait()
	alerts := logLines(&logs, "outbound number likely to be labelled spam")
	if len(alerts) != 2 || alerts[0]["level"] != "ERROR" || alerts[0]["number"] != "+15551230002" ||
		alerts[0]["summary"] != "likely to be labelled spam: 100% of answered calls under 6 s, 40% of calls to unreachable numbers" {
		t.Fatalf("alerts: %v\n%s", alerts, logs.String())
	}
	if got := strings.Join(hook.names(), ","); got != "outbound.likely_spam +15551230002,outbound.likely_spam +15551230001" &&
		got != "outbound.likely_spam +15551230001,outbound.likely_spam +15551230002" {
		t.Fatalf("webhook: %s", got)
	}
	if v := testutil.ToFloat64(m.m.likelySpam.WithLabelValues("+15551230001")); v != 1 {
		t.Errorf("likely_spam gauge %v", v)
	}
	if v := testutil.ToFloat64(m.m.unreachableShare.WithLabelValues("+15551230002")); v != 0.4 {
		t.Errorf("unreachable share gauge %v", v)
	}
	st, _ := m.Status(ctx)
	if st.Error != "" || st.Since != "2026-12-01" || len(st.Numbers) != 2 || st.Updated.IsZero() || st.Source != path {
		t.Fatalf("status %+v", st)
	}

	// 2. Nothing new: no new alert.
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	m.Wait()
	if n := len(logLines(&logs, "outbound number likely to be labelled spam")); n != 2 || len(hook.names()) != 2 {
		t.Fatalf("a second refresh alerted again: %d lines, %v", n, hook.names())
	}

	// 3. The source fails: an ERROR line, the error in the status, the
	// last report kept.
	src.err = errors.New("cdr file: permission denied")
	if err := m.Refresh(ctx); err == nil {
		t.Fatal("no error")
	}
	st, _ = m.Status(ctx)
	if st.Error != "cdr file: permission denied" || len(st.Numbers) != 2 {
		t.Fatalf("status after a failure %+v", st)
	}
	if f := logLines(&logs, "outbound: reading the CDRs failed; screening goes on, the next refresh tries again"); len(f) != 1 || f[0]["level"] != "ERROR" {
		t.Fatalf("failure lines %v", f)
	}
	if v := testutil.ToFloat64(m.m.refreshes.WithLabelValues("error")); v != 1 {
		t.Errorf("refresh errors %v", v)
	}
	src.err = nil

	// 4. +15551230001 places 20 long calls: no longer flagged.
	var more strings.Builder
	for i := range 20 {
		more.WriteString(longCall(string(rune('A' + i))))
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(more.String()); err != nil {
		t.Fatal(err)
	}
	f.Close()
	hook.mu.Lock()
	hook.err = errors.New("webhook https://hooks.example.com/x: gave up after 4 attempts: answered 503 Service Unavailable")
	hook.mu.Unlock()
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	m.Wait()
	if got := hook.names(); len(got) != 3 || got[2] != "outbound.recovered +15551230001" {
		t.Fatalf("webhook after recovery: %v", got)
	}
	// The delivery failed: logged once and counted, nothing else changes.
	if f := logLines(&logs, "outbound: webhook delivery failed"); len(f) != 1 || f[0]["level"] != "ERROR" || f[0]["event"] != "outbound.recovered" {
		t.Fatalf("delivery failure lines %v", f)
	}
	if v := testutil.ToFloat64(m.m.webhooks.WithLabelValues("error")); v != 1 {
		t.Errorf("failed deliveries %v", v)
	}
	if v := testutil.ToFloat64(m.m.webhooks.WithLabelValues("ok")); v != 2 {
		t.Errorf("delivered %v", v)
	}
	if r := logLines(&logs, "outbound number no longer crosses a threshold"); len(r) != 1 || r[0]["level"] != "INFO" {
		t.Fatalf("recovery lines %v", r)
	}

	// 5. A week later the calls have left the window: no numbers, no
	// series.
	now = now.AddDate(0, 0, 7)
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	st, _ = m.Status(ctx)
	if len(st.Numbers) != 0 || testutil.CollectAndCount(m.m.calls) != 0 {
		t.Fatalf("a week later: %+v, %d series", st.Numbers, testutil.CollectAndCount(m.m.calls))
	}
}
