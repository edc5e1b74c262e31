package agi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Session is one FastAGI connection: the environment Asterisk sent and the
// command channel back to it.
//
// Commands are strictly sequential: each writes one line and reads its
// complete reply before the next may start. Command methods are meant to be
// called from the handler's goroutine; calls from several goroutines are
// serialized, never pipelined (a call waiting for another does not watch
// its ctx until it starts). Env, HungUp and RemoteAddr never block.
//
// Outcomes common to every command method:
//   - nil: Asterisk answered 200 and the result means success.
//   - an error wrapping ErrHangup: the caller is gone (result=-1 from a
//     command that plays or reads digits; or ErrDeadChannel for 511).
//   - an error wrapping ErrInvalidCommand: 510 or 520; the session is fine.
//   - an error wrapping ErrBadArgument: refused before anything was written.
//   - an error wrapping ctx.Err(): the deadline passed or ctx was cancelled
//     while waiting for Asterisk. The stream is then out of step, so the
//     session is closed; later commands fail fast with ErrProtocol.
//   - an error wrapping ErrConnLost: the connection failed (reset, closed,
//     read or write error); the session is closed. After a successful
//     Answer it also wraps ErrHangup: the caller is gone.
//   - an error wrapping ErrProtocol: an unparseable reply, or a read that
//     failed; the session is closed.
type Session struct {
	conn     net.Conn
	r        *bufio.Reader
	env      *Env
	hungUp   atomic.Bool
	answered atomic.Bool // ANSWER succeeded
	ended    atomic.Bool // the handler returned; the reader is back in the pool
	m        *Metrics
	peer     *peerMemory // what the server remembers about this Asterisk

	// mu makes one command, one reply hold even if a handler shares the
	// session between goroutines.
	mu sync.Mutex

	// broken is the first failure that left the stream out of step.
	broken error
	// cancelled receives once from the context.AfterFunc that expired
	// the connection's deadline, so a command can wait for it.
	cancelled chan struct{}
}

// aLongTimeAgo is a deadline in the past: setting it wakes a blocked read.
var aLongTimeAgo = time.Unix(1, 0)

var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readerSize) }}
	wbufPool   = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}
)

// readerSize fits every line of a real environment block and every reply
// but long variable values, which readLine collects beyond the buffer.
const readerSize = 1024

func newSession(conn net.Conn, r *bufio.Reader, env *Env, m *Metrics) *Session {
	return &Session{conn: conn, r: r, env: env, m: m, cancelled: make(chan struct{}, 1)}
}

// Env returns the environment Asterisk sent at session start.
func (s *Session) Env() *Env { return s.env }

// HungUp reports whether Asterisk has said the caller is gone: a HANGUP
// line, a 511 reply, or a successful Hangup. It reads no socket: a HANGUP
// sent while no command is waiting is seen by the next command.
func (s *Session) HungUp() bool { return s.hungUp.Load() }

// RemoteAddr returns the Asterisk side of the connection.
func (s *Session) RemoteAddr() net.Addr { return s.conn.RemoteAddr() }

// Cmd sends a raw command and returns its reply. The verb is written as
// is and must be plain words ("GET DATA"); each argument is quoted only when
// Asterisk would otherwise split or alter it. A 510, 511 or 520 reply is
// returned together with its error. result=-1 is not turned into
// ErrHangup; for EXEC the usage block that follows result=1 is read too.
func (s *Session) Cmd(ctx context.Context, verb string, args ...string) (Reply, error) {
	as := make([]arg, len(args))
	for i, a := range args {
		as[i] = tok(a)
	}
	rule := plain
	if strings.EqualFold(verb, "EXEC") {
		rule = execQuirk
	}
	return s.do(ctx, verb, rule, as...)
}

// replyRule says how do reads a command's result.
type replyRule uint8

const (
	plain replyRule = iota
	// hangs: result=-1 is ErrHangup (commands that play or read digits
	// report a caller who left that way).
	hangs
	// execQuirk: after "200 result=1" Asterisk sends a 520 usage block
	// too (EXEC returns its application's value as the handler result).
	execQuirk
)

