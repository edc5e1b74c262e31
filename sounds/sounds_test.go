package sounds

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/callscreen/callscreen/internal/citest"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/screen"
)

const (
	sampleRate   = 8000
	gsmFrame     = 160 // samples in a GSM 06.10 frame
	gsmFrameSize = 33  // bytes in one
	minSeconds   = 0.5
	maxSeconds   = 6.0
)

// formats are the files every prompt has, by extension.
var formats = []string{"wav", "ulaw", "gsm"}

// root is the repository root; tests run in sounds/.
func root(t *testing.T) string {
	t.Helper()
	r, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type prompt struct{ name, text string }

var promptName = regexp.MustCompile(`^[a-z][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)?$`)

// readPrompts parses sounds/LANG/prompts.txt with the rules
// scripts/make-sounds applies.
func readPrompts(path string) ([]prompt, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read prompts: %w", err)
	}
	defer f.Close()
	var out []prompt
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, text, ok := strings.Cut(line, "|")
		if !ok || text == "" || !promptName.MatchString(name) {
			return nil, fmt.Errorf("read prompts: %s:%d: want NAME|TEXT, got %q", path, n, line)
		}
		out = append(out, prompt{name, text})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read prompts: %w", err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("read prompts: %s: no prompts", path)
	}
	return out, nil
}

// languages returns the language directories that have prompts.
func languages(t *testing.T) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(root(t), "sounds", "*", "prompts.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m) == 0 {
		t.Fatal("no sounds/*/prompts.txt")
	}
	var langs []string
	for _, p := range m {
		langs = append(langs, filepath.Base(filepath.Dir(p)))
	}
	return langs
}

