package bridge_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callscreen/callscreen/ari"
	"github.com/callscreen/callscreen/ari/aritest"
	"github.com/callscreen/callscreen/bridge"
	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/internal/timingtest"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/screen"
)

const (
	ariApp   = "callscreen"
	ariUser  = "callscreen"
	ariPass  = "pw"
	goodCall = "+12125551234"
	acmeSpam = "+12125550666" // on acme's block list only
	globSpam = "+12125550777" // on globex's block list only
)

// records is a slog.Handler keeping every record, for asserting on logs.
type records struct {
	mu   sync.Mutex
	recs []string
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", rec.Level, rec.Message)
	rec.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
	r.mu.Lock()
	r.recs = append(r.recs, b.String())
	r.mu.Unlock()
	return nil
}
func (r *records) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *records) WithGroup(string) slog.Handler      { return r }

// after reports whether a record containing second follows the last
// record containing first.
func (r *records) after(first, second string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	last := -1
	for i, s := range r.recs {
		if strings.Contains(s, first) {
			last = i
		}
	}
	if last < 0 {
		return false
	}
	for _, s := range r.recs[last+1:] {
		if strings.Contains(s, second) {
			return true
		}
	}
	return false
}

// problems returns the WARN and ERROR records.
func (r *records) problems() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, s := range r.recs {
		if strings.HasPrefix(s, "WARN") || strings.HasPrefix(s, "ERROR") {
			out = append(out, s)
		}
	}
	return out
}

// tenantLists is a reputation source with one block list per tenant: the
// smallest thing that shows whether tenants leak into each other.
func tenantLists() reputation.Source {
	lists := map[string]map[string]bool{
		"acme":   {acmeSpam: true},
		"globex": {globSpam: true},
	}
	return reputation.SourceFunc(func(_ context.Context, q reputation.Query) (reputation.Verdict, error) {
		var v reputation.Verdict
		if lists[q.Tenant][q.Caller.E164] {
			v.Tier = policy.TierSpam
			v.Reasons = []policy.Reason{policy.ListBlock}
			v.Final = true
		}
		return v, nil
	})
}

func ariFlow(logs *records, mod func(*policy.Profile)) *screen.Flow {
	p := policy.Default()
	// Long enough that a caller who types is never cut short by a loaded
	// machine; a test of silence shortens it.
	p.Challenge.Timeout = 5 * time.Second
	if mod != nil {
		mod(&p)
	}
	return &screen.Flow{
		Source:   tenantLists(),
		Profiles: screen.ProfileMap{"default": p},
		Logger:   slog.New(logs),
		Digits:   func(n int) string { return "4721"[:n] },
	}
}