// do runs one command: encode, write, read the complete reply.
func (s *Session) do(ctx context.Context, verb string, rule replyRule, args ...arg) (rep Reply, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	start := time.Now()
	defer func() { s.m.command(verb, err, time.Since(start)) }()
	if s.ended.Load() {
		return rep, fmt.Errorf("agi %s: %w: %w", verb, errSessionEnded, ErrProtocol)
	}
	if s.broken != nil {
		return rep, fmt.Errorf("agi %s: session closed after an earlier failure (%w): %w", verb, s.broken, ErrProtocol)
	}
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("agi %s: %w", verb, err)
	}
	bp := wbufPool.Get().(*[]byte)
	line, err := appendCommand((*bp)[:0], verb, args...)
	defer func() { *bp = line[:0]; wbufPool.Put(bp) }()
	if err != nil {
		return rep, err
	}

	dl, hasDL := ctx.Deadline() // zero: none
	if hasDL && !time.Now().Before(dl) {
		return rep, fmt.Errorf("agi %s: %w", verb, context.DeadlineExceeded)
	}
	if err := s.conn.SetDeadline(dl); err != nil {
		return rep, s.failLocked(verb, err)
	}
	var stop func() bool
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() {
			_ = s.conn.SetDeadline(aLongTimeAgo)
			s.cancelled <- struct{}{}
		})
	}

	n, werr := s.conn.Write(line)
	var hangups int
	if werr == nil {
		rep, hangups, err = readReply(s.r)
		if err == nil && rule == execQuirk && rep.Result == "1" {
			usage, more, uerr := readReply(s.r)
			hangups += more
			switch {
			case usage.Code == 520 && errors.Is(uerr, ErrInvalidCommand):
			case uerr == nil:
				err = fmt.Errorf("expected the 520 block after result=1, got %d: %w", usage.Code, ErrProtocol)
			default:
				err = uerr
			}
		}
	}
	if stop != nil && !stop() {
		<-s.cancelled // the deadline is now in the past; the next command resets it
	}
	if hangups > 0 {
		s.hungUp.Store(true)
	}
	if werr != nil {
		if n == 0 && errors.Is(werr, os.ErrDeadlineExceeded) {
			// Nothing went out: the stream is still in step.
			return rep, fmt.Errorf("agi %s: %w", verb, s.ioCause(ctx, werr))
		}
		return rep, s.failLocked(verb, s.lost(s.ioCause(ctx, werr)))
	}
	switch {
	case err == nil && rule == hangs && rep.Result == "-1":
		return rep, fmt.Errorf("agi %s: result -1: %w", verb, ErrHangup)
	case err == nil:
		return rep, nil
	case errors.Is(err, ErrDeadChannel):
		s.hungUp.Store(true)
		return rep, fmt.Errorf("agi %s: %w", verb, err)
	case errors.Is(err, ErrInvalidCommand):
		return rep, fmt.Errorf("agi %s: %w", verb, err)
	default:
		return rep, s.failLocked(verb, s.lost(s.ioCause(ctx, err)))
	}
}

// lost marks a failed read or write on the connection itself (reset,
// closed, end of stream) with ErrConnLost, and, once the call was answered,
// with ErrHangup too: Asterisk drops the socket only when the session is
// over or Asterisk itself is gone, and either way the caller is.
func (s *Session) lost(err error) error {
	if !connFailure(err) {
		return err
	}
	if s.answered.Load() {
		return fmt.Errorf("%w: %w: %w", ErrConnLost, ErrHangup, err)
	}
	return fmt.Errorf("%w: %w", ErrConnLost, err)
}

// connFailure reports whether err is the connection failing, not a
// deadline or a reply that could not be parsed.
func connFailure(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, io.ErrClosedPipe) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		(errors.As(err, &ne) && !ne.Timeout())
}

// ioCause prefers the context's error when the deadline it set, or its
// cancellation, is what stopped the I/O.
func (s *Session) ioCause(ctx context.Context, err error) error {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return err
}

// fail marks the session broken and closes the connection: after a failed
// write or read, or a reply that could not be parsed, nobody knows which
// reply the next line would be.
func (s *Session) fail(verb string, err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failLocked(verb, err)
}

