package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestKeysSorted keeps the canonical encoding's promise: struct fields are
// declared in the order of their JSON keys.
func TestKeysSorted(t *testing.T) {
	for _, v := range []any{Record{}, Source{}, Checkpoint{}} {
		typ := reflect.TypeOf(v)
		t.Run(typ.Name(), func(t *testing.T) {
			var keys []string
			for i := range typ.NumField() {
				tag := typ.Field(i).Tag.Get("json")
				if name, _, _ := strings.Cut(tag, ","); name != "" && name != "-" {
					keys = append(keys, name)
				}
			}
			if !slices.IsSorted(keys) {
				t.Errorf("JSON keys not sorted: %v", keys)
			}
		})
	}
}

// fixture is a closed log of 25 records with checkpoints every 10 records:
// lines r1..r10 c1 r11..r20 c2 r21..r25 c3 (28 lines).
type fixture struct {
	dir   string
	lines [][]byte
	pub   ed25519.PublicKey
	head  *Checkpoint
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	dir := t.TempDir()
	l := openLog(t, Options{Dir: dir, CheckpointEvery: 10})
	appendN(t, l, 1, 25)
	closeLog(t, l)
	files := mustFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("want one file, got %v", files)
	}
	ls := lines(t, files[0])
	if len(ls) != 28 {
		t.Fatalf("fixture has %d lines, want 28", len(ls))
	}
	head, err := ReadHead(dir)
	if err != nil || head == nil || head.N != 3 || head.Seq != 25 {
		t.Fatalf("head = %+v, %v; want checkpoint 3 at seq 25", head, err)
	}
	return fixture{dir: dir, lines: ls, pub: l.PublicKey(), head: head}
}

// idx of record seq and checkpoint n in the fixture's lines.
func rec(seq int) int { return seq - 1 + (seq-1)/10 }
func cp(n int) int    { return map[int]int{1: 10, 2: 21, 3: 27}[n] }

