package agi

import (
	"bufio"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestReadReply(t *testing.T) {
	long := strings.Repeat("v", 10<<10)
	tests := []struct {
		name    string
		in      string
		want    Reply
		hangups int
		err     error // sentinel the error must wrap; nil: no error
	}{
		{"result", "200 result=0\n", Reply{Code: 200, Result: "0"}, 0, nil},
		{"negative", "200 result=-1\n", Reply{Code: 200, Result: "-1"}, 0, nil},
		{"ascii digit", "200 result=52\n", Reply{Code: 200, Result: "52"}, 0, nil},
		{"get data digits", "200 result=1*2\n", Reply{Code: 200, Result: "1*2"}, 0, nil},
		{"get data timeout empty", "200 result= (timeout)\n", Reply{Code: 200, Result: "", Value: "timeout", HasValue: true, Timeout: true}, 0, nil},
		{"get data timeout digits", "200 result=12 (timeout)\n", Reply{Code: 200, Result: "12", Value: "timeout", HasValue: true, Timeout: true}, 0, nil},
		{"get data hash first", "200 result=\n", Reply{Code: 200, Result: ""}, 0, nil},
		{"value", "200 result=1 (bar)\n", Reply{Code: 200, Result: "1", Value: "bar", HasValue: true}, 0, nil},
		{"value with parens", "200 result=1 (a (b) c))\n", Reply{Code: 200, Result: "1", Value: "a (b) c)", HasValue: true}, 0, nil},
		{"value looking like endpos", "200 result=1 (x) endpos=5)\n", Reply{Code: 200, Result: "1", Value: "x) endpos=5", HasValue: true}, 0, nil},
		{"empty value", "200 result=1 ()\n", Reply{Code: 200, Result: "1", Value: "", HasValue: true}, 0, nil},
		{"endpos", "200 result=0 endpos=3404\n", Reply{Code: 200, Result: "0", EndPos: 3404, HasEndPos: true}, 0, nil},
		{"value and endpos", "200 result=0 (dtmf) endpos=99\n", Reply{Code: 200, Result: "0", Value: "dtmf", HasValue: true, EndPos: 99, HasEndPos: true}, 0, nil},
		{"10 KB value", "200 result=1 (" + long + ")\n", Reply{Code: 200, Result: "1", Value: long, HasValue: true}, 0, nil},
		{"hangup first", "HANGUP\n200 result=1\n", Reply{Code: 200, Result: "1"}, 1, nil},
		{"hangup twice", "HANGUP\nHANGUP\n200 result=1\n", Reply{Code: 200, Result: "1"}, 2, nil},
		{"510", "510 Invalid or unknown command\n", Reply{Code: 510}, 0, ErrInvalidCommand},
		{"511", "511 Command Not Permitted on a dead channel or intercept routine\n", Reply{Code: 511}, 0, ErrDeadChannel},
		{"hangup then 511", "HANGUP\n511 Command Not Permitted on a dead channel or intercept routine\n", Reply{Code: 511}, 1, ErrHangup},
		{"520 single", "520 Invalid command syntax.  Proper usage not available.\n", Reply{Code: 520}, 0, ErrInvalidCommand},
		{"520 multi", "520-Invalid command syntax.  Proper usage follows:\nUsage: x\n more\n520 End of proper usage.\n", Reply{Code: 520, Usage: []string{"Usage: x", " more"}}, 0, ErrInvalidCommand},
		{"520 multi with HANGUP inside", "520-Invalid command syntax.  Proper usage follows:\nHANGUP\n520 End of proper usage.\n", Reply{Code: 520, Usage: []string{"HANGUP"}}, 0, ErrInvalidCommand},
		{"garbage", "hello world\n", Reply{}, 0, ErrProtocol},
		{"binary", "\x00\xff\xfe\n", Reply{}, 0, ErrProtocol},
		{"short code", "20\n", Reply{}, 0, ErrProtocol},
		{"other code", "300 result=0\n", Reply{Code: 300}, 0, ErrProtocol},
		{"200 without result", "200 ok\n", Reply{Code: 200}, 0, ErrProtocol},
		{"200 multi", "200-result=0\n", Reply{Code: 200}, 0, ErrProtocol},
		{"unclosed value", "200 result=1 (abc\n", Reply{Code: 200, Result: "1"}, 0, ErrProtocol},
		{"junk after value", "200 result=1 (a) junk\n", Reply{Code: 200, Result: "1", Value: "a", HasValue: true}, 0, ErrProtocol},
		{"bad endpos", "200 result=0 endpos=x\n", Reply{Code: 200, Result: "0"}, 0, ErrProtocol},
		{"junk after result", "200 result=0 what\n", Reply{Code: 200, Result: "0"}, 0, ErrProtocol},
		{"digits glued to code", "2000 result=0\n", Reply{}, 0, ErrProtocol},
		{"eof", "", Reply{}, 0, io.EOF},
		{"eof mid line", "200 resu", Reply{}, 0, io.EOF},
		{"eof in usage", "520-Invalid\nUsage", Reply{Code: 520}, 0, io.EOF},
		{"hangup then eof", "HANGUP\n", Reply{}, 1, io.EOF},
		{"100 KB line", "200 result=1 (" + strings.Repeat("v", 100<<10) + ")\n", Reply{}, 0, ErrProtocol},
		{"endless HANGUP", strings.Repeat("HANGUP\n", 100) + "200 result=0\n", Reply{}, 17, ErrProtocol},
		{"endless usage", "520-x\n" + strings.Repeat("y\n", 1000), Reply{Code: 520, Usage: make([]string, maxUsageLines)}, 0, ErrProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, hangups, err := readReply(bufio.NewReaderSize(strings.NewReader(tt.in), 64))
			if tt.err == nil && err != nil {
				t.Fatalf("error %v", err)
			}
			if tt.err != nil && !errors.Is(err, tt.err) {
				t.Fatalf("error %v, want one wrapping %v", err, tt.err)
			}
			if (tt.err == io.EOF) && !errors.Is(err, ErrProtocol) {
				t.Errorf("EOF error %v does not wrap ErrProtocol", err)
			}
			if tt.name == "endless usage" {
				got.Usage = make([]string, len(got.Usage)) // only the count matters
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("reply = %+v, want %+v", got, tt.want)
			}
			if hangups != tt.hangups {
				t.Errorf("hangups = %d, want %d", hangups, tt.hangups)
			}
		})
	}
}

func TestReplyInt(t *testing.T) {
	if n, err := (Reply{Result: "-2"}).Int(); n != -2 || err != nil {
		t.Errorf("Int = %d, %v", n, err)
	}
	if _, err := (Reply{Result: "12#"}).Int(); !errors.Is(err, ErrProtocol) {
		t.Errorf("Int of digits: %v", err)
	}
}

// TestReadReplyLeavesNextReply checks that a reply is consumed exactly.
func TestReadReplyLeavesNextReply(t *testing.T) {
	r := bufio.NewReader(strings.NewReader("520-a\nb\n520 End\n200 result=7\n"))
	if _, _, err := readReply(r); !errors.Is(err, ErrInvalidCommand) {
		t.Fatal(err)
	}
	rep, _, err := readReply(r)
	if err != nil || rep.Result != "7" {
		t.Fatalf("next reply %+v, %v", rep, err)
	}
}