func promptsOf(t *testing.T, lang string) []prompt {
	t.Helper()
	ps, err := readPrompts(filepath.Join(root(t), "sounds", lang, "prompts.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// TestDefaultProfilePromptsExist ties the default profile's prompt names,
// and the digits and beep every challenge plays, to files: a renamed
// prompt or a missing format fails here, not on a call.
func TestDefaultProfilePromptsExist(t *testing.T) {
	c := policy.Default().Challenge
	sounds := map[string]string{"blocked": c.Blocked}
	for _, s := range screen.ChallengeSounds(c) {
		sounds[s] = s
	}
	if len(sounds) < 15 {
		t.Fatalf("the default challenge needs %d sounds; want the prompts, ten digits and the beep: %v", len(sounds), sounds)
	}
	for _, lang := range languages(t) {
		for field, sound := range sounds {
			t.Run(lang+"/"+field, func(t *testing.T) {
				for _, ext := range formats {
					p := filepath.Join(root(t), "sounds", lang, filepath.FromSlash(sound)+"."+ext)
					if _, err := os.Stat(p); err != nil {
						t.Errorf("default profile prompt %s = %q: %v", field, sound, err)
					}
				}
			})
		}
	}
}

// TestNoStrayFiles: the prompt directory holds exactly the generated files,
// so nothing hand-made is installed with them.
func TestNoStrayFiles(t *testing.T) {
	for _, lang := range languages(t) {
		t.Run(lang, func(t *testing.T) {
			var want []string
			for _, p := range promptsOf(t, lang) {
				for _, ext := range formats {
					want = append(want, p.name+"."+ext)
				}
			}
			dir := filepath.Join(root(t), "sounds", lang, "callscreen")
			var got []string
			err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				rel, err := filepath.Rel(dir, p)
				got = append(got, filepath.ToSlash(rel))
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("sounds/%s/callscreen holds %v, want %v (run make sounds)", lang, got, want)
			}
		})
	}
}

// TestFormats checks every committed prompt file and that the three
// formats of a prompt are the same audio.
func TestFormats(t *testing.T) {
	for _, lang := range languages(t) {
		for _, p := range promptsOf(t, lang) {
			t.Run(lang+"/"+p.name, func(t *testing.T) {
				base := filepath.Join(root(t), "sounds", lang, "callscreen", p.name)
				checkPrompt(t, base)
			})
		}
	}
}

func checkPrompt(t *testing.T, base string) {
	raw, err := os.ReadFile(base + ".wav")
	if err != nil {
		t.Fatal(err)
	}
	w, err := parseWAV(raw)
	if err != nil {
		t.Fatalf("%s.wav: %v", base, err)
	}
	samples := w.samples()
	secs := float64(len(samples)) / sampleRate
	if secs < minSeconds || secs > maxSeconds {
		t.Errorf("%s.wav lasts %.2fs, want %.1f to %.1fs", base, secs, minSeconds, maxSeconds)
	}
	var peak, sumSq float64
	for _, s := range samples {
		v := math.Abs(float64(s)) / 32768
		peak = max(peak, v)
		sumSq += v * v
	}
	if peak < 0.25 || peak > 0.95 {
		t.Errorf("%s.wav peaks at %.2f of full scale, want 0.25 to 0.95 (audible, not clipped)", base, peak)
	}

	ulaw, err := os.ReadFile(base + ".ulaw")
	if err != nil {
		t.Fatal(err)
	}
	if len(ulaw) != len(samples) {
		t.Errorf("%s.ulaw has %d bytes, want one a sample of the wav: %d", base, len(ulaw), len(samples))
	} else {
		// Decoded mu-law must be the wav within G.711's quantisation error.
		var errSq float64
		for i, u := range ulaw {
			d := (float64(ulawDecode(u)) - float64(samples[i])) / 32768
			errSq += d * d
		}
		if rel := math.Sqrt(errSq / sumSq); rel > 0.05 {
			t.Errorf("%s.ulaw differs from the wav by %.1f%% RMS, want under 5%%: not the same audio", base, rel*100)
		}
	}

	gsm, err := os.ReadFile(base + ".gsm")
	if err != nil {
		t.Fatal(err)
	}
	frames := (len(samples) + gsmFrame - 1) / gsmFrame
	if len(gsm) != frames*gsmFrameSize {
		t.Errorf("%s.gsm has %d bytes, want %d (%d frames of %d bytes for %d samples)",
			base, len(gsm), frames*gsmFrameSize, frames, gsmFrameSize, len(samples))
	}
	for i := 0; i+gsmFrameSize <= len(gsm); i += gsmFrameSize {
		// Every GSM 06.10 frame in a raw .gsm file starts with the 0xD signature nibble.
		if gsm[i]>>4 != 0xD {
			t.Errorf("%s.gsm frame %d starts with %#02x, want the 0xD signature", base, i/gsmFrameSize, gsm[i])
			break
		}
	}
	if len(samples)%gsmFrame != 0 {
		t.Errorf("%s.wav has %d samples, want a whole number of %d-sample frames (make-sounds pads them)", base, len(samples), gsmFrame)
	}
}

// TestMatchesGenerator regenerates the prompts and compares them byte for
// byte with the committed ones, when espeak-ng and sox of the versions
// recorded in sounds/LANG/tools.txt are installed. Other versions speak
// slightly differently, so elsewhere only the formats are checked.
func TestMatchesGenerator(t *testing.T) {
	for _, tool := range []string{"espeak-ng", "sox", "soxi"} {
		if _, err := exec.LookPath(tool); err != nil {
			citest.Unavailable(t, "byte comparison: %s not installed (apt-get install espeak-ng sox); formats are still checked by TestFormats", tool)
		}
	}
	script := filepath.Join(root(t), "scripts", "make-sounds")
	for _, lang := range languages(t) {
		t.Run(lang, func(t *testing.T) {
			have, err := exec.Command(script, "-l", lang, "-V").Output()
			if err != nil {
				t.Fatalf("make-sounds -l %s -V: %v", lang, err)
			}
			recorded, err := os.ReadFile(filepath.Join(root(t), "sounds", lang, "tools.txt"))
			if err != nil {
				t.Fatalf("sounds/%s/tools.txt: %v (run make sounds)", lang, err)
			}
			if !bytes.Equal(bytes.TrimSpace(recorded), bytes.TrimSpace(have)) {
				t.Skipf("SKIP byte comparison: prompts were made with %q, this machine has %q", bytes.TrimSpace(recorded), bytes.TrimSpace(have))
			}
			out := t.TempDir()
			cmd := exec.Command(script, "-l", lang, "-o", out)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("make-sounds: %v\n%s", err, b)
			}
			for _, p := range promptsOf(t, lang) {
				for _, ext := range formats {
					name := p.name + "." + ext
					want, err := os.ReadFile(filepath.Join(out, name))
					if err != nil {
						t.Fatal(err)
					}
					got, err := os.ReadFile(filepath.Join(root(t), "sounds", lang, "callscreen", name))
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, want) {
						t.Errorf("sounds/%s/callscreen/%s is not what scripts/make-sounds makes from %q: run make sounds and commit", lang, name, p.text)
					}
				}
			}
		})
	}
}