func writeLines(t *testing.T, ls [][]byte) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "audit-000000000001-20260302.jsonl")
	if err := os.WriteFile(name, bytes.Join(ls, nil), 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

func clone(ls [][]byte) [][]byte {
	out := make([][]byte, len(ls))
	for i, l := range ls {
		out[i] = bytes.Clone(l)
	}
	return out
}

func otherKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// resign re-signs a checkpoint line with key, naming keyID.
func resign(t *testing.T, line []byte, key ed25519.PrivateKey, keyID string, edit func(*Checkpoint)) []byte {
	t.Helper()
	c, _, err := parseCheckpoint(bytes.TrimSuffix(line, []byte("\n")))
	if err != nil {
		t.Fatal(err)
	}
	c.KeyID = keyID
	if edit != nil {
		edit(c)
	}
	out, err := sealCheckpoint(c, func(m []byte) []byte { return ed25519.Sign(key, m) })
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// rehash edits a record line and seals it again, as a forger would.
func rehash(t *testing.T, line []byte, edit func(*Record)) ([]byte, string) {
	t.Helper()
	canon, _, err := splitSeal(bytes.TrimSuffix(line, []byte("\n")), "hash", 64)
	if err != nil {
		t.Fatal(err)
	}
	var r Record
	if err := json.Unmarshal(canon, &r); err != nil {
		t.Fatal(err)
	}
	edit(&r)
	out, h, err := sealRecord(&r)
	if err != nil {
		t.Fatal(err)
	}
	return out, h
}

// flip changes the byte right after at by xor with delta.
func flip(line []byte, at string, delta byte) []byte {
	out := bytes.Clone(line)
	i := bytes.Index(out, []byte(at))
	out[i+len(at)] ^= delta
	return out
}

// flipHex changes the hex digit right after the last at into another hex
// digit.
func flipHex(line []byte, at string) []byte {
	out := bytes.Clone(line)
	i := bytes.LastIndex(out, []byte(at)) + len(at)
	if out[i] == '0' {
		out[i] = '1'
	} else {
		out[i] = '0'
	}
	return out
}

func TestFixtureLayout(t *testing.T) {
	f := newFixture(t)
	for n := 1; n <= 3; n++ {
		if !bytes.Contains(f.lines[cp(n)], []byte(`"type":"checkpoint"`)) {
			t.Errorf("line %d is not checkpoint %d: %s", cp(n), n, f.lines[cp(n)])
		}
	}
	for _, s := range []int{1, 10, 11, 20, 21, 25} {
		if !bytes.Contains(f.lines[rec(s)], []byte(`"type":"record"`)) {
			t.Errorf("line %d is not record %d", rec(s), s)
		}
	}
}

func TestVerifyIntact(t *testing.T) {
	f := newFixture(t)
	rep, err := VerifyWith([]string{writeLines(t, f.lines)}, VerifyOptions{PublicKey: f.pub, Head: f.head})
	if err != nil {
		t.Fatalf("intact log: %v", err)
	}
	if rep.Records != 25 || rep.Checkpoints != 3 || rep.FirstSeq != 1 || rep.LastSeq != 25 || rep.Unsealed != 0 ||
		!rep.SignaturesChecked || !rep.HeadChecked || rep.KeyID != KeyID(f.pub) {
		t.Errorf("report = %+v", rep)
	}
	if !strings.Contains(rep.String(), "25 records") {
		t.Errorf("String() = %q", rep.String())
	}
}

func TestVerifyRejects(t *testing.T) {
	f := newFixture(t)
	key2 := otherKey(t)
	id2 := KeyID(key2.Public().(ed25519.PublicKey))
	without := func(ls [][]byte, i int) [][]byte { return slices.Delete(ls, i, i+1) }

	tests := []struct {
		name   string
		tamper func(ls [][]byte) [][]byte
		opts   VerifyOptions
		want   error
		line   int // 1-based line named, 0 to skip
		seq    uint64
	}{
		{"flipped byte in caller", func(ls [][]byte) [][]byte {
			ls[rec(5)] = flip(ls[rec(5)], `"caller":"+1212555`, 1)
			return ls
		}, VerifyOptions{}, ErrHash, rec(5) + 1, 5},
		{"flipped byte in prev", func(ls [][]byte) [][]byte {
			ls[rec(5)] = flip(ls[rec(5)], `"prev":"`, 1)
			return ls
		}, VerifyOptions{}, ErrHash, rec(5) + 1, 5},
		{"flipped byte in seal", func(ls [][]byte) [][]byte {
			ls[rec(5)] = flipHex(ls[rec(5)], `,"hash":"`)
			return ls
		}, VerifyOptions{}, ErrHash, rec(5) + 1, 5},
		{"flipped byte in seq", func(ls [][]byte) [][]byte {
			ls[rec(5)] = flip(ls[rec(5)], `"seq":`, 3) // '5' -> '6'
			return ls
		}, VerifyOptions{}, ErrHash, rec(5) + 1, 6},
		{"flipped byte breaks JSON", func(ls [][]byte) [][]byte {
			ls[rec(5)][0] = '['
			return ls
		}, VerifyOptions{}, ErrMalformed, rec(5) + 1, 0},
		{"flipped byte in signature", func(ls [][]byte) [][]byte {
			ls[cp(1)] = flipHex(ls[cp(1)], `"sig":"`)
			return ls
		}, VerifyOptions{PublicKey: f.pub}, ErrSignature, cp(1) + 1, 10},
		{"flipped byte in checkpoint seq", func(ls [][]byte) [][]byte {
			ls[cp(1)] = flip(ls[cp(1)], `"seq":1`, 1) // 10 -> 11
			return ls
		}, VerifyOptions{PublicKey: f.pub}, ErrSignature, cp(1) + 1, 11},
		{"deleted record", func(ls [][]byte) [][]byte { return without(ls, rec(5)) },
			VerifyOptions{}, ErrSequence, rec(5) + 1, 6},
		{"inserted duplicate record", func(ls [][]byte) [][]byte { return slices.Insert(ls, rec(5), bytes.Clone(ls[rec(5)])) },
			VerifyOptions{}, ErrSequence, rec(5) + 2, 5},
		{"two records swapped", func(ls [][]byte) [][]byte {
			ls[rec(5)], ls[rec(6)] = ls[rec(6)], ls[rec(5)]
			return ls
		}, VerifyOptions{}, ErrSequence, rec(5) + 1, 6},
		{"record edited and re-hashed", func(ls [][]byte) [][]byte {
			ls[rec(5)], _ = rehash(t, ls[rec(5)], func(r *Record) { r.Result = "block"; r.Action = "block" })
			return ls
		}, VerifyOptions{}, ErrChain, rec(6) + 1, 6},
		{"chain re-hashed up to a checkpoint", func(ls [][]byte) [][]byte {
			var prev string
			for s := 5; s <= 10; s++ {
				ls[rec(s)], prev = rehash(t, ls[rec(s)], func(r *Record) {
					if s == 5 {
						r.Caller = "+12125550000"
					} else {
						r.Prev = prev
					}
				})
			}
			return ls
		}, VerifyOptions{PublicKey: f.pub}, ErrReplay, cp(1) + 1, 10},
		{"truncated mid-line", func(ls [][]byte) [][]byte {
			last := len(ls) - 1
			ls[last] = ls[last][:len(ls[last])/2]
			return ls
		}, VerifyOptions{}, ErrTruncated, 28, 0},
		{"truncated at a line boundary", func(ls [][]byte) [][]byte { return ls[:cp(3)] },
			VerifyOptions{}, ErrUnsealed, rec(21) + 1, 21},
		{"truncated at a checkpoint, head kept", func(ls [][]byte) [][]byte { return ls[:cp(2)+1] },
			VerifyOptions{PublicKey: f.pub, Head: f.head}, ErrTruncated, 0, 20},
		{"checkpoint re-signed with another key", func(ls [][]byte) [][]byte {
			ls[cp(2)] = resign(t, ls[cp(2)], key2, id2, nil)
			return ls
		}, VerifyOptions{PublicKey: f.pub}, ErrWrongKey, cp(2) + 1, 20},
		{"checkpoint re-signed with another key, key id kept", func(ls [][]byte) [][]byte {
			ls[cp(2)] = resign(t, ls[cp(2)], key2, KeyID(f.pub), nil)
			return ls
		}, VerifyOptions{PublicKey: f.pub}, ErrSignature, cp(2) + 1, 20},
		{"checkpoint re-signed with another key, no pubkey", func(ls [][]byte) [][]byte {
			ls[cp(2)] = resign(t, ls[cp(2)], key2, id2, nil)
			return ls
		}, VerifyOptions{}, ErrWrongKey, cp(2) + 1, 20},
		{"whole log re-signed with another key", func(ls [][]byte) [][]byte {
			for n := 1; n <= 3; n++ {
				ls[cp(n)] = resign(t, ls[cp(n)], key2, id2, nil)
			}
			return ls
		}, VerifyOptions{PublicKey: f.pub}, ErrWrongKey, cp(1) + 1, 10},
		{"old checkpoint replayed in place of the last", func(ls [][]byte) [][]byte {
			ls[cp(3)] = bytes.Clone(ls[cp(1)])
			return ls
		}, VerifyOptions{PublicKey: f.pub}, ErrReplay, cp(3) + 1, 10},
		{"old checkpoint replayed after the last", func(ls [][]byte) [][]byte {
			return append(ls, bytes.Clone(ls[cp(2)]))
		}, VerifyOptions{PublicKey: f.pub}, ErrReplay, 29, 20},
		{"old checkpoint replayed mid-log", func(ls [][]byte) [][]byte {
			return slices.Insert(ls, rec(16), bytes.Clone(ls[cp(1)]))
		}, VerifyOptions{PublicKey: f.pub}, ErrReplay, rec(16) + 1, 10},
		{"checkpoint removed", func(ls [][]byte) [][]byte { return without(ls, cp(2)) },
			VerifyOptions{PublicKey: f.pub}, ErrReplay, cp(3), 25},
		{"checkpoint renumbered and re-signed with another key", func(ls [][]byte) [][]byte {
			ls = without(ls, cp(2))
			ls[cp(3)-1] = resign(t, ls[cp(3)-1], key2, id2, func(c *Checkpoint) { c.N = 2 })
			return ls
		}, VerifyOptions{PublicKey: f.pub}, ErrWrongKey, cp(3), 25},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := writeLines(t, tc.tamper(clone(f.lines)))
			_, err := VerifyWith([]string{name}, tc.opts)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var ve *VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("err %T is not a *VerifyError", err)
			}
			if ve.File != name || (tc.line != 0 && ve.Line != tc.line) || ve.Seq != tc.seq {
				t.Errorf("names %s line %d seq %d, want line %d seq %d (%v)", ve.File, ve.Line, ve.Seq, tc.line, tc.seq, err)
			}
		})
	}
}

