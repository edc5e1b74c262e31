package agitest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// agiBufLen is Asterisk's AGI_BUF_LEN: a command line is at most 8191
// bytes; the rest of a longer line is read as the next command.
const agiBufLen = 8192

// sim is the Asterisk side of one session.
type sim struct {
	conn net.Conn
	call Call
	t    *Transcript
	vars map[string]string

	// reading
	buf     []byte
	pending []byte
	unread  []byte  // Stdio: bytes received but still "in the socket" for run_agi's poll
	stash   *string // a command that arrived while another one played
	eof     bool

	// writing
	out   []byte
	async *asyncWriter

	mu        sync.Mutex // guards cancelled against the deadline resets
	cancelled bool

	answered      int // commands answered so far
	dead          bool
	hangupPending bool // HANGUP line owed after a result=-1
	noticeAt      time.Time
	leaving       bool // the caller leaves during the command being run
	noticeAfter   bool // send HANGUP right after this reply (HANGUP, Hangup())
	keys, barge   int
	lastSaid      string
	digitAt       int // answered count after the last digit STREAM FILE
	state         int
	sighup, exit  bool
	failed        bool // AGISTATUS FAILURE
	end           bool
}

func newSim(conn net.Conn, c Call) *sim {
	c = c.withDefaults()
	s := &sim{
		conn:  conn,
		call:  c,
		t:     &Transcript{Context: c.Context, Extension: c.Extension, Priority: c.Priority},
		vars:  make(map[string]string, len(c.Vars)+8),
		buf:   make([]byte, 4096),
		state: 4, // Ring: an inbound call not yet answered
	}
	for k, v := range c.Vars {
		s.vars[k] = v
	}
	s.sighup = !isFalse(s.vars["AGISIGHUP"])
	s.exit = isTrue(s.vars["AGIEXITONHANGUP"])
	switch conn.(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		s.async = newAsyncWriter(conn)
	}
	return s
}

func (s *sim) run(ctx context.Context) (*Transcript, error) {
	stop := context.AfterFunc(ctx, func() {
		s.mu.Lock()
		s.cancelled = true
		_ = s.conn.SetDeadline(time.Unix(1, 0))
		s.mu.Unlock()
	})
	defer stop()

	env := EnvBlock(s.call)
	for _, l := range bytes.SplitAfter(env, []byte("\n")) {
		if len(l) > 0 {
			s.t.Lines = append(s.t.Lines, Line{Text: string(l)})
		}
	}
	s.out = append(s.out, env...)
	err := s.flush()
	for err == nil && !s.end {
		var line string
		line, err = s.next()
		if err != nil {
			break
		}
		s.handle(line)
		err = s.flush()
	}
	s.finish()
	if ctx.Err() != nil {
		return s.t, ctx.Err()
	}
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrClosedPipe) {
		return s.t, nil
	}
	if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() != nil {
		return s.t, ctx.Err()
	}
	return s.t, err
}

// next returns the next command line, sending the HANGUP notice when it
// falls due while the server is quiet.
func (s *sim) next() (string, error) {
	if s.stash != nil {
		l := *s.stash
		s.stash = nil
		return l, nil
	}
	for {
		var dl time.Time
		if s.hangupPending && s.call.Caller.NoticeDelay > 0 {
			dl = s.noticeAt
		}
		line, err := s.readLine(dl)
		if err == nil {
			return line, nil
		}
		if errors.Is(err, os.ErrDeadlineExceeded) && !s.isCancelled() && s.hangupPending {
			s.notice()
			if ferr := s.flush(); ferr != nil {
				return "", ferr
			}
			if s.end {
				return "", io.EOF
			}
			continue
		}
		return "", err
	}
}