// ariServer starts a fake Asterisk and an ari.App for tenant screening
// with f, and waits for it to connect.
func ariServer(t *testing.T, f *screen.Flow, tenant string, cfg aritest.Config, logs *records) *aritest.Server {
	t.Helper()
	cfg.Username, cfg.Password = ariUser, ariPass
	if cfg.SoundDuration == 0 {
		cfg.SoundDuration = 20 * time.Millisecond
	}
	if cfg.DigitDuration == 0 {
		cfg.DigitDuration = 5 * time.Millisecond
	}
	srv := aritest.NewServer(cfg)
	t.Cleanup(srv.Close)
	client, err := ari.NewClient(ari.ClientConfig{URL: srv.URL, Username: ariUser, Password: ariPass, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	app := &ari.App{
		Client: client, Name: ariApp, Scope: bridge.ARIScope{Tenant: tenant}, Handler: bridge.ARIHandler(func() *screen.Flow { return f }),
		Recover: bridge.ARIRecover(), Logger: slog.New(logs),
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, RecoverDelay: 300 * time.Millisecond,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := app.Run(ctx); err != nil {
			t.Error(err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := srv.WaitConnected(wctx, ariApp); err != nil {
		t.Fatal(err)
	}
	return srv
}

func call(t *testing.T, srv *aritest.Server, spec aritest.CallSpec) *aritest.Channel {
	t.Helper()
	ch, err := srv.StartCall(ariApp, spec)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func settled(t *testing.T, ch *aritest.Channel) {
	t.Helper()
	select {
	case <-ch.Done():
	case <-time.After(15 * time.Second):
		t.Fatalf("channel %s never left the application", ch.ID())
	}
}

func TestARIEndToEnd(t *testing.T) {
	wrong := aritest.Typist(0, func(string) string { return "999" })
	hangUpOnIntro := func(ch *aritest.Channel, pb ari.Playback, _ []string) {
		if pb.MediaURI == "sound:callscreen/intro" {
			ch.Hangup()
		}
	}
	tests := []struct {
		name      string
		spec      aritest.CallSpec
		profile   func(*policy.Profile)
		cfg       aritest.Config
		vars      map[string]string
		playbacks []string
		gone      bool
		// allowed lists the only WARN/ERROR log messages the case may produce.
		allowed []string
	}{
		{
			name: "allow",
			spec: aritest.CallSpec{CallerNumber: goodCall, CallerName: "John Q. Public", Args: []string{"tenant=acme"}},
			vars: map[string]string{"CALLSCREEN_RESULT": "allow", "CALLSCREEN_TIER": "UNKNOWN", "CALLSCREEN_CHALLENGE": "none"},
		},
		{
			name: "block",
			spec: aritest.CallSpec{CallerNumber: acmeSpam, Args: []string{"tenant=acme"}},
			vars: map[string]string{"CALLSCREEN_RESULT": "block", "CALLSCREEN_REASONS": "list.block", "CALLSCREEN_TIER": "SPAM"},
		},
		{
			name:      "challenge pass",
			spec:      aritest.CallSpec{CallerNumber: goodCall, Presentation: "prohib", OnPlaybackFinished: aritest.Echo(0)},
			vars:      map[string]string{"CALLSCREEN_RESULT": "allow", "CALLSCREEN_ACTION": "challenge", "CALLSCREEN_CHALLENGE": "passed"},
			playbacks: []string{"sound:callscreen/intro", "sound:callscreen/digits/4,sound:callscreen/digits/7,sound:callscreen/digits/2", "sound:callscreen/beep", "sound:callscreen/thanks"},
		},
		{
			name:      "challenge fail",
			spec:      aritest.CallSpec{CallerNumber: goodCall, Presentation: "prohib", OnPlaybackFinished: wrong},
			vars:      map[string]string{"CALLSCREEN_RESULT": "block", "CALLSCREEN_ACTION": "challenge", "CALLSCREEN_CHALLENGE": "failed"},
			playbacks: []string{"sound:callscreen/intro", "sound:callscreen/digits/4,sound:callscreen/digits/7,sound:callscreen/digits/2", "sound:callscreen/beep", "sound:callscreen/retry", "sound:callscreen/digits/4,sound:callscreen/digits/7,sound:callscreen/digits/2", "sound:callscreen/beep"},
		},
		{
			name:      "challenge silence",
			spec:      aritest.CallSpec{CallerNumber: goodCall, Presentation: "prohib_passed_screen"},
			profile:   func(p *policy.Profile) { p.Challenge.Attempts, p.Challenge.Timeout = 1, 500*time.Millisecond },
			vars:      map[string]string{"CALLSCREEN_RESULT": "block", "CALLSCREEN_CHALLENGE": "failed"},
			playbacks: []string{"sound:callscreen/intro", "sound:callscreen/digits/4,sound:callscreen/digits/7,sound:callscreen/digits/2", "sound:callscreen/beep"},
		},
		{
			name:      "challenge hangup mid-playback",
			spec:      aritest.CallSpec{CallerNumber: goodCall, Presentation: "prohib", OnPlaybackStarted: hangUpOnIntro},
			cfg:       aritest.Config{SoundDuration: time.Minute},
			vars:      map[string]string{},
			playbacks: []string{"sound:callscreen/intro"},
			gone:      true,
		},
		{
			name:    "monitor mode",
			spec:    aritest.CallSpec{CallerNumber: acmeSpam, Args: []string{"tenant=acme"}},
			profile: func(p *policy.Profile) { p.Mode = policy.ModeMonitor },
			vars:    map[string]string{"CALLSCREEN_RESULT": "allow", "CALLSCREEN_MODE": "monitor", "CALLSCREEN_HELD": "block"},
		},
		{
			name:      "missing prompt fails open",
			spec:      aritest.CallSpec{CallerNumber: goodCall, Presentation: "prohib"},
			cfg:       aritest.Config{MissingSounds: []string{"callscreen/intro"}},
			vars:      map[string]string{"CALLSCREEN_RESULT": "allow", "CALLSCREEN_CHALLENGE": "none", "CALLSCREEN_REASONS": "caller.anonymous,challenge.unavailable"},
			playbacks: []string{},
			allowed:   []string{"screen: prompts missing on the PBX"},
		},
		{
			// The case a digits: playback hides: it would finish
			// normally, silent, and the caller fail.
			name:      "missing digit fails open before anything plays",
			spec:      aritest.CallSpec{CallerNumber: goodCall, Presentation: "prohib", OnPlaybackFinished: aritest.Echo(0)},
			cfg:       aritest.Config{MissingSounds: []string{"callscreen/digits/7"}},
			vars:      map[string]string{"CALLSCREEN_RESULT": "allow", "CALLSCREEN_CHALLENGE": "none", "CALLSCREEN_REASONS": "caller.anonymous,challenge.unavailable"},
			playbacks: []string{},
			allowed:   []string{"screen: prompts missing on the PBX"},
		},
		{
			name:      "core sounds missing do not matter",
			spec:      aritest.CallSpec{CallerNumber: goodCall, Presentation: "prohib", OnPlaybackFinished: aritest.Echo(0)},
			cfg:       aritest.Config{MissingSounds: []string{"beep", "digits/4", "digits/7", "digits/2"}},
			vars:      map[string]string{"CALLSCREEN_RESULT": "allow", "CALLSCREEN_CHALLENGE": "passed"},
			playbacks: []string{"sound:callscreen/intro", "sound:callscreen/digits/4,sound:callscreen/digits/7,sound:callscreen/digits/2", "sound:callscreen/beep", "sound:callscreen/thanks"},
		},
		{
			name: "500 on variable reads",
			spec: aritest.CallSpec{CallerNumber: goodCall, Presentation: "prohib"},
			cfg:  aritest.Config{},
			// CALLERID(num-pres) unreadable reads as not restricted:
			// allowed without a challenge.
			vars:    map[string]string{"CALLSCREEN_RESULT": "allow", "CALLSCREEN_CHALLENGE": "none"},
			allowed: []string{"screen: cannot read CALLSCREEN_ID"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logs := &records{}
			srv := ariServer(t, ariFlow(logs, tt.profile), "", tt.cfg, logs)
			if strings.HasPrefix(tt.name, "500") {
				srv.Fail(func(r *http.Request, path string) (int, string) {
					if r.Method == http.MethodGet && strings.HasSuffix(path, "/variable") {
						return http.StatusInternalServerError, "Internal Server Error"
					}
					return 0, ""
				})
			}
			ch := call(t, srv, tt.spec)
			settled(t, ch)
			v := ch.Vars()
			for k, want := range tt.vars {
				if v[k] != want {
					t.Errorf("%s = %q, want %q (all: %v)", k, v[k], want, v)
				}
			}
			if tt.gone {
				if ch.ContinueRequests() != 0 || len(v) != 0 {
					t.Errorf("gone channel: continue requests %d, vars %v", ch.ContinueRequests(), v)
				}
			} else {
				if len(v[decision.VarID]) != screen.IDLen {
					t.Errorf("%s = %q", decision.VarID, v[decision.VarID])
				}
				if n := ch.ContinueRequests(); n != 1 {
					t.Errorf("%d continue requests, want 1", n)
				}
			}
			if tt.playbacks != nil {
				got := []string{}
				for _, pb := range ch.Playbacks() {
					got = append(got, strings.Join(pb, ","))
				}
				if strings.Join(got, " ") != strings.Join(tt.playbacks, " ") {
					t.Errorf("playbacks %v, want %v", got, tt.playbacks)
				}
			}
		next:
			for _, p := range logs.problems() {
				for _, a := range tt.allowed {
					if strings.Contains(p, a) {
						continue next
					}
				}
				t.Errorf("unexpected log: %s", p)
			}
		})
	}
}

// TestARITenants screens the same two callers for two tenants at once, on
// two Asterisk servers, and through a Stasis argument: each tenant's block
// list applies to its own calls only.
func TestARITenants(t *testing.T) {
	logs := &records{}
	f := ariFlow(logs, nil)
	acme := ariServer(t, f, "acme", aritest.Config{}, logs)
	globex := ariServer(t, f, "globex", aritest.Config{}, logs)
	type placed struct {
		ch   *aritest.Channel
		want string
	}
	var calls []placed
	for range 3 {
		calls = append(calls,
			placed{call(t, acme, aritest.CallSpec{CallerNumber: acmeSpam}), "block"},
			placed{call(t, acme, aritest.CallSpec{CallerNumber: globSpam}), "allow"},
			placed{call(t, globex, aritest.CallSpec{CallerNumber: acmeSpam}), "allow"},
			placed{call(t, globex, aritest.CallSpec{CallerNumber: globSpam}), "block"},
			// The Stasis argument wins over the server's tenant.
			placed{call(t, globex, aritest.CallSpec{CallerNumber: acmeSpam, Args: []string{"tenant=acme"}}), "block"},
		)
	}
	for i, c := range calls {
		settled(t, c.ch)
		if got, _ := c.ch.Var(decision.VarResult); got != c.want {
			t.Errorf("call %d from %s: %s, want %s", i, c.ch.Info().Caller.Number, got, c.want)
		}
	}
	if p := logs.problems(); len(p) != 0 {
		t.Errorf("logs: %v", p)
	}
}

// TestARIReconnectMidChallenge drops the event connection while the intro
// plays: its PlaybackFinished is lost. The call goes on after the
// reconnect and is handed back exactly once.
func TestARIReconnectMidChallenge(t *testing.T) {
	logs := &records{}
	var srv *aritest.Server
	var once sync.Once
	spec := aritest.CallSpec{
		CallerNumber: goodCall, Presentation: "prohib",
		OnPlaybackStarted: func(_ *aritest.Channel, pb ari.Playback, _ []string) {
			if pb.MediaURI == "sound:callscreen/intro" {
				// Down until the intro has finished.
				once.Do(func() {
					srv.Refuse(http.StatusServiceUnavailable)
					srv.DropConnections()
				})
			}
		},
		// Types the digits once it hears them, after the reconnect.
		OnPlaybackFinished: func(ch *aritest.Channel, pb ari.Playback, media []string) {
			if pb.MediaURI == "sound:callscreen/intro" {
				srv.Refuse(0)
			}
			if heard := aritest.Heard(media); heard != "" && pb.State == "done" {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				srv.WaitConnected(ctx, ariApp)
				ch.SendDTMF(heard)
			}
		},
	}
	srv = ariServer(t, ariFlow(logs, nil), "", aritest.Config{SoundDuration: 50 * time.Millisecond}, logs)
	ch := call(t, srv, spec)
	settled(t, ch)
	if srv.DroppedEvents() == 0 {
		t.Error("no event lost: the connection did not drop during the call")
	}
	v := ch.Vars()
	if v[decision.VarChallenge] != "passed" || v[decision.VarResult] != "allow" {
		t.Errorf("vars %v", v)
	}
	// The scan for leftovers after the reconnect has run, and left the
	// call (handled by its flow) alone.
	timingtest.WaitFor(t, "the recovery scan after the reconnect", func() bool { return logs.after("ari: connected", "ari: recovery after connect done") })
	if n := ch.ContinueRequests(); n != 1 {
		t.Errorf("%d continue requests, want 1", n)
	}
}

// TestARIScreenedArgument: the Stasis argument screened=${CALLSCREEN_ID}
// hands the flow the earlier decision id, so it reads no variable for it;
// a channel entering Stasis without the argument still works, the flow
// reading CALLSCREEN_ID itself.
func TestARIScreenedArgument(t *testing.T) {
	const earlier = "01EARLIERSCREENING"
	tests := []struct {
		name   string
		args   []string
		vars   map[string]string
		result string
		reason string
		id     string // CALLSCREEN_ID after; "" is a new decision id
		reads  int    // GETs of CALLSCREEN_ID
	}{
		{"handed over", []string{"tenant=acme", "screened=" + earlier}, map[string]string{"CALLSCREEN_ID": earlier}, "allow", "loop.already_screened", earlier, 0},
		{"handed over empty", []string{"tenant=acme", "screened="}, nil, "block", "list.block", "", 0},
		{"no argument, screened before", []string{"tenant=acme"}, map[string]string{"CALLSCREEN_ID": earlier}, "allow", "loop.already_screened", earlier, 1},
		{"no argument, first screening", []string{"tenant=acme"}, nil, "block", "list.block", "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logs := &records{}
			srv := ariServer(t, ariFlow(logs, nil), "", aritest.Config{}, logs)
			ch := call(t, srv, aritest.CallSpec{CallerNumber: acmeSpam, Args: tt.args, Vars: tt.vars})
			settled(t, ch)
			v := ch.Vars()
			if v[decision.VarResult] != tt.result || v[decision.VarReasons] != tt.reason {
				t.Errorf("result %q reasons %q; want %q %q (all: %v)", v[decision.VarResult], v[decision.VarReasons], tt.result, tt.reason, v)
			}
			if tt.id != "" && v[decision.VarID] != tt.id {
				t.Errorf("%s = %q; want the earlier %q", decision.VarID, v[decision.VarID], tt.id)
			}
			if tt.id == "" && (len(v[decision.VarID]) != screen.IDLen || v[decision.VarID] == earlier) {
				t.Errorf("%s = %q; want a new decision id", decision.VarID, v[decision.VarID])
			}
			reads := 0
			for _, r := range srv.Requests() {
				if r.Method == http.MethodGet && strings.HasSuffix(r.Path, "/variable") && r.Query.Get("variable") == decision.VarID {
					reads++
				}
			}
			if reads != tt.reads {
				t.Errorf("%d reads of %s; want %d", reads, decision.VarID, tt.reads)
			}
			if p := logs.problems(); len(p) > 0 {
				t.Errorf("unexpected logs: %v", p)
			}
		})
	}
}

func TestARIInfo(t *testing.T) {
	channel := ari.Channel{
		ID: "1.2", Name: "PJSIP/trunk-1", Caller: ari.CallerID{Name: "J", Number: goodCall}, Language: "en",
		Dialplan: ari.DialplanCEP{Context: "from-trunk", Exten: "15551230000", AppName: "Stasis", AppData: "callscreen,profile=sales"},
	}
	base := decision.CallInfo{
		ID: "1.2", Channel: "PJSIP/trunk-1", CallerNumber: goodCall, CallerName: "J", PresentationCode: -1,
		Dialed: "15551230000", Context: "from-trunk", Extension: "15551230000", Profile: "sales", Tenant: "acme",
		Language: "en", Transport: "ari",
	}
	tests := []struct {
		name     string
		params   map[string]string
		screened string
		known    bool
	}{
		{"no screened argument: the flow reads the variable", map[string]string{"profile": "sales"}, "", false},
		{"screened handed over", map[string]string{"profile": "sales", "screened": "01ABC"}, "01ABC", true},
		{"screened handed over empty", map[string]string{"screened": ""}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &ari.Call{Channel: channel, Params: tt.params, Tenant: "acme", Profile: "sales"}
			want := base
			want.Screened, want.ScreenedKnown = tt.screened, tt.known
			if got := bridge.ARIInfo(c); got != want {
				t.Errorf("ARIInfo\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestARIDialplan checks the Stasis include against the contract: it
// enters the application, treats STASISSTATUS other than SUCCESS as allow,
// and handles block and voicemail as the AGI include does.
func TestARIDialplan(t *testing.T) {
	b, err := os.ReadFile("../dialplan/callscreen-ari.conf")
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	var code []string
	for _, l := range strings.Split(conf, "\n") {
		if i := strings.Index(l, ";"); i >= 0 {
			l = l[:i]
		}
		if l = strings.TrimSpace(l); l != "" {
			code = append(code, l)
		}
	}
	body := strings.Join(code, "\n")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`Set\(LOCAL\(app\)=\$\{IF\(\$\["\$\{CALLSCREEN_ARI_APP\}" = ""\]\?` + ariApp + `:`),
		regexp.MustCompile(`Stasis\(\$\{app\},profile=\$\{ARG1\},tenant=\$\{ARG2\},screened=\$\{CALLSCREEN_ID\}\$\{stir\}\)`),
		regexp.MustCompile(`GotoIf\(\$\["\$\{CALLSCREEN_RESULT\}" = ""\]\?failopen\)`),
		regexp.MustCompile(`GotoIf\(\$\["\$\{CALLSCREEN_RESULT\}" = "block"\]\?block\)`),
		regexp.MustCompile(`GotoIf\(\$\["\$\{CALLSCREEN_RESULT\}" = "voicemail"\]\?voicemail\)`),
		regexp.MustCompile(`n\(block\),.*\n.*Playback\(callscreen/blocked\)\n.*Hangup\(21\)`),
		regexp.MustCompile(`n\(failopen\),.*\n.*Return\(\)`),
		regexp.MustCompile(`Set\(__CALLSCREEN_ID=\$\{CALLSCREEN_ID\}\)`),
	} {
		if !want.MatchString(body) {
			t.Errorf("callscreen-ari.conf: no match for %s", want)
		}
	}
	for _, v := range decision.RoutingVars {
		if !strings.Contains(conf, v) {
			t.Errorf("callscreen-ari.conf does not document %s", v)
		}
	}
	for _, r := range bridge.ARIRecover() {
		if r.Name == decision.VarResult && r.Value != string(policy.ResultAllow) {
			t.Errorf("recovered channels get %s=%s, want allow", r.Name, r.Value)
		}
	}
}

// TestARIScope: the tenant and profile a Stasis call gets from its
// arguments and the server's defaults, and what is ignored.
func TestARIScope(t *testing.T) {
	s := bridge.ARIScope{Tenant: "default-tenant", Profile: "default", Tenants: []string{"acme", "globex"}}
	tests := []struct {
		name            string
		params          map[string]string
		tenant, profile string
		ignored         []any
	}{
		{"both named", map[string]string{"tenant": "acme", "profile": "sales"}, "acme", "sales", nil},
		{"tenant only", map[string]string{"tenant": "globex"}, "globex", "default", nil},
		{"none", nil, "default-tenant", "default", nil},
		{"empty dialplan arguments", map[string]string{"tenant": "", "profile": ""}, "default-tenant", "default", nil},
		{"a tenant not listed", map[string]string{"tenant": "initech"}, "default-tenant", "default", []any{"unlisted_tenant", "initech"}},
		{"not valid", map[string]string{"tenant": "a b", "profile": "x;y"}, "default-tenant", "default", []any{"bad_tenant", "a b", "bad_profile", "x;y"}},
		{"too long", map[string]string{"tenant": strings.Repeat("a", 65)}, "default-tenant", "default", []any{"bad_tenant", strings.Repeat("a", 65)}},
		{"a key prefix", map[string]string{"tenant": "acme:{x}"}, "default-tenant", "default", []any{"bad_tenant", "acme:{x}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tenant, profile, ignored := s.Scope(tt.params)
			if tenant != tt.tenant || profile != tt.profile || !slices.Equal(ignored, tt.ignored) {
				t.Errorf("Scope(%v) = %q, %q, %v; want %q, %q, %v", tt.params, tenant, profile, ignored, tt.tenant, tt.profile, tt.ignored)
			}
		})
	}
	// Without a tenant list, any valid tenant is taken.
	if tenant, _, _ := (bridge.ARIScope{}).Scope(map[string]string{"tenant": "initech"}); tenant != "initech" {
		t.Errorf("without Tenants: tenant %q", tenant)
	}
	for _, tt := range []struct {
		scope bridge.ARIScope
		err   string
	}{
		{bridge.ARIScope{Tenant: "acme"}, ""},
		{bridge.ARIScope{}, ""},
		{bridge.ARIScope{Tenant: "a/b"}, `tenant "a/b": want 1 to 64 letters, digits, '.', '_' or '-'`},
	} {
		err := tt.scope.Validate()
		if (err == nil) != (tt.err == "") || err != nil && err.Error() != tt.err {
			t.Errorf("Validate(%+v) = %v; want %q", tt.scope, err, tt.err)
		}
	}
}
