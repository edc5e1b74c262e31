package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callscreen/callscreen/config"
	"github.com/callscreen/callscreen/internal/redistest"
	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/redisconn"
	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/service"
)

// feedSees loads the feed serve builds for cfgPath (over Redis with a
// command's timeouts, as listsSee) and looks caller up.
func feedSees(t *testing.T, cfgPath, caller string) []policy.Reason {
	t.Helper()
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	rdb, err := redisconn.New(commandRedisOptions(cfg))
	if err != nil {
		t.Fatal(err)
	}
	if rdb != nil {
		defer rdb.Close()
	}
	f := service.OpenFeed(context.Background(), cfg, rdb, slog.New(slog.DiscardHandler), nil)
	if !f.Loaded() {
		t.Fatal("the stored feed did not load")
	}
	v, _ := f.Lookup(context.Background(), reputation.Query{Caller: number.Parse(caller, "US"), Profile: policy.Default()})
	return v.Reasons
}

func TestFeedCommands(t *testing.T) {
	today := time.Now().UTC().Format("2006-01-02")
	srv := redistest.Start(t)
	var status = http.StatusOK
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if status != http.StatusOK {
			http.Error(w, "down", status)
			return
		}
		fmt.Fprintf(w, `[{"number":"2125550003","created_date":%q,"robocall":"yes"},{"number":"123","created_date":%q}]`, today, today)
	}))
	defer web.Close()
	feedCfg := "feed:\n  url: " + web.URL + "\n  headers:\n    Authorization: Bearer tok\n"
	backends := map[string]string{
		"data_dir": "data_dir: " + t.TempDir() + "\n" + feedCfg,
		"redis":    "redis:\n  addrs: [" + srv.Addr() + "]\n" + feedCfg,
	}
	for name, yaml := range backends {
		t.Run(name, func(t *testing.T) {
			cfg := writeConfig(t, yaml)
			ftc := writeFile(t, "ftc.csv", "Company_Phone_Number,Created_Date,Violation_Date,Consumer_City,Consumer_State,Consumer_Area_Code,Subject,Recorded_Message_Or_Robocall\n"+
				"2125550001,"+today+" 00:00:06,,Austin,Texas,512,Other,Y\n"+
				"+12125550002,"+today+" 00:00:07,,Austin,Texas,512,Other,N\n"+
				",2026-01-01,,,,,Other,N\n"+
				"5551234,"+today+",,,,,Other,N\n"+
				"1234567890123456,"+today+",,,,,Other,N\n")
			code, out, errOut := runCmd("feed", "import", ftc, "--format", "ftc", "--config", cfg)
			if code != 0 || !strings.Contains(out, "imported 5 rows (2 accepted, 3 rejected, 2 numbers)") {
				t.Fatalf("import: %d %q %q", code, out, errOut)
			}
			for _, line := range []string{"ftc.csv:4: no number", "ftc.csv:5: not a valid number", "ftc.csv:6: not a valid number"} {
				if !strings.Contains(errOut, line) {
					t.Fatalf("%q missing from:\n%s", line, errOut)
				}
			}
			if r := feedSees(t, cfg, "+12125550001"); !slices.Equal(r, []policy.Reason{policy.FeedDailyReport, policy.FeedRobocall}) {
				t.Fatalf("serve's feed after import: %v", r)
			}
			code, out, errOut = runCmd("feed", "pull", "--config", cfg)
			if code != 0 || !strings.Contains(out, "pulled 2 rows (1 accepted, 1 rejected") || !strings.Contains(out, "3 numbers held") {
				t.Fatalf("pull: %d %q %q", code, out, errOut)
			}
			if r := feedSees(t, cfg, "+12125550003"); !slices.Equal(r, []policy.Reason{policy.FeedDailyReport, policy.FeedRobocall}) {
				t.Fatalf("after pull: %v", r)
			}
			status = http.StatusInternalServerError
			defer func() { status = http.StatusOK }()
			code, _, errOut = runCmd("feed", "pull", "--config", cfg)
			if code != 1 || !strings.Contains(errOut, "500") || !strings.Contains(errOut, "unchanged") {
				t.Fatalf("failed pull: %d %q", code, errOut)
			}
			if code, out, _ := runCmd("feed", "status", "--config", cfg); code != 0 || !strings.Contains(out, "3 numbers") {
				t.Fatalf("status: %d %q", code, out)
			}
			half := writeFile(t, "half.json", `[{"number":"2125550009","created_date":"`+today+`"},{"numb`)
			if code, _, errOut := runCmd("feed", "import", half, "--format", "json", "--config", cfg); code != 1 || !strings.Contains(errOut, "unchanged") {
				t.Fatalf("half-written import: %d %q", code, errOut)
			}
			if r := feedSees(t, cfg, "+12125550009"); len(r) != 0 {
				t.Fatal("a broken file was imported")
			}
		})
	}
}

func TestFeedUsage(t *testing.T) {
	cfg := writeConfig(t, "data_dir: "+t.TempDir()+"\n")
	for _, args := range [][]string{{"feed"}, {"feed", "import"}, {"feed", "bogus"}, {"feed", "import", "x", "--format", "xml"}} {
		if code, _, _ := runCmd(append(args, "--config", cfg)...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code, _, errOut := runCmd("feed", "pull", "--config", cfg); code != 1 || !strings.Contains(errOut, "feed.url is not set") {
		t.Fatalf("pull without url: %d %q", code, errOut)
	}
}