// wav is the part of a RIFF/WAVE file the checks need.
type wav struct {
	format, channels, bits uint16
	rate, byteRate         uint32
	blockAlign             uint16
	data                   []byte
}

func (w wav) samples() []int16 {
	s := make([]int16, len(w.data)/2)
	for i := range s {
		s[i] = int16(binary.LittleEndian.Uint16(w.data[2*i:]))
	}
	return s
}

var errNotPrompt = errors.New("not an 8000 Hz mono 16-bit PCM wav")

// parseWAV reads a RIFF/WAVE file chunk by chunk and accepts only what
// Asterisk's wav format plays: PCM, 8000 Hz, mono, 16-bit.
func parseWAV(b []byte) (wav, error) {
	var w wav
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return w, fmt.Errorf("parse wav: no RIFF/WAVE header: %w", errNotPrompt)
	}
	if riff := binary.LittleEndian.Uint32(b[4:8]); int(riff) != len(b)-8 {
		return w, fmt.Errorf("parse wav: RIFF size %d, file has %d bytes after it", riff, len(b)-8)
	}
	var haveFmt, haveData bool
	for p := 12; p < len(b); {
		if p+8 > len(b) {
			return w, fmt.Errorf("parse wav: truncated chunk header at %d", p)
		}
		id, size := string(b[p:p+4]), int(binary.LittleEndian.Uint32(b[p+4:p+8]))
		body := p + 8
		if size < 0 || body+size > len(b) {
			return w, fmt.Errorf("parse wav: chunk %q of %d bytes runs past the end", id, size)
		}
		switch id {
		case "fmt ":
			if size < 16 {
				return w, fmt.Errorf("parse wav: fmt chunk of %d bytes, want 16", size)
			}
			f := b[body:]
			w.format = binary.LittleEndian.Uint16(f[0:])
			w.channels = binary.LittleEndian.Uint16(f[2:])
			w.rate = binary.LittleEndian.Uint32(f[4:])
			w.byteRate = binary.LittleEndian.Uint32(f[8:])
			w.blockAlign = binary.LittleEndian.Uint16(f[12:])
			w.bits = binary.LittleEndian.Uint16(f[14:])
			haveFmt = true
		case "data":
			w.data = b[body : body+size]
			haveData = true
		}
		p = body + size + size%2
	}
	switch {
	case !haveFmt:
		return w, fmt.Errorf("parse wav: no fmt chunk: %w", errNotPrompt)
	case !haveData:
		return w, fmt.Errorf("parse wav: no data chunk: %w", errNotPrompt)
	case w.format != 1:
		return w, fmt.Errorf("parse wav: format tag %d, want 1 (PCM): %w", w.format, errNotPrompt)
	case w.channels != 1:
		return w, fmt.Errorf("parse wav: %d channels, want 1: %w", w.channels, errNotPrompt)
	case w.rate != sampleRate:
		return w, fmt.Errorf("parse wav: %d Hz, want %d: %w", w.rate, sampleRate, errNotPrompt)
	case w.bits != 16:
		return w, fmt.Errorf("parse wav: %d bits a sample, want 16: %w", w.bits, errNotPrompt)
	case w.blockAlign != 2 || w.byteRate != 2*sampleRate:
		return w, fmt.Errorf("parse wav: block align %d, byte rate %d, want 2 and %d: %w", w.blockAlign, w.byteRate, 2*sampleRate, errNotPrompt)
	case len(w.data)%2 != 0:
		return w, fmt.Errorf("parse wav: data of %d bytes is not whole samples: %w", len(w.data), errNotPrompt)
	}
	return w, nil
}

