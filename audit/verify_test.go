package audit

import (
	"bytes"
	"context"
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
	for _, v := range []any{Record{}, Source{}, Checkpoint{}, Gap{}, Break{}} {
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

// logFixture is a closed log of 20 records in several files (rotation at
// 6 KiB, so about five records a file), a checkpoint every 4 entries and
// at every rotation, and the witness file that received every checkpoint.
type logFixture struct {
	dir     string
	witness string
	key     ed25519.PrivateKey
	pub     ed25519.PublicKey
}

func newLogFixture(t *testing.T) logFixture {
	t.Helper()
	dir := t.TempDir()
	wit := filepath.Join(t.TempDir(), "witness.jsonl")
	l := openLog(t, Options{Dir: dir, CheckpointEvery: 4, RotateSize: 6 << 10, Witness: FileWitness{Path: wit}})
	appendN(t, l, 1, 20)
	closeLog(t, l)
	key, err := LoadOrCreateKey(filepath.Join(dir, DefaultKeyName))
	if err != nil {
		t.Fatal(err)
	}
	if files := mustFiles(t, dir); len(files) < 4 {
		t.Fatalf("fixture has %d files, want at least 4", len(files))
	}
	return logFixture{dir: dir, witness: wit, key: key, pub: l.PublicKey()}
}

// copyDir copies the files of src into a new directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// locate finds an entry in a log directory: a record by seq (typ
// TypeRecord) or a checkpoint by number. It returns the file and the
// line's 0-based index.
func locate(t *testing.T, dir, typ string, num uint64) (string, int) {
	t.Helper()
	for _, f := range mustFiles(t, dir) {
		for i, l := range lines(t, f) {
			ty, seq, n := peekEntry(bytes.TrimSuffix(l, []byte("\n")))
			if ty == typ && ((typ == TypeCheckpoint && n == num) || (typ != TypeCheckpoint && seq == num)) {
				return f, i
			}
		}
	}
	t.Fatalf("no %s %d in %s", typ, num, dir)
	return "", 0
}

func editFile(t *testing.T, name string, edit func(ls [][]byte) [][]byte) {
	t.Helper()
	ls := edit(lines(t, name))
	if err := os.WriteFile(name, bytes.Join(ls, nil), 0o600); err != nil {
		t.Fatal(err)
	}
}

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

// forge rewrites a whole log directory the way someone holding key would:
// edit changes the records it wants, every later record is chained again,
// every checkpoint re-signed by key, the head file and the public key
// beside the log replaced.
func forge(t *testing.T, dir string, key ed25519.PrivateKey, edit func(*Record)) {
	t.Helper()
	pub := key.Public().(ed25519.PublicKey)
	prev := GenesisHash
	var last []byte
	for _, f := range mustFiles(t, dir) {
		editFile(t, f, func(ls [][]byte) [][]byte {
			for i, l := range ls {
				if bytes.Contains(l, []byte(`"type":"checkpoint"`)) {
					ls[i] = resign(t, l, key, KeyID(pub), func(c *Checkpoint) { c.Hash = prev })
					last = ls[i]
					continue
				}
				ls[i], prev = rehash(t, l, func(r *Record) { r.Prev = prev; edit(r) })
			}
			return ls
		})
	}
	if err := os.WriteFile(filepath.Join(dir, HeadFile), last, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WritePublicKey(PublicKeyFile(filepath.Join(dir, DefaultKeyName)), pub); err != nil {
		t.Fatal(err)
	}
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

func TestVerifyIntact(t *testing.T) {
	f := newLogFixture(t)
	wit, err := ReadWitness(context.Background(), f.witness, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := VerifyDir(f.dir, VerifyOptions{PublicKey: f.pub, Witness: wit})
	if err != nil {
		t.Fatalf("intact log: %v", err)
	}
	if rep.Records != 20 || rep.FirstSeq != 1 || rep.LastSeq != 20 || rep.Unsealed != 0 || rep.Checkpoints < 5 ||
		!rep.SignaturesChecked || !rep.HeadChecked || rep.KeyID != KeyID(f.pub) || rep.WitnessChecked != int(rep.Checkpoints) {
		t.Errorf("report = %+v", rep)
	}
	if !strings.Contains(rep.String(), "20 records (seq 1..20)") {
		t.Errorf("String() = %q", rep.String())
	}
}

// TestVerifyTamper is every way of tampering with a log directory we know
// of, each caught by name: the sentinel, and the file and line of the
// first bad entry. Some need the public key kept off the host, or the
// witness: the cases say which, and show what gets through without.
func TestVerifyTamper(t *testing.T) {
	f := newLogFixture(t)
	wit, err := ReadWitness(context.Background(), f.witness, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	files := mustFiles(t, f.dir)
	base := func(i int) string { return filepath.Base(files[i]) }
	stolen := otherKey(t)
	head, err := ReadHead(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	lastN := head.N

	type where struct {
		file string // base name, "" to skip
		line int    // 1-based, 0 for the log as a whole
	}
	// at names line i (0-based) of file.
	at := func(file string, i int) where { return where{filepath.Base(file), i + 1} }
	// covering names the first checkpoint covering seq.
	covering := func(t *testing.T, d string, seq uint64) where {
		for n := uint64(1); ; n++ {
			if checkpointSeq(t, d, n) >= seq {
				file, i := locate(t, d, TypeCheckpoint, n)
				return at(file, i)
			}
		}
	}
	tests := []struct {
		name    string
		tamper  func(t *testing.T, d string) where
		pubkey  bool // verify with the public key kept off the host
		witness bool // and against the witness
		noHead  bool // without the head file
		want    error
	}{
		{"flipped byte in a record", func(t *testing.T, d string) where {
			file, i := locate(t, d, TypeRecord, 7)
			editFile(t, file, func(ls [][]byte) [][]byte { ls[i] = flip(ls[i], `"caller":"+1212555`, 1); return ls })
			return at(file, i)
		}, false, false, false, ErrHash},
		{"flipped byte in a record's seq", func(t *testing.T, d string) where {
			file, i := locate(t, d, TypeRecord, 7)
			editFile(t, file, func(ls [][]byte) [][]byte { ls[i] = flip(ls[i], `"seq":`, 1); return ls })
			return at(file, i)
		}, false, false, false, ErrHash},
		{"flipped byte in a seal", func(t *testing.T, d string) where {
			file, i := locate(t, d, TypeRecord, 7)
			editFile(t, file, func(ls [][]byte) [][]byte { ls[i] = flipHex(ls[i], `,"hash":"`); return ls })
			return at(file, i)
		}, false, false, false, ErrHash},
		{"flipped byte in a checkpoint signature", func(t *testing.T, d string) where {
			file, i := locate(t, d, TypeCheckpoint, 2)
			editFile(t, file, func(ls [][]byte) [][]byte { ls[i] = flipHex(ls[i], `"sig":"`); return ls })
			return at(file, i)
		}, true, false, false, ErrSignature},
		{"flipped byte breaks the JSON", func(t *testing.T, d string) where {
			file, i := locate(t, d, TypeRecord, 7)
			editFile(t, file, func(ls [][]byte) [][]byte { ls[i][0] = '['; return ls })
			return at(file, i)
		}, false, false, false, ErrMalformed},
		{"deleted head records (sed 1,3d on the first file)", func(t *testing.T, d string) where {
			editFile(t, filepath.Join(d, base(0)), func(ls [][]byte) [][]byte { return ls[3:] })
			return where{base(0), 1}
		}, false, false, false, ErrMissingStart},
		{"deleted first file", func(t *testing.T, d string) where {
			os.Remove(filepath.Join(d, base(0)))
			return where{base(1), 1}
		}, false, false, false, ErrMissingStart},
		{"deleted middle record", func(t *testing.T, d string) where {
			file, i := locate(t, d, TypeRecord, 9)
			editFile(t, file, func(ls [][]byte) [][]byte { return slices.Delete(ls, i, i+1) })
			return at(file, i)
		}, false, false, false, ErrSequence},
		{"deleted tail records at a checkpoint, head file kept", func(t *testing.T, d string) where {
			last := cutAfter(t, d, lastN-1)
			return where{filepath.Base(last), 0}
		}, true, false, false, ErrTruncated},
		{"deleted tail records, head file gone too", func(t *testing.T, d string) where {
			file, i := locate(t, d, TypeCheckpoint, lastN)
			editFile(t, file, func(ls [][]byte) [][]byte { return ls[:i] })
			file, i = locate(t, d, TypeRecord, checkpointSeq(t, d, lastN-1)+1)
			return at(file, i)
		}, true, false, true, ErrUnsealed},
		{"reordered records", func(t *testing.T, d string) where {
			file, i := locate(t, d, TypeRecord, 13)
			editFile(t, file, func(ls [][]byte) [][]byte { ls[i], ls[i+1] = ls[i+1], ls[i]; return ls })
			return at(file, i)
		}, false, false, false, ErrSequence},
		{"duplicated record", func(t *testing.T, d string) where {
			file, i := locate(t, d, TypeRecord, 13)
			editFile(t, file, func(ls [][]byte) [][]byte { return slices.Insert(ls, i, bytes.Clone(ls[i])) })
			return at(file, i+1)
		}, false, false, false, ErrSequence},
		{"truncated mid-line", func(t *testing.T, d string) where {
			file, i := locate(t, d, TypeRecord, 12)
			editFile(t, file, func(ls [][]byte) [][]byte { ls[i] = ls[i][:len(ls[i])/2]; return ls[:i+1] })
			return at(file, i)
		}, false, false, false, ErrTruncated},
		{"removed middle file", func(t *testing.T, d string) where {
			os.Remove(filepath.Join(d, base(1)))
			return where{base(2), 1}
		}, false, false, false, ErrSequence},
		{"middle file renamed out of the log", func(t *testing.T, d string) where {
			os.Rename(filepath.Join(d, base(1)), filepath.Join(d, base(1)+".bak"))
			return where{base(2), 1}
		}, false, false, false, ErrSequence},
		{"middle file renamed to another seq", func(t *testing.T, d string) where {
			to := strings.Replace(base(1), base(1)[len(filePrefix):len(filePrefix)+12], "000000000099", 1)
			os.Rename(filepath.Join(d, base(1)), filepath.Join(d, to))
			return where{base(2), 1}
		}, false, false, false, ErrSequence},
		{"record edited and re-hashed", func(t *testing.T, d string) where {
			file, i := locate(t, d, TypeRecord, 9)
			editFile(t, file, func(ls [][]byte) [][]byte {
				ls[i], _ = rehash(t, ls[i], func(r *Record) { r.Result, r.Action = "block", "block" })
				return ls
			})
			file, i = locate(t, d, TypeRecord, 10)
			return at(file, i)
		}, false, false, false, ErrChain},
		{"older checkpoint replayed in place of the last", func(t *testing.T, d string) where {
			old, oi := locate(t, d, TypeCheckpoint, 2)
			last := filepath.Join(d, base(len(files)-1))
			oldLine := lines(t, old)[oi]
			var at where
			editFile(t, last, func(ls [][]byte) [][]byte {
				ls[len(ls)-1] = oldLine
				at = where{filepath.Base(last), len(ls)}
				return ls
			})
			return at
		}, true, false, true, ErrReplay},
		{"older checkpoint replayed mid-log", func(t *testing.T, d string) where {
			old, oi := locate(t, d, TypeCheckpoint, 2)
			oldLine := lines(t, old)[oi]
			file, i := locate(t, d, TypeRecord, 14)
			editFile(t, file, func(ls [][]byte) [][]byte { return slices.Insert(ls, i, oldLine) })
			return at(file, i)
		}, true, false, false, ErrReplay},
		{"checkpoint removed", func(t *testing.T, d string) where {
			file, i := locate(t, d, TypeCheckpoint, 3)
			editFile(t, file, func(ls [][]byte) [][]byte { return slices.Delete(ls, i, i+1) })
			next, j := locate(t, d, TypeCheckpoint, 4)
			return at(next, j)
		}, true, false, false, ErrReplay},
		{"re-sealed with a new key, caught with --pubkey", func(t *testing.T, d string) where {
			forge(t, d, stolen, func(r *Record) {
				if r.Seq == 9 {
					r.Result = "block"
				}
			})
			file, i := locate(t, d, TypeCheckpoint, 1)
			return at(file, i)
		}, true, false, false, ErrWrongKey},
		{"re-sealed with a new key, verified with the key beside the log: not caught (keep the public key off the host)", func(t *testing.T, d string) where {
			forge(t, d, stolen, func(r *Record) {
				if r.Seq == 9 {
					r.Result = "block"
				}
			})
			return where{}
		}, false, false, false, nil},
		{"rolled-back head.json", func(t *testing.T, d string) where {
			old, oi := locate(t, d, TypeCheckpoint, 3)
			os.WriteFile(filepath.Join(d, HeadFile), lines(t, old)[oi], 0o600)
			return where{base(len(files) - 1), 0}
		}, true, false, false, ErrReplay},
		{"rolled-back head.json, log cut to match: not caught without the witness", func(t *testing.T, d string) where {
			cutAtCheckpoint(t, d, 3)
			return where{}
		}, true, false, false, nil},
		{"rolled-back head.json, log cut to match, caught by the witness", func(t *testing.T, d string) where {
			last := cutAtCheckpoint(t, d, 3)
			return where{filepath.Base(last), 0}
		}, true, true, false, ErrTruncated},
		{"rewritten with the stolen signing key: not caught without the witness", func(t *testing.T, d string) where {
			forge(t, d, f.key, func(r *Record) {
				if r.Seq == 9 {
					r.Result = "block"
				}
			})
			return where{}
		}, true, false, false, nil},
		{"rewritten with the stolen signing key, caught by the witness", func(t *testing.T, d string) where {
			forge(t, d, f.key, func(r *Record) {
				if r.Seq == 9 {
					r.Result = "block"
				}
			})
			return covering(t, d, 9)
		}, true, true, false, ErrReplay},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := copyDir(t, f.dir)
			w := tc.tamper(t, d)
			opts := VerifyOptions{}
			if tc.pubkey {
				opts.PublicKey = f.pub
			} else {
				pub, err := ReadPublicKey(PublicKeyFile(filepath.Join(d, DefaultKeyName)))
				if err != nil {
					t.Fatal(err)
				}
				opts.PublicKey = pub
			}
			if tc.witness {
				opts.Witness = wit
			}
			var rep Report
			var err error
			if tc.noHead {
				rep, err = VerifyWith(mustFiles(t, d), opts)
			} else {
				rep, err = VerifyDir(d, opts)
			}
			if tc.want == nil {
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v (report %s)", err, tc.want, rep)
			}
			var ve *VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("err %T is not a *VerifyError: %v", err, err)
			}
			if w.file != "" && (filepath.Base(ve.File) != w.file || ve.Line != w.line) {
				t.Errorf("names %s:%d, want %s:%d (%v)", filepath.Base(ve.File), ve.Line, w.file, w.line, err)
			}
		})
	}
}

// cutAfter cuts the log right after checkpoint n and removes the files
// after it. It returns the file that now ends the log.
func cutAfter(t *testing.T, d string, n uint64) string {
	t.Helper()
	file, i := locate(t, d, TypeCheckpoint, n)
	editFile(t, file, func(ls [][]byte) [][]byte { return ls[:i+1] })
	for _, g := range mustFiles(t, d) {
		if g > file {
			os.Remove(g)
		}
	}
	return file
}

// cutAtCheckpoint is cutAfter with checkpoint n made the head file, as
// someone hiding the tail would.
func cutAtCheckpoint(t *testing.T, d string, n uint64) string {
	t.Helper()
	file, i := locate(t, d, TypeCheckpoint, n)
	cp := lines(t, file)[i]
	cutAfter(t, d, n)
	if err := os.WriteFile(filepath.Join(d, HeadFile), cp, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// checkpointSeq is the seq checkpoint n covers.
func checkpointSeq(t *testing.T, d string, n uint64) uint64 {
	t.Helper()
	file, i := locate(t, d, TypeCheckpoint, n)
	_, seq, _ := peekEntry(bytes.TrimSuffix(lines(t, file)[i], []byte("\n")))
	return seq
}

func TestVerifyOffsetNamesTheLine(t *testing.T) {
	f := newLogFixture(t)
	d := copyDir(t, f.dir)
	file, i := locate(t, d, TypeRecord, 7)
	editFile(t, file, func(ls [][]byte) [][]byte { ls[i] = flip(ls[i], `"dialed":"+1`, 1); return ls })
	_, err := Verify(mustFiles(t, d), f.pub)
	var ve *VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v", err)
	}
	data, _ := os.ReadFile(file)
	line, _, _ := bytes.Cut(data[ve.Offset:], []byte("\n"))
	if !bytes.Contains(line, []byte(`"seq":7,`)) {
		t.Errorf("offset %d points at %q", ve.Offset, line)
	}
	if !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "seq 7") {
		t.Errorf("message %q does not name file:line and seq", err)
	}
}

// TestVerifyFromTheMiddle: files whose predecessors are archived verify
// when told what they continue from (the last checkpoint of the file
// before), and only then.
func TestVerifyFromTheMiddle(t *testing.T) {
	f := newLogFixture(t)
	files := mustFiles(t, f.dir)
	after, err := LastCheckpoint(files[1])
	if err != nil {
		t.Fatal(err)
	}
	rep, err := VerifyWith(files[2:], VerifyOptions{PublicKey: f.pub, After: after})
	if err != nil || rep.FirstSeq != after.Seq+1 || rep.LastSeq != 20 || rep.After != after.Seq {
		t.Errorf("from file 2 after file 1's checkpoint: %+v, %v", rep, err)
	}
	if _, err := Verify(files[2:], f.pub); !errors.Is(err, ErrMissingStart) {
		t.Errorf("from file 2 with nothing before: %v, want ErrMissingStart", err)
	}
	// The checkpoint of another file does not fit.
	wrong, err := LastCheckpoint(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyWith(files[2:], VerifyOptions{PublicKey: f.pub, After: wrong}); !errors.Is(err, ErrSequence) {
		t.Errorf("after the wrong checkpoint: %v, want ErrSequence", err)
	}
	// A forged After checkpoint is caught by its signature.
	forged := *after
	forged.Sig = strings.Repeat("0", len(forged.Sig))
	if _, err := VerifyWith(files[2:], VerifyOptions{PublicKey: f.pub, After: &forged}); !errors.Is(err, ErrSignature) {
		t.Errorf("forged After: %v, want ErrSignature", err)
	}
	// Unsealed tails pass only when allowed.
	last := files[len(files)-1]
	d := copyDir(t, f.dir)
	editFile(t, filepath.Join(d, filepath.Base(last)), func(ls [][]byte) [][]byte { return ls[:len(ls)-1] })
	if _, err := VerifyWith(mustFiles(t, d), VerifyOptions{PublicKey: f.pub, AllowUnsealed: true}); err != nil {
		t.Errorf("unsealed tail with AllowUnsealed: %v", err)
	}
	// A first record claiming seq 1 must start from the genesis hash.
	ls := clone(lines(t, files[0])[:2])
	ls[0], _ = rehash(t, ls[0], func(r *Record) { r.Prev = strings.Repeat("1", 64) })
	if _, err := VerifyWith([]string{writeLines(t, ls)}, VerifyOptions{AllowUnsealed: true}); !errors.Is(err, ErrChain) {
		t.Errorf("seq 1 without genesis prev: %v", err)
	}
	if _, err := Verify(nil, f.pub); err == nil {
		t.Error("no files: no error")
	}
}
