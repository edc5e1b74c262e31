package cdrdb

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/callscreen/callscreen/cdr"
	"github.com/callscreen/callscreen/internal/mariadbtest"
	"github.com/callscreen/callscreen/outbound"
)

const password = "s3cret pw;@/"

// startDB starts MariaDB with FreePBX's CDR table holding the rows of the
// fixture, as cdr_adaptive_odbc would have written them on a FreePBX: the
// calling extension in src and the number presented to the trunk in
// outbound_cnum on the row that placed the call, and one linkedid per call.
func startDB(t *testing.T) (*mariadbtest.Server, Options) {
	t.Helper()
	srv := mariadbtest.Start(t)
	schema, err := os.ReadFile("testdata/freepbx-cdr.sql")
	if err != nil {
		t.Fatal(err)
	}
	srv.Exec("CREATE DATABASE asteriskcdrdb",
		"USE asteriskcdrdb;\n"+string(schema),
		"CREATE USER 'callscreen'@'127.0.0.1' IDENTIFIED BY '"+password+"'",
		"GRANT SELECT ON asteriskcdrdb.cdr TO 'callscreen'@'127.0.0.1'")
	var rows []cdr.Record
	if _, err := cdr.ReadCSVFile("../testdata/Master-outbound.csv", cdr.CSVOptions{Layout: cdr.DefaultLayout}, func(r *cdr.Record) error {
		rows = append(rows, *r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	linked := map[string]string{} // dst of a call → uniqueid of its Dial row
	for _, r := range rows {
		if r.LastApp == "Dial" {
			linked[r.Dst] = r.UniqueID
		}
	}
	var values []string
	for _, r := range rows {
		src, ocnum, linkedid := r.Src, "", r.UniqueID
		if r.LastApp == "Dial" {
			src, ocnum = "100", r.Src
		}
		if id, ok := linked[r.Dst]; ok {
			linkedid = id
		}
		values = append(values, fmt.Sprintf("('%s','%s','%s','%s','%s','%s','%s','%s','%s',%d,%d,'%s',3,'','%s','','%s','%s')",
			r.Start.Format(time.DateTime), strings.ReplaceAll(r.CLID, "'", "''"), src, r.Dst, r.DContext, r.Channel, r.DstChannel,
			r.LastApp, r.LastData, r.Duration, r.BillSec, r.Disposition, r.UniqueID, ocnum, linkedid))
	}
	srv.Exec("INSERT INTO asteriskcdrdb.cdr (calldate, clid, src, dst, dcontext, channel, dstchannel, lastapp, lastdata, " +
		"duration, billsec, disposition, amaflags, accountcode, uniqueid, userfield, outbound_cnum, linkedid) VALUES " +
		strings.Join(values, ",\n"))
	return srv, Options{DSN: "callscreen@tcp(" + srv.Addr() + ")/asteriskcdrdb", Password: password, Timeout: 20 * time.Second}
}

func readInto(t *testing.T, r *Reader, a *outbound.Aggregator) cdr.Stats {
	t.Helper()
	st, err := r.Read(context.Background(), func(rec *cdr.Record) error {
		a.Add(rec)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func insert(srv *mariadbtest.Server, calldate, uniqueid, disposition string, duration, billsec int) {
	srv.Exec(fmt.Sprintf("INSERT INTO asteriskcdrdb.cdr (calldate, src, dst, dcontext, lastapp, duration, billsec, disposition, "+
		"uniqueid, linkedid, outbound_cnum) VALUES ('%s','100','12125559999','from-internal','Dial',%d,%d,'%s','%s','%s','+15551230001')",
		calldate, duration, billsec, disposition, uniqueid, uniqueid))
}

// TestFreePBXTable reads the fixture's calls from a real MariaDB, the same
// calls the Master.csv gives, then reads on incrementally.
func TestFreePBXTable(t *testing.T) {
	srv, opts := startDB(t)
	r, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	a := outbound.New(outbound.Options{})
	st := readInto(t, r, a)
	if st.Rows != 17 || st.Malformed != 0 {
		t.Fatalf("first read: %+v", st)
	}
	fromCSV := outbound.New(outbound.Options{})
	if _, err := cdr.ReadCSVFile("../testdata/Master-outbound.csv", cdr.CSVOptions{Layout: cdr.DefaultLayout}, func(rec *cdr.Record) error {
		fromCSV.Add(rec)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, want := a.Report().Numbers, fromCSV.Report().Numbers
	if len(got) != 2 || len(want) != 2 {
		t.Fatalf("numbers: %+v", got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Number != w.Number || g.Calls != w.Calls || g.Answered != w.Answered || g.Short != w.Short || g.Unreachable != w.Unreachable ||
			g.Busy != w.Busy || g.NoAnswer != w.NoAnswer || g.Destinations != w.Destinations {
			t.Errorf("from MariaDB %+v\nfrom Master.csv %+v", g, w)
		}
	}

	// Nothing new: nothing read, though the look-back re-reads the rows.
	if st := readInto(t, r, a); st.Rows != 0 {
		t.Fatalf("second read: %+v", st)
	}
	// A newer call, a call that ended late but started earlier (inside
	// the look-back), an inbound call to an extension (no outbound_cnum),
	// and a row with a disposition nobody writes.
	insert(srv, "2026-12-02 03:00:00", "n1", "ANSWERED", 100, 90)
	insert(srv, "2026-12-02 01:50:00", "late1", "BUSY", 0, 0)
	srv.Exec("INSERT INTO asteriskcdrdb.cdr (calldate, src, dst, dcontext, lastapp, disposition, uniqueid) VALUES " +
		"('2026-12-02 03:01:00','+15551230001','100','from-did-direct','Dial','ANSWERED','in1')," +
		"('2026-12-02 03:02:00','100','12125550000','from-internal','Dial','MAYBE','bad1')")
	st = readInto(t, r, a)
	if st.Rows != 4 || st.Malformed != 1 || len(st.Bad) != 1 || st.Bad[0].Where != `row uniqueid "bad1"` || !strings.Contains(st.Bad[0].Err, `disposition "MAYBE"`) {
		t.Fatalf("third read: %+v", st)
	}
	h := a.Report().Numbers
	var one outbound.Health
	for _, n := range h {
		if n.Number == "+15551230001" {
			one = n
		}
	}
	if one.Calls != 6 || one.Busy != 2 || one.Answered != 2 {
		t.Fatalf("+15551230001 after the new rows: %+v", one)
	}
	if st := readInto(t, r, a); st.Rows != 0 {
		t.Fatalf("fourth read: %+v", st)
	}
}

// TestSince: the first read starts at the time given.
func TestSince(t *testing.T) {
	_, opts := startDB(t)
	r, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.Since(time.Date(2026, 12, 2, 1, 44, 3, 0, time.UTC))
	a := outbound.New(outbound.Options{})
	if st := readInto(t, r, a); st.Rows != 5 {
		t.Fatalf("rows from 01:44:03: %+v", st)
	}
}

// TestErrors: every failure says what and where, never the password.
func TestErrors(t *testing.T) {
	srv, opts := startDB(t)
	srv.Exec("CREATE TABLE asteriskcdrdb.notcdr (calldate datetime, src varchar(10))",
		"GRANT SELECT ON asteriskcdrdb.notcdr TO 'callscreen'@'127.0.0.1'")
	closed := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}()
	tests := []struct {
		name string
		opts Options
		want []string
	}{
		{"wrong password", Options{DSN: opts.DSN, Password: "wrong " + password}, []string{"callscreen@tcp(", "Access denied"}},
		{"password in the dsn", Options{DSN: "callscreen:" + strings.ReplaceAll(password, "/", "x") + "x@tcp(" + srv.Addr() + ")/asteriskcdrdb"},
			[]string{"callscreen:redacted@tcp(", "Access denied"}},
		{"unreachable", Options{DSN: "callscreen@tcp(" + closed + ")/asteriskcdrdb", Password: password},
			[]string{"cdr database callscreen@tcp(" + closed + ")/asteriskcdrdb table cdr", "connection refused"}},
		{"not a cdr table", Options{DSN: opts.DSN, Password: password, Table: "notcdr"},
			[]string{"table notcdr: has no column clid, dst, dcontext, channel, dstchannel, lastapp, lastdata, duration, billsec, disposition, uniqueid"}},
		{"no such table", Options{DSN: opts.DSN, Password: password, Table: "asteriskcdrdb.nothere"}, []string{"nothere"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Timeout = 20 * time.Second
			r, err := Open(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			_, err = r.Read(context.Background(), func(*cdr.Record) error { return nil })
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
	for _, bad := range []Options{{DSN: "not a dsn"}, {DSN: "u@tcp(h:1)/"}, {DSN: "u@tcp(h:1)/db", Table: "cdr; DROP TABLE x"}} {
		if _, err := Open(bad); err == nil {
			t.Errorf("Open(%+v) accepted", bad)
		}
	}
}