func (s *Session) failLocked(verb string, err error) error {
	if s.broken == nil {
		s.broken = err
		_ = s.conn.Close()
	}
	if !errors.Is(err, ErrProtocol) {
		return fmt.Errorf("agi %s: %w (session closed)", verb, err)
	}
	return fmt.Errorf("agi %s: %w", verb, err)
}

// result runs a command whose reply is "200 result=N" and returns N.
func (s *Session) result(ctx context.Context, verb string, rule replyRule, args ...arg) (int, Reply, error) {
	rep, err := s.do(ctx, verb, rule, args...)
	if err != nil {
		return 0, rep, err
	}
	n, err := rep.Int()
	if err != nil {
		return 0, rep, s.fail(verb, err)
	}
	return n, rep, nil
}

// Answer answers the channel (ANSWER). result=-1 is ErrHangup; on a dead
// channel Asterisk answers 511 (ErrDeadChannel).
//
// Once ANSWER succeeded, a command whose read or write fails on the
// connection itself returns an error wrapping ErrConnLost and ErrHangup:
// the caller is gone.
func (s *Session) Answer(ctx context.Context) error {
	_, _, err := s.result(ctx, "ANSWER", hangs)
	if err == nil {
		s.answered.Store(true)
	}
	return err
}

// StreamFile plays file (no extension) and returns the escape digit that
// stopped it ("" when it played to the end) and the sample offset it
// reached. escape lists the digits that may interrupt ("" for none).
// result=-1 is ErrHangup; note that Asterisk also answers -1 when the file
// does not exist.
func (s *Session) StreamFile(ctx context.Context, file, escape string) (digit string, endpos int64, err error) {
	if file == "" {
		return "", 0, fmt.Errorf("agi STREAM FILE: empty file name: %w", ErrBadArgument)
	}
	n, rep, err := s.result(ctx, "STREAM FILE", hangs, tok(file), text(escape))
	if err != nil {
		return "", rep.EndPos, err
	}
	digit, err = s.digit("STREAM FILE", n)
	return digit, rep.EndPos, err
}

// GetData plays file and collects up to maxDigits DTMF digits, waiting at
// most timeout for each ("#" ends the entry and is not returned). digits
// is what the caller typed, "" when nothing (or "#" alone); timedOut is
// true when Asterisk stopped waiting before maxDigits or "#". A timeout of
// 0 means Asterisk's default (6 s for the first digit, 2 s after); maxDigits
// 0 means no limit. result=-1 is ErrHangup (Asterisk also answers -1 when
// the prompt file is missing).
func (s *Session) GetData(ctx context.Context, file string, timeout time.Duration, maxDigits int) (digits string, timedOut bool, err error) {
	if file == "" {
		return "", false, fmt.Errorf("agi GET DATA: empty file name: %w", ErrBadArgument)
	}
	if timeout < 0 || maxDigits < 0 {
		return "", false, fmt.Errorf("agi GET DATA: negative timeout or digit count: %w", ErrBadArgument)
	}
	var tb, db [20]byte
	rep, err := s.do(ctx, "GET DATA", hangs, tok(file),
		tok(string(strconv.AppendInt(tb[:0], timeout.Milliseconds(), 10))),
		tok(string(strconv.AppendInt(db[:0], int64(maxDigits), 10))))
	if err != nil {
		return "", false, err
	}
	if !validDigits(rep.Result) || (rep.HasValue && !rep.Timeout) || rep.HasEndPos {
		return "", false, s.fail("GET DATA", fmt.Errorf("unexpected result %q: %w", clip(rep.Result), ErrProtocol))
	}
	return rep.Result, rep.Timeout, nil
}

