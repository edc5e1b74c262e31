package agi

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

func BenchmarkParseEnv(b *testing.B) {
	block := []byte("agi_network: yes\nagi_network_script: screen?profile=sales\nagi_request: agi://127.0.0.1:4573/screen?profile=sales\n" +
		"agi_channel: PJSIP/trunk-00000001\nagi_language: en\nagi_type: PJSIP\nagi_uniqueid: 1712345678.12\nagi_version: 22.10.1\n" +
		"agi_callerid: +12125551234\nagi_calleridname: Jane\nagi_callingpres: 0\nagi_callingani2: 0\nagi_callington: 0\nagi_callingtns: 0\n" +
		"agi_dnid: unknown\nagi_rdnis: unknown\nagi_context: from-trunk\nagi_extension: 15551230000\nagi_priority: 2\nagi_enhanced: 0.0\n" +
		"agi_accountcode: \nagi_threadid: 140251860625088\nagi_arg_1: x=1\n\n")
	rd := bytes.NewReader(block)
	br := bufio.NewReaderSize(rd, readerSize)
	b.SetBytes(int64(len(block)))
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(block)
		br.Reset(rd)
		if _, err := ParseEnv(br, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadReply(b *testing.B) {
	replies := "HANGUP\n200 result=1 (a value)\n200 result=0 endpos=3404\n200 result= (timeout)\n"
	rd := strings.NewReader(replies)
	br := bufio.NewReaderSize(rd, readerSize)
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(replies)
		br.Reset(rd)
		for range 3 {
			if _, _, err := readReply(br); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkAppendCommand(b *testing.B) {
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = appendCommand(buf[:0], "SET VARIABLE", tok("CALLSCREEN_REASONS"), text(`provider.risk_medium,velocity "x"`)); err != nil {
			b.Fatal(err)
		}
	}
}
