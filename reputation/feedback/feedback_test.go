package feedback

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/callscreen/callscreen/internal/csvsafe"
	"github.com/callscreen/callscreen/internal/redistest"
	"github.com/callscreen/callscreen/internal/timingtest"
	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/redisconn"
	"github.com/callscreen/callscreen/reputation"
)

const num = "+12125551234"

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func TestParseKind(t *testing.T) {
	tests := []struct {
		in   string
		want Kind
		err  bool
	}{
		{"spam", Spam, false},
		{"SPAM", Spam, false},
		{"not-spam", NotSpam, false},
		{"ok", NotSpam, false},
		{"maybe", "", true},
		{"", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseKind(tt.in)
			if got != tt.want || (err != nil) != tt.err {
				t.Fatalf("ParseKind(%q) = %q, %v", tt.in, got, err)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	long := strings.Repeat("é", MaxNote) // 2 bytes each
	tests := []struct {
		name string
		r    Report
		err  string
	}{
		{"ok", Report{Number: num, Kind: Spam, Time: t0}, ""},
		{"bad kind", Report{Number: num, Kind: "perhaps", Time: t0}, `report kind "perhaps": want spam or not-spam: invalid report`},
		{"national form", Report{Number: "2125551234", Kind: Spam, Time: t0}, `report number "2125551234": want an E.164 number such as +12125551234: invalid report`},
		{"not a number", Report{Number: "anonymous", Kind: Spam, Time: t0}, `report number "anonymous": want an E.164 number such as +12125551234: invalid report`},
		{"no time", Report{Number: num, Kind: Spam}, "report time missing: invalid report"},
		{"long note cut", Report{Number: num, Kind: Spam, Time: t0, Note: long}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.r.Validate()
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(tt.r.Note) > MaxNote || !strings.HasPrefix(long, tt.r.Note) {
					t.Fatalf("note %d bytes, not cut on a rune boundary at %d", len(tt.r.Note), MaxNote)
				}
				return
			}
			if err == nil || err.Error() != tt.err || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate = %v; want %q", err, tt.err)
			}
		})
	}
}

