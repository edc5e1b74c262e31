package cdr

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// row is goodRow with its uniqueid set to id.
func row(id string) string { return strings.Replace(goodRow, `"1.1"`, `"`+id+`"`, 1) }

type followed struct {
	ids   []string
	lines []int64
}

func readAll(t *testing.T, fl *Follower) (followed, Stats) {
	t.Helper()
	var f followed
	st, err := fl.Read(context.Background(), func(r *Record) error {
		f.ids = append(f.ids, r.UniqueID)
		f.lines = append(f.lines, r.Line)
		return nil
	})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return f, st
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func expect(t *testing.T, step string, got followed, ids []string, lines []int64) {
	t.Helper()
	if strings.Join(got.ids, ",") != strings.Join(ids, ",") {
		t.Fatalf("%s: ids %v, want %v", step, got.ids, ids)
	}
	for i := range lines {
		if got.lines[i] != lines[i] {
			t.Fatalf("%s: lines %v, want %v", step, got.lines, lines)
		}
	}
}

// TestFollow: rows are handed over once each, a row still being written
// waits for its end, and line numbers run on across reads.
func TestFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "Master.csv")
	fl := NewFollower(path, CSVOptions{Layout: DefaultLayout})
	defer fl.Close()
	if _, err := fl.Read(context.Background(), func(*Record) error { return nil }); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file never seen: err %v, want not exist", err)
	}
	appendFile(t, path, row("1")+row("2"))
	got, _ := readAll(t, fl)
	expect(t, "first read", got, []string{"1", "2"}, []int64{1, 2})

	got, _ = readAll(t, fl)
	expect(t, "nothing new", got, nil, nil)

	r3 := row("3")
	appendFile(t, path, r3[:40])
	got, _ = readAll(t, fl)
	expect(t, "half a row", got, nil, nil)
	appendFile(t, path, r3[40:]+row("4"))
	got, _ = readAll(t, fl)
	expect(t, "row completed", got, []string{"3", "4"}, []int64{3, 4})

	// A caller name with a newline, cut just after it.
	r5 := strings.Replace(row("5"), `"""Acme"" <+15551230001>"`, "\"a\nb\"", 1)
	cut := strings.Index(r5, "\n") + 1
	appendFile(t, path, r5[:cut])
	got, st := readAll(t, fl)
	expect(t, "cut in a quoted newline", got, nil, nil)
	if st.Malformed != 0 {
		t.Fatalf("a row still being written was counted malformed: %+v", st)
	}
	appendFile(t, path, r5[cut:]+row("6"))
	got, _ = readAll(t, fl)
	expect(t, "quoted newline completed", got, []string{"5", "6"}, []int64{5, 7})

	// A malformed row in the middle is skipped, with its line.
	appendFile(t, path, "\"x\",\"y\"\n"+row("7"))
	got, st = readAll(t, fl)
	expect(t, "malformed", got, []string{"7"}, []int64{9})
	if st.Malformed != 1 || st.Bad[0].Where != "line 8" {
		t.Fatalf("malformed: %+v", st)
	}
}

// TestFollowRotation: logrotate's rename and copytruncate, and the file
// missing for a moment, lose no row and repeat none.
func TestFollowRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "Master.csv")
	fl := NewFollower(path, CSVOptions{Layout: DefaultLayout})
	defer fl.Close()
	appendFile(t, path, row("1")+row("2"))
	got, _ := readAll(t, fl)
	expect(t, "start", got, []string{"1", "2"}, nil)

	// Rename: a last row lands in the old file after our read, then
	// Asterisk starts a new file.
	appendFile(t, path, row("3"))
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	got, _ = readAll(t, fl)
	expect(t, "renamed, no new file yet", got, []string{"3"}, []int64{3})
	appendFile(t, path, row("4")+row("5"))
	got, _ = readAll(t, fl)
	expect(t, "new file", got, []string{"4", "5"}, []int64{1, 2})

	// Renamed with rows unread in both files.
	appendFile(t, path, row("6"))
	if err := os.Rename(path, path+".2"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, row("7"))
	got, _ = readAll(t, fl)
	expect(t, "both files", got, []string{"6", "7"}, []int64{3, 1})

	// Copytruncate: the same file, emptied, then written again.
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	got, _ = readAll(t, fl)
	expect(t, "truncated", got, nil, nil)
	appendFile(t, path, row("8"))
	got, _ = readAll(t, fl)
	expect(t, "after truncation", got, []string{"8"}, []int64{1})

	// Removed: nothing to read and no error until it is back.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	got, _ = readAll(t, fl)
	expect(t, "removed", got, nil, nil)
	appendFile(t, path, row("9"))
	got, _ = readAll(t, fl)
	expect(t, "back", got, []string{"9"}, []int64{1})
}

// TestFollowLayout: a wrong layout stops at the first row, every time,
// with the layout error.
func TestFollowLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "Master.csv")
	appendFile(t, path, row("1"))
	fl := NewFollower(path, CSVOptions{Layout: Layout{}})
	defer fl.Close()
	for range 2 {
		_, err := fl.Read(context.Background(), func(*Record) error { return nil })
		var le *LayoutError
		if !errors.As(err, &le) || le.Line != 1 || le.Got != 18 {
			t.Fatalf("err %v, want a layout error at line 1", err)
		}
	}
}

// TestFollowBrokenQuote: a quote left open by a broken row does not stop
// the follower for good once more than any row's worth follows it.
func TestFollowBrokenQuote(t *testing.T) {
	path := filepath.Join(t.TempDir(), "Master.csv")
	fl := NewFollower(path, CSVOptions{Layout: DefaultLayout})
	defer fl.Close()
	appendFile(t, path, row("1")+"\"broken\n")
	got, st := readAll(t, fl)
	expect(t, "open quote at the end", got, []string{"1"}, []int64{1})
	if st.Malformed != 0 {
		t.Fatalf("held back row counted: %+v", st)
	}
	var more strings.Builder
	for i := 0; more.Len() <= maxPendingRow; i++ {
		more.WriteString(row(fmt.Sprint(100 + i)))
	}
	appendFile(t, path, more.String())
	_, st = readAll(t, fl)
	if st.Malformed != 1 || st.Bad[0].Where != "line 2" {
		t.Fatalf("broken quote: %+v", st)
	}
	appendFile(t, path, row("9"))
	got, _ = readAll(t, fl)
	expect(t, "after the broken quote", got, []string{"9"}, nil)
}