// readLine reads one command as Asterisk does: up to "\n", at most 8191
// bytes (the rest is the next command). At end of stream a partial line is
// returned once before io.EOF.
//
// With Call.Stdio, a line that was already in run_agi's stdio buffer when
// the previous command ended waits until more bytes reach the socket (or it
// closes), as fgets behind ast_waitfor_nandfds does; see Call.Stdio.
func (s *sim) readLine(deadline time.Time) (string, error) {
	if s.call.Stdio && s.complete() && len(s.unread) == 0 && !s.eof {
		// Stalled: poll() waits for the socket, not for the buffer.
		if err := s.fill(&s.unread, deadline); err != nil {
			return "", err
		}
	}
	for {
		if i := bytes.IndexByte(s.pending, '\n'); i >= 0 && i < agiBufLen-1 {
			l := string(s.pending[:i])
			s.pending = s.pending[i+1:]
			return l, nil
		}
		if len(s.pending) >= agiBufLen-1 {
			l := string(s.pending[:agiBufLen-1])
			s.pending = s.pending[agiBufLen-1:]
			return l, nil
		}
		if len(s.unread) > 0 {
			s.pending = append(s.pending, s.unread...)
			s.unread = s.unread[:0]
			continue
		}
		if s.eof {
			if len(s.pending) > 0 {
				l := string(s.pending)
				s.pending = nil
				return l, nil
			}
			return "", io.EOF
		}
		if err := s.fill(&s.pending, deadline); err != nil {
			return "", err
		}
	}
}

// complete reports whether pending holds a whole command line.
func (s *sim) complete() bool {
	return bytes.IndexByte(s.pending, '\n') >= 0 || len(s.pending) >= agiBufLen-1
}

// fill reads once from the connection and appends what came to *dst; at
// end of stream it sets eof instead of failing.
func (s *sim) fill(dst *[]byte, deadline time.Time) error {
	s.mu.Lock()
	if s.cancelled {
		s.mu.Unlock()
		return context.Canceled
	}
	_ = s.conn.SetReadDeadline(deadline)
	s.mu.Unlock()
	n, err := s.conn.Read(s.buf)
	*dst = append(*dst, s.buf[:n]...)
	if err != nil {
		if errors.Is(err, io.EOF) {
			s.eof = true
			return nil
		}
		return err
	}
	return nil
}

func (s *sim) isCancelled() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cancelled
}

// send queues one line Asterisk writes and records it.
func (s *sim) send(line string) {
	s.t.Lines = append(s.t.Lines, Line{Text: line})
	s.out = append(s.out, line...)
}

func (s *sim) flush() error {
	if len(s.out) == 0 {
		return nil
	}
	var err error
	if s.async != nil {
		s.async.write(s.out)
		s.out = nil
	} else {
		_, err = s.conn.Write(s.out)
		s.out = s.out[:0]
	}
	return err
}

// notice sends Asterisk's HANGUP line (when AGISIGHUP allows) and, with
// AGIEXITONHANGUP, ends the session.
func (s *sim) notice() {
	s.hangupPending = false
	if s.sighup {
		s.send("HANGUP\n")
	}
	if s.exit {
		s.end = true
	}
}

// hangUp marks the channel dead (the caller or the server hung up).
func (s *sim) hangUp() {
	s.dead = true
	s.t.HungUp = true
}

