package cdr

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzFollowSplit: whatever the bytes and wherever the file is cut while
// Asterisk writes it, following it gives exactly the rows and malformed
// lines that reading it whole gives, and nothing panics.
func FuzzFollowSplit(f *testing.F) {
	fixture, err := os.ReadFile(fixture)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(fixture, 100)
	f.Add(fixture, len(fixture)/2)
	f.Add([]byte(strings.Replace(row("1"), `"""Acme"" <+15551230001>"`, "\"a\nb\"", 1)+row("2")), 75)
	f.Add([]byte(row("1")+"\"x\",\"y\"\n"+row("2")+"\"broken\"quote\"\n"+row("3")), 300)
	f.Add([]byte("\n\n"+row("1")), 1)
	f.Fuzz(func(t *testing.T, data []byte, cut int) {
		if len(data) > 1<<16 {
			return
		}
		if len(data) > 0 && data[len(data)-1] != '\n' {
			data = append(data, '\n') // Asterisk ends every row with one
		}
		if cut < 0 {
			cut = -cut
		}
		if len(data) > 0 {
			cut %= len(data) + 1
		} else {
			cut = 0
		}
		describe := func(recs []string, st Stats, err error) string {
			var lines []string
			for _, b := range st.Bad {
				lines = append(lines, b.Where)
			}
			return fmt.Sprintf("rows %v malformed %d %v err %v", recs, st.Malformed, lines, err != nil)
		}
		var whole []string
		wst, werr := ReadCSV(bytes.NewReader(data), CSVOptions{Layout: DefaultLayout}, func(r *Record) error {
			whole = append(whole, fmt.Sprintf("%d:%s:%s", r.Line, r.UniqueID, r.CLID))
			return nil
		})

		path := filepath.Join(t.TempDir(), "Master.csv")
		if err := os.WriteFile(path, data[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		fl := NewFollower(path, CSVOptions{Layout: DefaultLayout})
		defer fl.Close()
		var followed []string
		var fst Stats
		var ferr error
		add := func(r *Record) error {
			followed = append(followed, fmt.Sprintf("%d:%s:%s", r.Line, r.UniqueID, r.CLID))
			return nil
		}
		st, err := fl.Read(context.Background(), add)
		fst.Add(st)
		ferr = err
		if err == nil {
			fh, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fh.Write(data[cut:]); err != nil {
				t.Fatal(err)
			}
			fh.Close()
			st, err = fl.Read(context.Background(), add)
			fst.Add(st)
			ferr = err
		}
		if werr == nil && ferr == nil && fst.Malformed == wst.Malformed-1 && len(wst.Bad) > 0 &&
			strings.Contains(wst.Bad[len(wst.Bad)-1].Err, "quoted-field") {
			// The file ends inside a quoted field: whole, that row is
			// malformed; followed, it may still be being written.
			wst.Malformed--
			wst.Bad = wst.Bad[:len(wst.Bad)-1]
		}
		w, g := describe(whole, wst, werr), describe(followed, fst, ferr)
		if w != g {
			t.Fatalf("cut at %d of %q:\nwhole:    %s\nfollowed: %s", cut, data, w, g)
		}
	})
}
