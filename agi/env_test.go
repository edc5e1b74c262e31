package agi_test

import (
	"bufio"
	"errors"
	"io"
	"net/url"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/callscreen/callscreen/agi"
)

const realEnv = "agi_network: yes\n" +
	"agi_network_script: screen?profile=sales&tenant=acme\n" +
	"agi_request: agi://10.0.0.5:4573/screen?profile=sales&tenant=acme\n" +
	"agi_channel: PJSIP/trunk-00000001\n" +
	"agi_language: en\n" +
	"agi_type: PJSIP\n" +
	"agi_uniqueid: 1712345678.12\n" +
	"agi_version: 22.10.1\n" +
	"agi_callerid: +12125551234\n" +
	"agi_calleridname: Jane: Doe\n" +
	"agi_callingpres: 35\n" +
	"agi_callingani2: 0\n" +
	"agi_callington: 0\n" +
	"agi_callingtns: 0\n" +
	"agi_dnid: 15551230000\n" +
	"agi_rdnis: unknown\n" +
	"agi_context: from-trunk\n" +
	"agi_extension: 15551230000\n" +
	"agi_priority: 2\n" +
	"agi_enhanced: 0.0\n" +
	"agi_accountcode: \n" +
	"agi_threadid: 140251860625088\n" +
	"agi_arg_1: x=1\n" +
	"agi_arg_2: a, b\n" +
	"\n"