func TestVerifyOffsetNamesTheLine(t *testing.T) {
	f := newFixture(t)
	ls := clone(f.lines)
	ls[rec(7)] = flip(ls[rec(7)], `"dialed":"+1`, 1)
	name := writeLines(t, ls)
	_, err := Verify([]string{name}, f.pub)
	var ve *VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v", err)
	}
	data, _ := os.ReadFile(name)
	line, _, _ := bytes.Cut(data[ve.Offset:], []byte("\n"))
	if !bytes.Contains(line, []byte(`"seq":7,`)) {
		t.Errorf("offset %d points at %q", ve.Offset, line)
	}
	if !strings.Contains(err.Error(), name+":7 ") || !strings.Contains(err.Error(), "seq 7") {
		t.Errorf("message %q does not name file:line and seq", err)
	}
}

func TestVerifyAllowUnsealedAndSubsets(t *testing.T) {
	f := newFixture(t)
	cut := writeLines(t, f.lines[:cp(3)])
	if _, err := VerifyWith([]string{cut}, VerifyOptions{PublicKey: f.pub, AllowUnsealed: true}); err != nil {
		t.Errorf("unsealed tail with AllowUnsealed: %v", err)
	}
	// A log read from its middle: starts at record 11, anchored by nothing.
	mid := writeLines(t, f.lines[rec(11):])
	rep, err := Verify([]string{mid}, f.pub)
	if err != nil || rep.FirstSeq != 11 {
		t.Errorf("log from the middle: %+v, %v", rep, err)
	}
	// Starting with a checkpoint anchors what follows.
	fromCP := writeLines(t, f.lines[cp(1):])
	if rep, err := Verify([]string{fromCP}, f.pub); err != nil || rep.FirstSeq != 11 {
		t.Errorf("log from a checkpoint: %+v, %v", rep, err)
	}
	// A first record claiming seq 1 must start from the genesis hash.
	ls := clone(f.lines[:rec(2)+1])
	ls[0], _ = rehash(t, ls[0], func(r *Record) { r.Prev = strings.Repeat("1", 64) })
	if _, err := VerifyWith([]string{writeLines(t, ls)}, VerifyOptions{AllowUnsealed: true}); !errors.Is(err, ErrChain) {
		t.Errorf("seq 1 without genesis prev: %v", err)
	}
	if _, err := Verify(nil, f.pub); err == nil {
		t.Error("no files: no error")
	}
}