// WaitForDigit waits up to timeout for one DTMF digit and returns it, ""
// when none came. A negative timeout waits for ever (bound it with ctx).
// Asterisk answers the digit's ASCII code; result=-1 is ErrHangup.
func (s *Session) WaitForDigit(ctx context.Context, timeout time.Duration) (digit string, err error) {
	ms := int64(-1)
	if timeout >= 0 {
		ms = timeout.Milliseconds()
	}
	var b [20]byte
	n, _, err := s.result(ctx, "WAIT FOR DIGIT", hangs, tok(string(strconv.AppendInt(b[:0], ms, 10))))
	if err != nil {
		return "", err
	}
	return s.digit("WAIT FOR DIGIT", n)
}

// SayDigits speaks digits one by one (SAY DIGITS) and returns the escape
// digit that interrupted it, "" when none. digits must start with a
// number, as Asterisk requires. result=-1 is ErrHangup.
func (s *Session) SayDigits(ctx context.Context, digits, escape string) (digit string, err error) {
	if digits == "" || !isDigit(digits[0]) {
		return "", fmt.Errorf("agi SAY DIGITS: %q does not start with a digit: %w", clip(digits), ErrBadArgument)
	}
	n, _, err := s.result(ctx, "SAY DIGITS", hangs, tok(digits), text(escape))
	if err != nil {
		return "", err
	}
	return s.digit("SAY DIGITS", n)
}

// SetVariable sets a channel variable, or writes a dialplan function when
// name ends in ")" ("CALLERID(name)"). The value is stored verbatim (no
// ${} expansion); "" unsets. Allowed on a dead channel, so it still works
// after the caller hung up.
func (s *Session) SetVariable(ctx context.Context, name, value string) error {
	if name == "" {
		return fmt.Errorf("agi SET VARIABLE: empty name: %w", ErrBadArgument)
	}
	_, _, err := s.result(ctx, "SET VARIABLE", plain, tok(name), text(value))
	return err
}

// GetVariable reads a channel variable, or a dialplan function when name
// ends in ")". ok is false when it is unset or the function cannot be
// read. Asterisk truncates values to 1023 bytes. Allowed on a dead channel.
func (s *Session) GetVariable(ctx context.Context, name string) (value string, ok bool, err error) {
	if name == "" {
		return "", false, fmt.Errorf("agi GET VARIABLE: empty name: %w", ErrBadArgument)
	}
	return s.getVar(ctx, "GET VARIABLE", name)
}

// GetFullVariable evaluates expr as the dialplan would ("${CALLERID(num)}",
// "${A}-${B}") and returns the result; unset parts expand to "". ok is
// false only when Asterisk reports result=0. Allowed on a dead channel.
func (s *Session) GetFullVariable(ctx context.Context, expr string) (value string, ok bool, err error) {
	if expr == "" {
		return "", false, fmt.Errorf("agi GET FULL VARIABLE: empty expression: %w", ErrBadArgument)
	}
	return s.getVar(ctx, "GET FULL VARIABLE", expr)
}

func (s *Session) getVar(ctx context.Context, verb, name string) (string, bool, error) {
	n, rep, err := s.result(ctx, verb, plain, tok(name))
	if err != nil {
		return "", false, err
	}
	switch {
	case n == 1 && rep.HasValue:
		return rep.Value, true, nil
	case n == 0 && !rep.HasValue:
		return "", false, nil
	default:
		return "", false, s.fail(verb, fmt.Errorf("unexpected reply result=%d value=%t: %w", n, rep.HasValue, ErrProtocol))
	}
}

// Verbose logs msg on the Asterisk console at level 1 to 4. Allowed on a
// dead channel.
func (s *Session) Verbose(ctx context.Context, msg string, level int) error {
	if level < 1 || level > 4 {
		return fmt.Errorf("agi VERBOSE: level %d not in 1..4: %w", level, ErrBadArgument)
	}
	var b [2]byte
	_, _, err := s.result(ctx, "VERBOSE", plain, text(msg), tok(string(strconv.AppendInt(b[:0], int64(level), 10))))
	return err
}