// stores runs a test against every Store implementation.
func stores(t *testing.T) map[string]func(t *testing.T) Store {
	return map[string]func(t *testing.T) Store{
		"memory": func(t *testing.T) Store { return NewMemoryStore() },
		"file": func(t *testing.T) Store {
			s, err := OpenFile(filepath.Join(t.TempDir(), "data", FileName))
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"redis": func(t *testing.T) Store {
			srv := redistest.Start(t)
			rdb, err := redisconn.New(redisconn.Options{Addrs: []string{srv.Addr()}, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { rdb.Close() })
			return NewRedisStore(rdb)
		},
	}
}

func TestStores(t *testing.T) {
	ctx := context.Background()
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			if _, ok, err := s.Get(ctx, "", num); ok || err != nil {
				t.Fatalf("empty store Get = %v, %v", ok, err)
			}
			if err := s.Put(ctx, Report{Number: "12", Kind: Spam, Time: t0}); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Put(bad) = %v; want ErrInvalid", err)
			}
			must(t, s.Put(ctx, Report{Number: num, Kind: Spam, Note: "robocall", Agent: "ann", Time: t0}))
			must(t, s.Put(ctx, Report{Tenant: "acme", Number: num, Kind: NotSpam, Time: t0.Add(time.Minute)}))
			must(t, s.Put(ctx, Report{Number: "+12125550000", Kind: Spam, Time: t0.Add(time.Hour)}))
			// The latest report for a number wins.
			must(t, s.Put(ctx, Report{Number: "+12125550000", Kind: NotSpam, Note: "our courier", Time: t0.Add(2 * time.Hour)}))

			r, ok, err := s.Get(ctx, "", num)
			if err != nil || !ok || r.Kind != Spam || r.Note != "robocall" || r.Agent != "ann" || !r.Time.Equal(t0) {
				t.Fatalf("Get = %+v %v %v", r, ok, err)
			}
			if r, ok, _ := s.Get(ctx, "acme", num); !ok || r.Kind != NotSpam {
				t.Fatalf("tenant acme: %+v %v", r, ok)
			}
			if r, _, _ := s.Get(ctx, "", "+12125550000"); r.Kind != NotSpam || r.Note != "our courier" {
				t.Fatalf("latest report did not win: %+v", r)
			}
			list, err := s.List(ctx, "")
			if err != nil || len(list) != 2 || list[0].Number != num || list[1].Number != "+12125550000" {
				t.Fatalf("List = %+v, %v", list, err)
			}
			must(t, s.Delete(ctx, "", num))
			must(t, s.Delete(ctx, "", "+19999999999")) // absent: not an error
			if _, ok, _ := s.Get(ctx, "", num); ok {
				t.Fatal("deleted report still there")
			}
			if _, ok, _ := s.Get(ctx, "acme", num); !ok {
				t.Fatal("deleting the default tenant's report removed acme's")
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestSource(t *testing.T) {
	ctx := context.Background()
	st := NewMemoryStore()
	must(t, st.Put(ctx, Report{Number: num, Kind: Spam, Note: "sales robocall", Time: t0}))
	must(t, st.Put(ctx, Report{Number: "+12125550000", Kind: NotSpam, Time: t0}))
	src := NewSource(st, SourceOptions{Now: func() time.Time { return t0.Add(time.Hour) }})
	tests := []struct {
		caller  string
		tier    policy.Tier
		reasons []policy.Reason
	}{
		{num, policy.TierSpam, []policy.Reason{policy.CallerReportedSpam}},
		{"+12125550000", "", []policy.Reason{policy.CallerReportedOK}},
		{"+12125559999", "", nil},
		{"anonymous", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.caller, func(t *testing.T) {
			v, err := src.Lookup(ctx, reputation.Query{Caller: number.Parse(tt.caller, "US")})
			if err != nil || v.Tier != tt.tier || !slices.Equal(v.Reasons, tt.reasons) || v.Final {
				t.Fatalf("Lookup = %+v, %v; want tier %q reasons %v, not final", v, err, tt.tier, tt.reasons)
			}
			if len(tt.reasons) > 0 && (v.Age != time.Hour || v.Source != SourceName || v.Raw["kind"] == "") {
				t.Fatalf("verdict age %s source %q raw %v", v.Age, v.Source, v.Raw)
			}
		})
	}
}

// TestPolicyOverride: through the chain, an agent's "not spam" overrides a
// provider's spam verdict, and "spam" blocks a caller providers know
// nothing about; a must-pass list still wins over "spam".
func TestPolicyOverride(t *testing.T) {
	ctx := context.Background()
	st := NewMemoryStore()
	must(t, st.Put(ctx, Report{Number: num, Kind: NotSpam, Time: t0}))
	must(t, st.Put(ctx, Report{Number: "+12125550000", Kind: Spam, Time: t0}))
	providerSpam := reputation.SourceFunc(func(context.Context, reputation.Query) (reputation.Verdict, error) {
		return reputation.Verdict{Verdict: policy.Verdict{Tier: policy.TierSpam, Reasons: []policy.Reason{policy.ProviderSpam}}}, nil
	})
	nothing := reputation.SourceFunc(func(context.Context, reputation.Query) (reputation.Verdict, error) {
		return reputation.Verdict{}, nil
	})
	allowList := reputation.SourceFunc(func(context.Context, reputation.Query) (reputation.Verdict, error) {
		return reputation.Verdict{Verdict: policy.Verdict{Reasons: []policy.Reason{policy.ListAllow}}, Final: true}, nil
	})
	fb := NewSource(st, SourceOptions{})
	tests := []struct {
		name   string
		chain  reputation.Chain
		caller string
		want   policy.Action
	}{
		{"not-spam overrides provider spam", reputation.Chain{{Name: SourceName, Source: fb}, {Name: "providers", Source: providerSpam}}, num, policy.Allow},
		{"spam blocks", reputation.Chain{{Name: SourceName, Source: fb}, {Name: "providers", Source: nothing}}, "+12125550000", policy.Block},
		{"must-pass beats spam report", reputation.Chain{{Name: SourceName, Source: fb}, {Name: "lists", Source: allowList}}, "+12125550000", policy.Allow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := reputation.Query{Caller: number.Parse(tt.caller, "US")}
			v, _ := tt.chain.Lookup(ctx, q)
			d := policy.Decide(policy.Call{Caller: q.Caller, Time: t0}, v.Verdict, policy.Default())
			if d.Action != tt.want {
				t.Fatalf("decision %s %v; want %s", d.Action, d.Reasons, tt.want)
			}
		})
	}
}

// TestFileShared: the CLI and serve open the same file; serve sees the
// CLI's report without a restart.
func TestFileShared(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	serve, err := OpenFile(path)
	must(t, err)
	serve.checkEvery = 0
	src := NewSource(serve, SourceOptions{})
	q := reputation.Query{Caller: number.Parse(num, "US")}
	if v, _ := src.Lookup(ctx, q); len(v.Reasons) != 0 {
		t.Fatalf("report before any was made: %v", v.Reasons)
	}
	cli, err := OpenFile(path)
	must(t, err)
	must(t, cli.Put(ctx, Report{Number: num, Kind: Spam, Time: t0}))
	if v, _ := src.Lookup(ctx, q); !slices.Equal(v.Reasons, []policy.Reason{policy.CallerReportedSpam}) {
		t.Fatalf("serve did not see the CLI's report: %v", v.Reasons)
	}
	cli2, err := OpenFile(path)
	must(t, err)
	must(t, cli2.Delete(ctx, "", num))
	if v, _ := src.Lookup(ctx, q); len(v.Reasons) != 0 {
		t.Fatalf("serve did not see the withdrawal: %v", v.Reasons)
	}
}

// TestFileDamaged: bad lines are skipped and counted; the good ones load;
// a last line still being written is not counted as bad.
func TestFileDamaged(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	content := strings.Join([]string{
		`{"op":"put","number":"+12125551234","kind":"spam","time":"2026-11-23T10:00:00Z"}`,
		`not json at all`,
		`{"op":"put","number":"12","kind":"spam","time":"2026-11-23T10:00:00Z"}`,
		`{"op":"burn","number":"+12125551234","kind":"spam","time":"2026-11-23T10:00:00Z"}`,
		`{"op":"put","number":"+12125550000","kind":"not-spam","note":"` + strings.Repeat("x", 100<<10) + `","time":"2026-11-23T10:00:00Z"}`,
		``,
		`{"op":"put","number":"+12125550001","kind":"not-spam","time":"2026-11-23T11:00:00Z"}`,
		`{"op":"put","number":"+12125550002","kind":"sp`, // no newline: being written
	}, "\n")
	must(t, os.WriteFile(path, []byte(content), 0o600))
	s, err := OpenFile(path)
	must(t, err)
	m := NewMetrics(nil)
	NewSource(s, SourceOptions{Metrics: m}) // serve's wiring: the source's metrics count bad lines
	s.checkEvery = 0
	must(t, os.Chtimes(path, time.Now(), time.Now().Add(time.Second))) // changed: read again
	list, err := s.List(context.Background(), "")
	must(t, err)
	if len(list) != 2 || list[0].Number != num || list[1].Number != "+12125550001" {
		t.Fatalf("List = %+v; want the two good reports", list)
	}
	if got := testutil.ToFloat64(m.BadLines); got != 4 {
		t.Fatalf("bad lines = %v; want 4", got)
	}
	// The line in progress completes: it is read on the next check.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	must(t, err)
	_, err = f.WriteString(`am","time":"2026-11-23T12:00:00Z"}` + "\n")
	must(t, err)
	must(t, f.Close())
	s.checkEvery = 0
	if r, ok, _ := s.Get(context.Background(), "", "+12125550002"); !ok || r.Kind != Spam {
		t.Fatalf("completed line not read: %+v %v", r, ok)
	}
}

func TestOpen(t *testing.T) {
	if s, err := Open(nil, ""); err != nil || s == nil {
		t.Fatalf("Open(no redis, no data_dir) = %T, %v; want memory", s, err)
	} else if _, ok := s.(*MemoryStore); !ok {
		t.Fatalf("Open(no redis, no data_dir) = %T; want *MemoryStore", s)
	}
	dir := t.TempDir()
	s, err := Open(nil, dir)
	if fs, ok := s.(*FileStore); err != nil || !ok || fs.Path() != filepath.Join(dir, FileName) {
		t.Fatalf("Open(no redis, %s) = %T, %v", dir, s, err)
	}
	if _, err := OpenFile(filepath.Join(dir, FileName, "x", FileName)); err == nil {
		t.Fatal("OpenFile under a regular file succeeded")
	}
}

func TestRedisCorruptAndDown(t *testing.T) {
	srv := redistest.Start(t)
	rdb, err := redisconn.New(redisconn.Options{Addrs: []string{srv.Addr()}, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second})
	must(t, err)
	defer rdb.Close()
	ctx := context.Background()
	s := NewRedisStore(rdb)
	must(t, s.Put(ctx, Report{Number: "+12125550000", Kind: Spam, Time: t0}))
	if r, err := srv.Do("HSET", Key(""), num, "{garbage"); err != nil || !strings.HasPrefix(r, ":1") {
		t.Fatalf("HSET = %q, %v", r, err)
	}
	if _, _, err := s.Get(ctx, "", num); err == nil || !strings.Contains(err.Error(), "cs:default:fb:v1 field +12125551234") {
		t.Fatalf("Get(corrupt) = %v; want an error naming the key and field", err)
	}
	if list, err := s.List(ctx, ""); err != nil || len(list) != 1 {
		t.Fatalf("List with one corrupt value = %+v, %v; want the good one", list, err)
	}
	srv.Kill()
	src := NewSource(s, SourceOptions{Timeout: 30 * time.Millisecond})
	if _, err := src.Lookup(ctx, reputation.Query{Caller: number.Parse(num, "US")}); err == nil {
		t.Fatal("Lookup with Redis down succeeded")
	}
	// A Redis that never answers, behind a client whose own timeouts are
	// longer than the hang bound: only the source's Timeout ends the
	// lookup in time.
	silent, err := redisconn.New(redisconn.Options{Addrs: []string{timingtest.Silent(t).Addr()}, DialTimeout: time.Minute, ReadTimeout: time.Minute, WriteTimeout: time.Minute})
	must(t, err)
	defer silent.Close()
	src = NewSource(NewRedisStore(silent), SourceOptions{Timeout: 30 * time.Millisecond})
	timingtest.Returns(t, "Lookup on a silent Redis", func() {
		_, err = src.Lookup(ctx, reputation.Query{Caller: number.Parse(num, "US")})
	})
	if err == nil {
		t.Fatal("Lookup on a silent Redis succeeded")
	}
}

func TestExport(t *testing.T) {
	rs := []Report{
		{Number: num, Kind: Spam, Note: `said "free cruise", hung up`, Agent: "ann", DecisionID: "d-1", Time: t0},
		{Tenant: "acme", Number: "+12125550000", Kind: NotSpam, Time: t0.Add(time.Hour)},
	}
	var b bytes.Buffer
	must(t, Export(&b, rs, "csv"))
	want := "number,kind,time,tenant,agent,decision_id,note\n" +
		"+12125551234,spam,2026-11-23T10:00:00Z,,ann,d-1,\"said \"\"free cruise\"\", hung up\"\n" +
		"+12125550000,not-spam,2026-11-23T11:00:00Z,acme,,,\n"
	if b.String() != want {
		t.Fatalf("csv:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	must(t, Export(&b, rs, "jsonl"))
	if lines := strings.Split(strings.TrimSpace(b.String()), "\n"); len(lines) != 2 || !strings.Contains(lines[0], `"kind":"spam"`) {
		t.Fatalf("jsonl:\n%s", b.String())
	}
	if err := Export(&b, rs, "xml"); err == nil || err.Error() != `export format "xml": want csv or jsonl` {
		t.Fatalf("Export(xml) = %v", err)
	}
}

func TestExportEscapesFormulas(t *testing.T) {
	for _, note := range csvsafe.FormulaCases {
		t.Run(fmt.Sprintf("%q", note), func(t *testing.T) {
			var b bytes.Buffer
			must(t, Export(&b, []Report{{Number: num, Kind: Spam, Note: note, Agent: note, Time: t0}}, "csv"))
			rows, err := csv.NewReader(&b).ReadAll()
			if err != nil || len(rows) != 2 {
				t.Fatalf("rows %q, %v", rows, err)
			}
			if rows[1][0] != num || rows[1][4] != "'"+note || rows[1][6] != "'"+note {
				t.Errorf("row %q: want number as is, agent and note %q", rows[1], "'"+note)
			}
		})
	}
}

// wrappedStore hides the store's type: the Source then reads it with a
// timer of its own, as it reads Redis.
type wrappedStore struct{ Store }

// TestLocalStoreAgrees: the memory and file stores, read without a timer
// of their own, answer as with one, and a Redis store is not local.
func TestLocalStoreAgrees(t *testing.T) {
	ctx := context.Background()
	ended, cancel := context.WithCancel(ctx)
	cancel()
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			st := mk(t)
			must(t, st.Put(ctx, Report{Number: num, Kind: Spam, Note: "sales robocall", Agent: "ann", DecisionID: "01ABC", Time: t0}))
			must(t, st.Put(ctx, Report{Tenant: "acme", Number: "+12125550000", Kind: NotSpam, Time: t0}))
			now := func() time.Time { return t0.Add(time.Hour) }
			src, timed := NewSource(st, SourceOptions{Now: now}), NewSource(wrappedStore{st}, SourceOptions{Now: now})
			if want := name != "redis"; src.Local() != want || timed.Local() {
				t.Fatalf("Local() = %v and %v; want %v and false", src.Local(), timed.Local(), want)
			}
			for _, c := range []context.Context{ctx, ended} {
				for _, tenant := range []string{"", "acme"} {
					for _, caller := range []string{num, "+12125550000", "+12125559999", "anonymous"} {
						q := reputation.Query{Tenant: tenant, Caller: number.Parse(caller, "US")}
						v, err := src.Lookup(c, q)
						w, werr := timed.Lookup(c, q)
						if !reflect.DeepEqual(v, w) || fmt.Sprint(err) != fmt.Sprint(werr) {
							t.Fatalf("%s %s: %+v, %v; with a timer %+v, %v", tenant, caller, v, err, w, werr)
						}
					}
				}
			}
		})
	}
}
