package main

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callscreen/callscreen/internal/mariadbtest"
	"github.com/callscreen/callscreen/outbound"
)

const cdrFixture = "../../cdr/testdata/Master-outbound.csv"

func TestOutboundCommand(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	fixture, err := os.ReadFile(cdrFixture)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, append(append([]byte{}, fixture...), "\"too\",\"few\"\n"+strings.Replace(strings.SplitAfter(string(fixture), "\n")[1], "ANSWERED", "MAYBE", 1)...), 0o644); err != nil {
		t.Fatal(err)
	}
	own := writeConfig(t, "own_numbers: [\"5551230001\"]\n")
	noUserfield := writeConfig(t, "outbound:\n  csv:\n    loguserfield: false\n")
	tests := []struct {
		name      string
		args      []string
		code      int
		out, errs []string
	}{
		{"table", []string{"--cdr", cdrFixture, "--since", "2026-12-01", "--min-calls", "4"}, 0, []string{
			"NUMBER        CALLS  ANSWERED  SHORT     UNREACHABLE  BUSY  NO ANSWER  DESTINATIONS  PER DAY  VERDICT\n" +
				"+15551230002  5      3         3 (100%)  2 (40%)      0     0          5             5.0      likely_spam\n" +
				"+15551230001  4      1         1 (100%)  1 (25%)      1     1          4             4.0      likely_spam\n" +
				"\n" +
				"+15551230002  likely to be labelled spam: 100% of answered calls under 6 s, 40% of calls to unreachable numbers\n" +
				"+15551230001  likely to be labelled spam: 100% of answered calls under 6 s, 25% of calls to unreachable numbers\n"},
			[]string{"read 17 rows from " + cdrFixture + " since 2026-12-01: 9 calls from 2 numbers; 8 other rows, 0 calls before the window, 0 from numbers not ours; 0 malformed rows skipped"}},
		{"own numbers only", []string{"--cdr", cdrFixture, "--since", "2026-12-01", "--config", own}, 0,
			[]string{"+15551230001  4 ", "too_few_calls", "too few calls to judge: 4, at least 20 needed"}, []string{"4 calls from 1 numbers", "5 from numbers not ours"}},
		{"window after the calls", []string{"--cdr", cdrFixture, "--since", "2026-12-03"}, 0, []string{"no outbound calls in the window\n"},
			[]string{"0 calls from 0 numbers", "9 calls before the window"}},
		{"malformed rows", []string{"--cdr", bad, "--since", "2026-12-01"}, 0, []string{"+15551230002  5 "},
			[]string{"2 malformed rows skipped", "  line 18: 2 columns, want 18", "  line 19: disposition \"MAYBE\""}},
		{"wrong layout", []string{"--cdr", cdrFixture, "--config", noUserfield}, 1, nil,
			[]string{"callscreen outbound: " + cdrFixture + ": line 1 has 18 columns; expected the layout cdr.conf [csv] loguniqueid=yes loguserfield=no newcdrcolumns=no: 17 columns"}},
		{"no such file", []string{"--cdr", filepath.Join(dir, "nope.csv")}, 1, nil, []string{"nope.csv: no such file or directory"}},
		{"both sources", []string{"--cdr", cdrFixture, "--dsn", "u@tcp(h:1)/db"}, 2, nil, []string{"--cdr and --dsn are both set"}},
		{"no source", []string{}, 2, nil, []string{"no CDRs to read: give --cdr FILE or --dsn DSN"}},
		{"bad since", []string{"--cdr", cdrFixture, "--since", "last week"}, 2, nil, []string{`--since "last week": want days (7d), a duration (36h) or a date (2026-12-01)`}},
		{"bad dsn", []string{"--dsn", "not a dsn"}, 2, nil, []string{"--dsn: dsn: invalid DSN"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(append([]string{"outbound"}, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out, errOut)
			}
			for _, w := range tt.out {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.errs {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
		})
	}
}

func TestOutboundJSON(t *testing.T) {
	code, out, errOut := runCmd("outbound", "--cdr", cdrFixture, "--since", "2026-12-01", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got []outbound.Health
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if len(got) != 2 || got[1].Number != "+15551230001" || got[1].Calls != 4 || got[1].Busy != 1 || got[1].NoAnswer != 1 ||
		got[1].UnreachableShare != 0.25 || got[1].Verdict != outbound.VerdictTooFewCalls {
		t.Fatalf("%+v", got)
	}
	code, out, _ = runCmd("outbound", "--cdr", cdrFixture, "--since", "2026-12-03", "--json")
	if code != 0 || strings.TrimSpace(out) != "[]" {
		t.Fatalf("empty window: %d %q", code, out)
	}
}

// TestOutboundDatabase: --dsn against a real MariaDB, the password from
// the environment; an unreachable database is a clear error.
func TestOutboundDatabase(t *testing.T) {
	srv := mariadbtest.Start(t)
	srv.Exec("CREATE DATABASE asteriskcdrdb",
		"CREATE TABLE asteriskcdrdb.cdr (calldate datetime, clid varchar(80), src varchar(80), dst varchar(80), dcontext varchar(80), "+
			"channel varchar(80), dstchannel varchar(80), lastapp varchar(80), lastdata varchar(80), duration int, billsec int, "+
			"disposition varchar(45), uniqueid varchar(32), linkedid varchar(32), outbound_cnum varchar(80))",
		"INSERT INTO asteriskcdrdb.cdr VALUES "+
			"('2026-12-02 01:43:59','','100','12125550002','from-internal','PJSIP/100-1','PJSIP/trunk-1','Dial','x',1,1,'ANSWERED','1.1','1.1','+15551230001'),"+
			"('2026-12-02 01:44:02','','100','12125550006','from-internal','PJSIP/100-2','PJSIP/trunk-2','Dial','x',0,0,'NO ANSWER','1.2','1.2','+15551230001'),"+
			"('2026-12-02 01:45:00','','+12125550100','100','from-trunk','PJSIP/trunk-3','PJSIP/100-3','Dial','x',20,15,'ANSWERED','1.3','1.3','')",
		"CREATE USER 'cs'@'127.0.0.1' IDENTIFIED BY 'pw-from-env'",
		"GRANT SELECT ON asteriskcdrdb.cdr TO 'cs'@'127.0.0.1'")
	t.Setenv("CALLSCREEN_OUTBOUND_PASSWORD", "pw-from-env")
	code, out, errOut := runCmd("outbound", "--dsn", "cs@tcp("+srv.Addr()+")/asteriskcdrdb", "--since", "2026-12-01", "--min-calls", "1")
	if code != 0 || !strings.Contains(out, "+15551230001  2      1         1 (100%)  1 (50%)") || strings.Contains(out, "+12125550100") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "read 3 rows from cs@tcp("+srv.Addr()+")/asteriskcdrdb table cdr since 2026-12-01: 2 calls from 1 numbers; 1 other rows") {
		t.Errorf("stderr: %s", errOut)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	code, _, errOut = runCmd("outbound", "--dsn", "cs@tcp("+closed+")/asteriskcdrdb")
	if code != 1 || !strings.Contains(errOut, "callscreen outbound: cdr database cs@tcp("+closed+")/asteriskcdrdb table cdr: dial tcp "+closed+": connect: connection refused") ||
		strings.Contains(errOut, "pw-from-env") {
		t.Fatalf("unreachable: exit %d: %s", code, errOut)
	}
}

func TestWindowStart(t *testing.T) {
	now := time.Date(2026, 12, 7, 15, 30, 0, 0, time.UTC)
	ny, _ := time.LoadLocation("America/New_York")
	tests := []struct {
		since string
		loc   *time.Location
		want  string
		ok    bool
	}{
		{"", time.UTC, "2026-12-01T00:00:00Z", true},
		{"1d", time.UTC, "2026-12-07T00:00:00Z", true},
		{"7d", ny, "2026-12-01T00:00:00-05:00", true},
		{"36h", time.UTC, "2026-12-06T03:30:00Z", true},
		{"2026-11-15", ny, "2026-11-15T00:00:00-05:00", true},
		{"2026-11-15T10:00:00Z", time.UTC, "2026-11-15T10:00:00Z", true},
		{"0d", time.UTC, "", false}, {"-3d", time.UTC, "", false}, {"yesterday", time.UTC, "", false}, {"-5h", time.UTC, "", false},
	}
	for _, tt := range tests {
		got, err := windowStart(tt.since, 7*24*time.Hour, now, tt.loc)
		if (err == nil) != tt.ok || (tt.ok && got.Format(time.RFC3339) != tt.want) {
			t.Errorf("windowStart(%q) = %s, %v; want %s", tt.since, got.Format(time.RFC3339), err, tt.want)
		}
	}
}