// Exec runs a dialplan application with data as its argument string
// (commas separate the application's own arguments; ${} is not expanded
// unless AGIEXECFULL=yes) and returns what the application returned. An
// unknown application is result -2 with an error wrapping
// ErrInvalidCommand. Allowed on a dead channel.
//
// When the application returns 1, Asterisk follows the 200 reply with a
// 520 usage block (a quirk kept for compatibility); Exec reads and drops it.
func (s *Session) Exec(ctx context.Context, app, data string) (result int, err error) {
	if app == "" {
		return 0, fmt.Errorf("agi EXEC: empty application: %w", ErrBadArgument)
	}
	n, _, err := s.result(ctx, "EXEC", execQuirk, tok(app), text(data))
	if err != nil {
		return 0, err
	}
	if n == -2 {
		return n, fmt.Errorf("agi EXEC %s: no such application: %w", app, ErrInvalidCommand)
	}
	return n, nil
}

// Hangup hangs up the channel (HANGUP). Asterisk then sends HANGUP itself;
// the session stays open for variable access until the handler returns.
func (s *Session) Hangup(ctx context.Context) error {
	n, _, err := s.result(ctx, "HANGUP", plain)
	if err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("agi HANGUP: result %d: %w", n, ErrInvalidCommand)
	}
	s.hungUp.Store(true)
	return nil
}

// Channel states CHANNEL STATUS reports (Asterisk's enum ast_channel_state).
const (
	StateDown = iota
	StateReserved
	StateOffHook
	StateDialing
	StateRing // inbound, not yet answered
	StateRinging
	StateUp
	StateBusy
	StateDialingOffHook
	StatePrering
)

// ChannelStatus returns the channel's state (StateRing, StateUp, …). A dead
// channel is 511 (ErrDeadChannel).
func (s *Session) ChannelStatus(ctx context.Context) (int, error) {
	n, _, err := s.result(ctx, "CHANNEL STATUS", plain)
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return n, fmt.Errorf("agi CHANNEL STATUS: result %d: %w", n, ErrInvalidCommand)
	}
	return n, nil
}

// SetContext sets the context the dialplan continues in when the session
// ends. To steer a call set the context, then the extension, then the
// priority (SetPriority resolves labels in the already-set ones).
func (s *Session) SetContext(ctx context.Context, c string) error {
	return s.set(ctx, "SET CONTEXT", c)
}

// SetExtension sets the extension the dialplan continues at.
func (s *Session) SetExtension(ctx context.Context, exten string) error {
	return s.set(ctx, "SET EXTENSION", exten)
}

// SetPriority sets the priority (a number or a label) the dialplan
// continues at.
func (s *Session) SetPriority(ctx context.Context, priority string) error {
	return s.set(ctx, "SET PRIORITY", priority)
}

func (s *Session) set(ctx context.Context, verb, v string) error {
	if v == "" {
		return fmt.Errorf("agi %s: empty value: %w", verb, ErrBadArgument)
	}
	_, _, err := s.result(ctx, verb, plain, tok(v))
	return err
}

// digit maps a digit result (the key's ASCII code, 0 for none) to the key.
func (s *Session) digit(verb string, code int) (string, error) {
	if code == 0 {
		return "", nil
	}
	if code < 0 || code > 127 || !isDTMF(byte(code)) {
		return "", s.fail(verb, fmt.Errorf("result %d is not a DTMF key code: %w", code, ErrProtocol))
	}
	return dtmfKeys[code : code+1], nil
}

// dtmfKeys lets digit return one-byte strings without allocating.
var dtmfKeys = func() string {
	b := make([]byte, 128)
	for i := range b {
		b[i] = byte(i)
	}
	return string(b)
}()

func isDTMF(c byte) bool {
	return isDigit(c) || c == '*' || c == '#' || ('A' <= c && c <= 'D') || ('a' <= c && c <= 'd')
}

// validDigits reports whether s is a GET DATA result: DTMF keys only.
func validDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDTMF(s[i]) {
			return false
		}
	}
	return true
}

// errSessionEnded marks a Session used after its handler returned.
var errSessionEnded = errors.New("session used after its handler returned")

// close ends the session's connection and returns its reader to the pool.
// A command called after it fails fast.
func (s *Session) close() {
	s.ended.Store(true)
	_ = s.conn.Close()
	if s.r != nil {
		s.r.Reset(nil)
		readerPool.Put(s.r)
		s.r = nil
	}
}