func TestParseEnvReal(t *testing.T) {
	// Asterisk sends nothing unprompted after the block but HANGUP.
	r := bufio.NewReader(strings.NewReader(realEnv + "HANGUP\n"))
	env, err := agi.ParseEnv(r, agi.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := &agi.Env{
		Request: "agi://10.0.0.5:4573/screen?profile=sales&tenant=acme",
		Script:  "screen",
		Params:  url.Values{"profile": {"sales"}, "tenant": {"acme"}},
		Args:    []string{"x=1", "a, b"},
		Channel: "PJSIP/trunk-00000001", UniqueID: "1712345678.12", Type: "PJSIP", Language: "en", Version: "22.10.1",
		CallerID: "+12125551234", CallerIDName: "Jane: Doe", CallingPres: 35,
		DNID: "15551230000", RDNIS: "",
		Context: "from-trunk", Extension: "15551230000", Priority: "2", AccountCode: "",
	}
	all := env.All
	env.All = nil
	if !reflect.DeepEqual(env, want) {
		t.Errorf("ParseEnv =\n%+v\nwant\n%+v", env, want)
	}
	if len(all) != 24 || all["agi_threadid"] != "140251860625088" || all["agi_enhanced"] != "0.0" {
		t.Errorf("All has %d entries: %v", len(all), all)
	}
	if rest, _ := r.ReadString('\n'); rest != "HANGUP\n" {
		t.Errorf("reader not left after the block: next is %q", rest)
	}
}

func TestParseEnvFields(t *testing.T) {
	tests := []struct {
		name  string
		block string
		check func(t *testing.T, e *agi.Env)
	}{
		{"unknown caller", "agi_callerid: unknown\nagi_calleridname: unknown\nagi_dnid: unknown\n\n", func(t *testing.T, e *agi.Env) {
			if e.CallerID != "" || !e.CallerIDUnknown || e.CallerIDName != "" || !e.CallerIDNameUnknown || e.DNID != "" {
				t.Errorf("%+v", e)
			}
		}},
		{"known caller has no flags", "agi_callerid: 100\nagi_calleridname: Bob\n\n", func(t *testing.T, e *agi.Env) {
			if e.CallerIDUnknown || e.CallerIDNameUnknown || e.CallerID != "100" || e.CallerIDName != "Bob" {
				t.Errorf("%+v", e)
			}
		}},
		{"callingpres absent", "agi_callerid: 1\n\n", func(t *testing.T, e *agi.Env) {
			if e.CallingPres != -1 {
				t.Errorf("CallingPres = %d, want -1", e.CallingPres)
			}
		}},
		{"callingpres garbage", "agi_callingpres: x\n\n", func(t *testing.T, e *agi.Env) {
			if e.CallingPres != -1 {
				t.Errorf("CallingPres = %d, want -1", e.CallingPres)
			}
		}},
		{"value with colons", "agi_request: agi://[::1]:4573/s?a=b:c\n\n", func(t *testing.T, e *agi.Env) {
			if e.Request != "agi://[::1]:4573/s?a=b:c" || e.Script != "s" || e.Params.Get("a") != "b:c" {
				t.Errorf("%+v", e)
			}
		}},
		{"value with separator", "agi_calleridname: a: b: c\n\n", func(t *testing.T, e *agi.Env) {
			if e.CallerIDName != "a: b: c" {
				t.Errorf("CallerIDName = %q", e.CallerIDName)
			}
		}},
		{"script from request when network_script absent", "agi_request: hagi://pbx.example/check/in?x=%41\n\n", func(t *testing.T, e *agi.Env) {
			if e.Script != "check/in" || e.Params.Get("x") != "A" {
				t.Errorf("Script %q Params %v", e.Script, e.Params)
			}
		}},
		{"bad query pair dropped", "agi_network_script: s?a=%zz&b=2\n\n", func(t *testing.T, e *agi.Env) {
			if e.Params.Get("b") != "2" || e.Params.Has("a") {
				t.Errorf("Params %v", e.Params)
			}
		}},
		{"args in order with a gap", "agi_arg_2: b\nagi_arg_1: a\nagi_arg_4: d\n\n", func(t *testing.T, e *agi.Env) {
			if !reflect.DeepEqual(e.Args, []string{"a", "b", "", "d"}) {
				t.Errorf("Args %q", e.Args)
			}
		}},
		{"odd arg names only in All", "agi_arg_0: z\nagi_arg_01: y\nagi_arg_999: x\nagi_arg_x: w\n\n", func(t *testing.T, e *agi.Env) {
			if e.Args != nil || len(e.All) != 4 {
				t.Errorf("Args %q All %v", e.Args, e.All)
			}
		}},
		{"empty value kept", "agi_accountcode: \n\n", func(t *testing.T, e *agi.Env) {
			if v, ok := e.All["agi_accountcode"]; !ok || v != "" {
				t.Errorf("All %v", e.All)
			}
		}},
		{"trailing space trimmed by a proxy", "agi_accountcode:\n\n", func(t *testing.T, e *agi.Env) {
			if v, ok := e.All["agi_accountcode"]; !ok || v != "" {
				t.Errorf("All %v", e.All)
			}
		}},
		{"CRLF tolerated", "agi_channel: SIP/x\r\n\r\n", func(t *testing.T, e *agi.Env) {
			if e.Channel != "SIP/x" {
				t.Errorf("Channel %q", e.Channel)
			}
		}},
		{"empty block", "\n", func(t *testing.T, e *agi.Env) {
			if len(e.All) != 0 || e.CallingPres != -1 {
				t.Errorf("%+v", e)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := agi.ParseEnv(bufio.NewReader(strings.NewReader(tt.block)), agi.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, e)
		})
	}
}

// TestParseEnvBadInput: every bad block is an error wrapping ErrProtocol
// (and the cause), never a hang or a partial Env.
func TestParseEnvBadInput(t *testing.T) {
	manyLines := strings.Repeat("agi_x: y\n", 600) + "\n"
	tests := []struct {
		name  string
		r     io.Reader
		lim   agi.Limits
		cause error
		text  string
	}{
		{"line without separator", strings.NewReader("agi_channel: x\nnonsense\n\n"), agi.Limits{}, nil, `line 2 "nonsense" has no ": " separator`},
		{"lone colon", strings.NewReader(":\n\n"), agi.Limits{}, nil, "separator"},
		{"closed mid-block", strings.NewReader("agi_channel: x\nagi_type: Lo"), agi.Limits{}, io.ErrUnexpectedEOF, "connection closed after 1 lines"},
		{"closed before anything", strings.NewReader(""), agi.Limits{}, io.EOF, "before the environment"},
		{"never ends (lines cap)", strings.NewReader(manyLines), agi.Limits{}, nil, "more than 512 lines"},
		{"1 MB of header", strings.NewReader("agi_x: " + strings.Repeat("a", 1<<20) + "\n\n"), agi.Limits{}, nil, "block over 65536 bytes"},
		{"1 MB in short lines", strings.NewReader(strings.Repeat("a: b\n", 200000)), agi.Limits{MaxLines: 1 << 20}, nil, "block over 65536 bytes"},
		{"small caps", strings.NewReader("a: 123456789\n\n"), agi.Limits{MaxBytes: 10}, nil, "block over 10 bytes"},
		{"terminator over the byte cap", strings.NewReader("a: 1234\n\n"), agi.Limits{MaxBytes: 8}, nil, "block over 8 bytes"},
		{"read error", iotest.TimeoutReader(strings.NewReader("agi_a: b\n")), agi.Limits{}, iotest.ErrTimeout, "reading line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := agi.ParseEnv(bufio.NewReaderSize(tt.r, 16), tt.lim)
			if err == nil {
				t.Fatalf("ParseEnv = %+v, want an error", e)
			}
			if !errors.Is(err, agi.ErrProtocol) {
				t.Errorf("error %v does not wrap ErrProtocol", err)
			}
			if tt.cause != nil && !errors.Is(err, tt.cause) {
				t.Errorf("error %v does not wrap %v", err, tt.cause)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("error %q does not say %q", err, tt.text)
			}
		})
	}
}

// TestParseEnvStopsAtCap checks a huge block is not read past the cap.
func TestParseEnvStopsAtCap(t *testing.T) {
	src := &countingReader{r: strings.NewReader("agi_x: " + strings.Repeat("a", 1<<20) + "\n\n")}
	_, err := agi.ParseEnv(bufio.NewReaderSize(src, 1024), agi.Limits{})
	if err == nil {
		t.Fatal("no error")
	}
	if src.n > agi.DefaultEnvMaxBytes+2048 {
		t.Errorf("read %d bytes for a %d-byte cap", src.n, agi.DefaultEnvMaxBytes)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestParseEnvFixtures parses every captured environment block.
func TestParseEnvFixtures(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.file, func(t *testing.T) {
			var block strings.Builder
			for _, l := range readFixture(t, fx.file) {
				block.WriteString(l.Text)
				if l.Text == "\n" {
					break
				}
			}
			e, err := agi.ParseEnv(bufio.NewReader(strings.NewReader(block.String())), agi.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if e.Request == "" || e.Script == "" || e.Params.Get("profile") != "support" || e.Version != "22.10.1" || e.Type != "Local" {
				t.Errorf("%+v", e)
			}
		})
	}
	if _, err := os.Stat("testdata/asterisk-22.10.1"); err != nil {
		t.Fatal(err)
	}
}
