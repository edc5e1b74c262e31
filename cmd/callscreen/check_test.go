package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCheckExplains: check shows the matched list entry with its origin,
// note and expiry, a provider's raw fields, a risk label that agrees with
// the reasons, and a feed-reported robocaller as SPAM; --json is the admin
// API's JSON.
func TestCheckExplains(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	today := time.Now().UTC().Format("2006-01-02")
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The provider rates everyone high risk with a score of 87, and
		// tries to forge a line of output with its raw data.
		fmt.Fprint(w, `{"score":87,"risk":"high","raw":{"carrier":"Example\nWireless","line_type":"voip"}}`)
	}))
	defer provider.Close()
	os.WriteFile("block.txt", []byte("+12125550666   # car warranty robocaller\n"), 0o600)
	os.WriteFile("feed.json", []byte(`[{"number":"2125550003","created_date":"`+today+`","robocall":"yes"}]`), 0o600)
	cfg := writeConfig(t, "data_dir: "+filepath.Join(dir, "data")+"\nlists:\n  block_file: block.txt\n"+
		"providers:\n  http:\n    url: "+provider.URL+"\nprofiles:\n  default:\n    scores: {block: 90, challenge: 60}\n")
	if code, _, errOut := runCmd("feed", "import", "feed.json", "--config", cfg); code != 0 {
		t.Fatalf("feed import: %s", errOut)
	}
	expires := time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339)
	if code, _, errOut := runCmd("lists", "add", "+13125550177", "--list", "block", "--note", "reported by ops", "--expires", expires, "--by", "ann", "--config", cfg); code != 0 {
		t.Fatalf("lists add: %s", errOut)
	}

	tests := []struct {
		name   string
		number string
		want   []string
		not    []string
	}{
		{"list entry from a file", "+12125550666", []string{
			";; MATCHED ENTRY (lists)", "list     block", "entry    +12125550666  (number)", "origin   block.txt:1",
			"note     car warranty robocaller", "expires  never", "tier     SPAM",
		}, []string{"provider.risk"}},
		{"list entry with an expiry", "+13125550177", []string{
			"note     reported by ops", "by ann", "expires  " + expires[:10], "(in 29d", "tier     SPAM",
		}, nil},
		{"feed-reported robocall", "+12125550003", []string{
			"feed       ", "feed.daily_report,feed.robocall  tier SPAM  final", ";; FEED DATA", "feed_robocall     yes",
			"tier            SPAM",
		}, nil},
		{"provider says high, score 87", "+12125551234", []string{
			"providers  ", "  http     ", "provider.risk_high  score 87  risk high", ";; HTTP DATA", `carrier    "Example\nWireless"`,
			"line_type  voip", "risk     high  (provider.risk_high; http says high)", "reasons  provider.risk_high\n",
		}, []string{"provider.risk_medium", "Example\nWireless"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd("check", tt.number, "--config", cfg)
			if code != 0 {
				t.Fatalf("check: %d %s", code, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q", w)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(out, w) {
					t.Errorf("output has %q", w)
				}
			}
			if t.Failed() {
				t.Logf("output:\n%s", out)
			}
		})
	}

	// --json is the API's view: snake case, milliseconds, described
	// reasons, raw fields.
	code, out, errOut := runCmd("check", "+12125550003", "--json", "--config", cfg)
	var v struct {
		Tier    string `json:"tier"`
		Action  string `json:"action"`
		Reasons []struct {
			Code, Description string
		} `json:"reasons"`
		Sources []struct {
			Source    string            `json:"source"`
			LatencyMS *float64          `json:"latency_ms"`
			Raw       map[string]string `json:"raw"`
		} `json:"sources"`
		LatencyMS *float64 `json:"latency_ms"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil {
		t.Fatalf("--json: %d %s %s", code, out, errOut)
	}
	if v.Tier != "SPAM" || v.Action != "block" || len(v.Reasons) != 2 || v.Reasons[1].Code != "feed.robocall" || v.Reasons[1].Description == "" ||
		v.LatencyMS == nil || len(v.Sources) == 0 || v.Sources[0].LatencyMS == nil {
		t.Fatalf("--json: %s", out)
	}
	for _, bad := range []string{`"Decision"`, `"CallerRaw"`, `"Latency"`, `"DecisionLatency"`} {
		if strings.Contains(out, bad) {
			t.Errorf("--json has the Go field %s: %s", bad, out)
		}
	}
}