// ulawDecode expands one G.711 mu-law byte to 16-bit linear PCM.
func ulawDecode(u byte) int16 {
	u = ^u
	exp := (u >> 4) & 7
	s := ((int(u&0x0f) << 3) + 0x84) << exp
	s -= 0x84
	if u&0x80 != 0 {
		return int16(-s)
	}
	return int16(s)
}

// makeWAV builds a wav for the parser's own tests.
func makeWAV(format, channels uint16, rate uint32, bits uint16, data []byte) []byte {
	var b bytes.Buffer
	le := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	le(uint32(4 + 8 + 16 + 8 + len(data) + len(data)%2))
	b.WriteString("WAVEfmt ")
	le(uint32(16))
	align := channels * bits / 8
	le(format)
	le(channels)
	le(rate)
	le(rate * uint32(align))
	le(align)
	le(bits)
	b.WriteString("data")
	le(uint32(len(data)))
	b.Write(data)
	if len(data)%2 == 1 {
		b.WriteByte(0)
	}
	return b.Bytes()
}

func TestParseWAV(t *testing.T) {
	good := makeWAV(1, 1, 8000, 16, []byte{1, 0, 2, 0})
	withList := append([]byte(nil), good...)
	withList = append(withList, "LIST"...)
	withList = binary.LittleEndian.AppendUint32(withList, 3)
	withList = append(withList, 'a', 'b', 'c', 0)
	binary.LittleEndian.PutUint32(withList[4:], uint32(len(withList)-8))
	truncated := good[:len(good)-1]
	noData := append([]byte(nil), good[:36]...)
	binary.LittleEndian.PutUint32(noData[4:], uint32(len(noData)-8))
	tests := []struct {
		name    string
		in      []byte
		samples int
		wantErr string
	}{
		{"8k mono 16-bit", good, 2, ""},
		{"extra chunk skipped", withList, 2, ""},
		{"empty", nil, 0, "no RIFF/WAVE header"},
		{"not riff", []byte("RIFX\x04\x00\x00\x00WAVE"), 0, "no RIFF/WAVE header"},
		{"stereo", makeWAV(1, 2, 8000, 16, []byte{1, 0, 2, 0}), 0, "2 channels"},
		{"16 kHz", makeWAV(1, 1, 16000, 16, []byte{1, 0}), 0, "16000 Hz"},
		{"8-bit", makeWAV(1, 1, 8000, 8, []byte{1, 2}), 0, "8 bits"},
		{"mu-law tag", makeWAV(7, 1, 8000, 16, []byte{1, 0}), 0, "format tag 7"},
		{"odd data", makeWAV(1, 1, 8000, 16, []byte{1, 0, 2}), 0, "not whole samples"},
		{"truncated", truncated, 0, "RIFF size"},
		{"no data chunk", noData, 0, "no data chunk"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := parseWAV(tt.in)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("parseWAV: %v", err)
				}
				if got := len(w.samples()); got != tt.samples {
					t.Errorf("samples = %d, want %d", got, tt.samples)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("parseWAV error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestUlawDecode(t *testing.T) {
	tests := []struct {
		in   byte
		want int16
	}{
		{0xFF, 0}, {0x7F, 0}, {0x80, 32124}, {0x00, -32124}, {0xFE, 8}, {0x7E, -8}, {0xEF, 132},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%#02x", tt.in), func(t *testing.T) {
			if got := ulawDecode(tt.in); got != tt.want {
				t.Errorf("ulawDecode(%#02x) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestReadPromptsRejects(t *testing.T) {
	tests := []struct{ name, body, wantErr string }{
		{"no bar", "intro hello\n", "want NAME|TEXT"},
		{"empty text", "intro|\n", "want NAME|TEXT"},
		{"bad name", "Intro Prompt|hello\n", "want NAME|TEXT"},
		{"two directory levels", "a/b/c|hello\n", "want NAME|TEXT"},
		{"only comments", "# nothing\n\n", "no prompts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "prompts.txt")
			if err := os.WriteFile(p, []byte(tt.body), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := readPrompts(p)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("readPrompts error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