func (s *sim) handle(line string) {
	s.t.Lines = append(s.t.Lines, Line{FromServer: true, Text: line + "\n"})
	s.t.Commands = append(s.t.Commands, line)
	if len(line) >= 7 && strings.EqualFold(line[:7], "failure") {
		s.failed, s.end = true, true
		return
	}
	argv := ParseArgs(line)
	cmd := findCommand(argv)
	valid := cmd != nil && len(argv) >= cmd.min && (cmd.max < 0 || len(argv) <= cmd.max)

	c := s.call.Caller
	if !s.dead && c.HangupAfter > 0 && !c.HangupIdle && s.answered == c.HangupAfter {
		s.hangUp()
		if valid && cmd.media {
			// The caller leaves while this command plays: it answers
			// -1 and the HANGUP line comes later.
			s.leaving = true
			s.hangupPending = true
			s.noticeAt = time.Now().Add(c.NoticeDelay)
		} else {
			s.notice()
			if s.end {
				return
			}
		}
	} else if s.hangupPending {
		s.notice()
		if s.end {
			return
		}
	}

	switch {
	case cmd == nil:
		s.send("510 Invalid or unknown command\n")
	case s.dead && !cmd.dead && !s.leaving:
		s.send("511 Command Not Permitted on a dead channel or intercept routine\n")
	case !valid:
		s.usage(cmd)
	default:
		if cmd.media && s.call.Latency > 0 && !s.leaving && !s.dead {
			if interrupted := s.play(); interrupted {
				if cmd.words[0] == "WAIT" {
					s.send("200 result=1\n")
				}
				s.answered++
				return
			}
		}
		reply, ok := cmd.run(s, argv)
		if !ok {
			s.usage(cmd)
		} else {
			s.send(reply)
		}
	}
	s.leaving = false
	s.answered++

	if s.noticeAfter {
		s.noticeAfter = false
		s.notice()
	}
	if !s.dead && c.HangupAfter > 0 && c.HangupIdle && s.answered == c.HangupAfter {
		s.hangUp()
		s.notice()
	}
}

// play waits Latency as media plays; a line from the server meanwhile stops
// the command (Asterisk polls the AGI socket during playback).
func (s *sim) play() (interrupted bool) {
	line, err := s.readLine(time.Now().Add(s.call.Latency))
	switch {
	case err == nil:
		s.stash = &line
		return true
	case errors.Is(err, io.EOF):
		s.end = true
		return true
	}
	return false
}

func (s *sim) usage(cmd *command) {
	if cmd.usage == "" {
		s.send("520 Invalid command syntax.  Proper usage not available.\n")
		return
	}
	s.send("520-Invalid command syntax.  Proper usage follows:\n")
	s.send(cmd.usage + "\n")
	s.send("520 End of proper usage.\n")
}

// finish ends the session: Asterisk writes HANGUP once more when AGISIGHUP
// is on, then closes.
func (s *sim) finish() {
	if s.sighup && !s.isCancelled() {
		s.send("HANGUP\n")
		if s.async == nil {
			_ = s.conn.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		}
		_ = s.flush()
	}
	if s.async != nil {
		s.async.close(100 * time.Millisecond)
	}
	_ = s.conn.Close()
	if s.async != nil {
		<-s.async.done
	}
	switch {
	case s.failed && !s.dead:
		s.t.Status = "FAILURE"
	case s.dead:
		s.t.Status = "HANGUP"
	case s.failed:
		s.t.Status = "FAILURE"
	default:
		s.t.Status = "SUCCESS"
	}
	s.vars["AGISTATUS"] = s.t.Status
	s.t.Vars = s.vars
}

// asyncWriter writes from its own goroutine, for connections without
// kernel buffering.
type asyncWriter struct {
	ch   chan []byte
	done chan struct{}
	conn net.Conn
}

func newAsyncWriter(conn net.Conn) *asyncWriter {
	w := &asyncWriter{ch: make(chan []byte, 64), done: make(chan struct{}), conn: conn}
	go func() {
		defer close(w.done)
		failed := false
		for b := range w.ch {
			if !failed {
				if _, err := conn.Write(b); err != nil {
					failed = true
				}
			}
		}
	}()
	return w
}

func (w *asyncWriter) write(b []byte) { w.ch <- b }

// close stops accepting writes and gives queued ones up to wait to go out.
func (w *asyncWriter) close(wait time.Duration) {
	close(w.ch)
	select {
	case <-w.done:
	case <-time.After(wait):
	}
}

func isFalse(v string) bool {
	switch strings.ToLower(v) {
	case "no", "false", "n", "f", "0", "off":
		return true
	}
	return false
}

func isTrue(v string) bool {
	switch strings.ToLower(v) {
	case "yes", "true", "y", "t", "1", "on":
		return true
	}
	return false
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
