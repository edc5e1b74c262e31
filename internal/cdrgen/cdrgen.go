package cdrgen

import (
	"bufio"
	"io"
	"math/rand/v2"
	"strconv"
	"time"
)

// Options shape the calls.
type Options struct {
	// Rows to write (a call is three rows; the last call may be cut).
	Rows int
	// Numbers placing calls: +1555123NNNN.
	Numbers int
	// Start is the first call's time; calls are spread over Days days.
	Start time.Time
	Days  int
	// Seed makes the file reproducible.
	Seed uint64
}

// Number is the i-th calling number.
func Number(i int) string {
	s := strconv.Itoa(10000 + i)
	return "+1555123" + s[1:]
}

// Write writes opts.Rows rows to w.
func Write(w io.Writer, opts Options) error {
	if opts.Numbers <= 0 {
		opts.Numbers = 1
	}
	if opts.Days <= 0 {
		opts.Days = 1
	}
	r := rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15))
	bw := bufio.NewWriterSize(w, 1<<20)
	span := int64(opts.Days) * 86400
	calls := (opts.Rows + 2) / 3
	var b []byte
	row := func(src, dst, ctx, clid, ch, dstch, app, data string, start time.Time, answered bool, dur, bill int, disp, uid string) error {
		b = b[:0]
		q := func(s string) {
			b = append(b, '"')
			for i := 0; i < len(s); i++ {
				if s[i] == '"' {
					b = append(b, '"')
				}
				b = append(b, s[i])
			}
			b = append(b, '"', ',')
		}
		ts := func(t time.Time) {
			b = append(b, '"')
			b = t.AppendFormat(b, time.DateTime)
			b = append(b, '"', ',')
		}
		q("")
		q(src)
		q(dst)
		q(ctx)
		q(clid)
		q(ch)
		q(dstch)
		q(app)
		q(data)
		ts(start)
		if answered {
			ts(start)
		} else {
			b = append(b, ',')
		}
		ts(start.Add(time.Duration(dur) * time.Second))
		b = strconv.AppendInt(b, int64(dur), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(bill), 10)
		b = append(b, ',')
		q(disp)
		q("DOCUMENTATION")
		q(uid)
		b = append(b, '"', '"', '\n')
		_, err := bw.Write(b)
		return err
	}
	written := 0
	for c := 0; c < calls && written < opts.Rows; c++ {
		num := Number(r.IntN(opts.Numbers))
		dst := "1" + strconv.Itoa(200+r.IntN(800)) + strconv.Itoa(2000000+r.IntN(8000000))
		start := opts.Start.Add(time.Duration(int64(c)*span/int64(calls)) * time.Second)
		clid := `"Acme Sales" <` + num + `>`
		id := strconv.FormatInt(start.Unix(), 10) + "." + strconv.Itoa(c*3)
		local := "Local/" + dst + "@outbound-" + strconv.FormatInt(int64(c), 16)
		far := "Local/x@far-end-" + strconv.FormatInt(int64(c), 16)
		var disp string
		var dur, bill int
		answered := false
		switch p := r.IntN(100); {
		case p < 45: // answered, long
			disp, answered, bill = "ANSWERED", true, 6+r.IntN(600)
		case p < 60: // answered, short
			disp, answered, bill = "ANSWERED", true, r.IntN(6)
		case p < 70:
			disp = "BUSY"
		case p < 75:
			disp = "FAILED"
		case p < 85: // unallocated
			disp = "NO ANSWER"
		default: // rang out
			disp, dur = "NO ANSWER", 5+r.IntN(25)
		}
		if answered {
			dur = bill
		}
		rows := []func() error{
			func() error {
				return row(num, dst, "outbound", clid, local+";2", far+";1", "Dial", "Local/x@far-end,30", start, answered, dur, bill, disp, id+"1")
			},
			func() error {
				return row("", dst, "outbound", `"" <>`, local+";1", "", "Wait", "6", start, answered, dur, bill, disp, id+"0")
			},
			func() error {
				return row(num, "x", "far-end", clid, far+";2", "", "Hangup", "16", start, answered, dur, bill, disp, id+"2")
			},
		}
		for _, f := range rows {
			if written >= opts.Rows {
				break
			}
			if err := f(); err != nil {
				return err
			}
			written++
		}
	}
	return bw.Flush()
}
