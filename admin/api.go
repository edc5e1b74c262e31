package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/policy"
)

//go:embed ui
var uiFiles embed.FS

// contentSecurityPolicy allows the page its own script, style and API and
// nothing else: no inline script, no other origin.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

const (
	checkTimeout  = 5 * time.Second
	heartbeat     = 15 * time.Second
	maxNameLen    = 128
	maxNoteLen    = 512
	maxValueLen   = 160
	streamTimeout = 10 * time.Second
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	ui, _ := fs.Sub(uiFiles, "ui")
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	// The page and its assets carry no data; the API behind them needs
	// the token, which the page asks for.
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, ui, "index.html")
	})
	mux.Handle("GET /ui/", http.StripPrefix("/ui/", http.FileServerFS(ui)))
	// The page asks whether to show its sign-in form before calling
	// anything that needs the token.
	mux.HandleFunc("GET /api/v1/session", func(w http.ResponseWriter, _ *http.Request) {
		s.reply(w, http.StatusOK, map[string]bool{"token_required": s.token != nil, "outbound": s.opts.Outbound != nil})
	})

	api := func(pattern, name string, h http.HandlerFunc) {
		mux.Handle(pattern, s.instrument(name, s.auth(h)))
	}
	api("GET /readyz", "readyz", s.readyz)
	if s.opts.Gatherer != nil {
		api("GET /metrics", "metrics", promhttp.HandlerFor(s.opts.Gatherer, promhttp.HandlerOpts{}).ServeHTTP)
	}
	api("GET /api/v1/reasons", "reasons", s.reasons)
	api("GET /api/v1/check", "check", s.check)
	api("GET /api/v1/lists/{list}", "lists", s.listEntries)
	api("POST /api/v1/lists/{list}", "lists_add", s.listAdd)
	api("DELETE /api/v1/lists/{list}", "lists_remove", s.listRemove)
	api("POST /api/v1/feedback", "feedback", s.feedback)
	api("GET /api/v1/decisions", "decisions", s.decisions)
	api("GET /api/v1/decisions.csv", "decisions_csv", s.decisionsCSV)
	api("GET /api/v1/stats", "stats", s.stats)
	s.statsRoutes(api)
	api("GET /api/v1/stream", "stream", s.stream)
	api("GET /api/v1/outbound", "outbound", s.outboundHealth)
	s.bulkRoutes(api)
	return s.secure(mux)
}

// secure sets the headers every response carries, and refuses requests a
// browser makes on behalf of another site and, without a token, requests
// for a host name (DNS rebinding onto loopback).
func (s *Server) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-store")
		if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
			s.fail(w, http.StatusForbidden, "cross-site request refused")
			return
		}
		if s.token == nil && !loopbackHost(r.Host) {
			s.fail(w, http.StatusMisdirectedRequest, "without admin.token, only requests for 127.0.0.1, [::1] or localhost are served")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func loopbackHost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	return isLoopback(strings.Trim(host, "[]"))
}

func tokenDigest(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// auth requires the bearer token when one is set. Both sides are hashed
// first, so the comparison takes the same time whatever the length.
func (s *Server) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.token != nil {
			given, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare(tokenDigest(strings.TrimSpace(given)), s.token) != 1 {
				s.m.authFailures.Inc()
				w.Header().Set("WWW-Authenticate", `Bearer realm="callscreen"`)
				s.fail(w, http.StatusUnauthorized, "missing or wrong token")
				return
			}
		}
		next(w, r)
	}
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) instrument(name string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		s.m.requests.WithLabelValues(name, strconv.Itoa(sw.code)).Inc()
	})
}

// fail answers {"error": msg}.
func (s *Server) fail(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// failErr maps a backend error to a status.
func (s *Server) failErr(w http.ResponseWriter, r *http.Request, op string, err error) {
	switch {
	case errors.Is(err, ErrInvalid):
		s.fail(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, ErrNotFound):
		s.fail(w, http.StatusNotFound, err.Error())
	case errors.Is(err, ErrConflict):
		s.fail(w, http.StatusConflict, err.Error())
	case errors.Is(err, ErrUnavailable):
		s.fail(w, http.StatusNotImplemented, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		s.fail(w, http.StatusGatewayTimeout, op+": timed out")
	default:
		// The one place this failure is logged.
		s.log.Error("admin: "+op, "err", err, "path", r.URL.Path)
		s.fail(w, http.StatusInternalServerError, op+" failed")
	}
}

func (s *Server) reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	enc := json.NewEncoder(w) // escapes <, > and & as \u003c...
	_ = enc.Encode(v)
}

// decode reads a JSON body: application/json only (a browser cannot send
// it across sites without a preflight we never answer), capped, no unknown
// fields.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if r.ContentLength > s.opts.MaxBody {
		s.fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", s.opts.MaxBody))
		return false
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		s.fail(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, s.opts.MaxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", s.opts.MaxBody))
		} else {
			s.fail(w, http.StatusBadRequest, "bad JSON body: "+err.Error())
		}
		return false
	}
	if dec.More() {
		s.fail(w, http.StatusBadRequest, "bad JSON body: more than one value")
		return false
	}
	return true
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.opts.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.opts.Ready(ctx); err != nil {
			s.fail(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
			return
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ready")
	if s.opts.Details != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		for _, d := range s.opts.Details(ctx) {
			fmt.Fprintln(w, strings.ReplaceAll(d, "\n", " "))
		}
	}
}

func (s *Server) reasons(w http.ResponseWriter, _ *http.Request) {
	type info struct {
		Code        string `json:"code"`
		Default     string `json:"default"`
		Description string `json:"description"`
	}
	var out []info
	for _, r := range policy.Reasons() {
		out = append(out, info{string(r.Code), string(r.Default), r.Description})
	}
	s.reply(w, http.StatusOK, out)
}

// checkText validates free text: valid UTF-8, no control characters, at
// most max runes.
func checkText(field, v string, max int) error {
	if !utf8.ValidString(v) {
		return fmt.Errorf("%s is not valid UTF-8", field)
	}
	if n := utf8.RuneCountInString(v); n > max {
		return fmt.Errorf("%s is %d characters long, at most %d allowed", field, n, max)
	}
	for _, c := range v {
		if unicode.IsControl(c) {
			return fmt.Errorf("%s contains a control character", field)
		}
	}
	return nil
}

// parseNumber reads a caller or dialed number: E.164, national form,
// a short code, or a withheld-number word. Anything else is an error that
// says what was wrong.
func (s *Server) parseNumber(field, raw string) (number.Number, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return number.Number{}, fmt.Errorf("%s is required", field)
	}
	if len(raw) > number.MaxRawLen {
		return number.Number{}, fmt.Errorf("%s is longer than %d characters", field, number.MaxRawLen)
	}
	n := number.Parse(raw, s.opts.Region)
	if n.Kind == number.Anonymous || n.Kind == number.Valid || n.E164 != "" || (len(n.Digits) >= 2 && len(n.Digits) <= 15) {
		return n, nil
	}
	return n, fmt.Errorf("%s %q is not a phone number (use E.164 such as +12125551234, or national digits)", field, raw)
}

func (s *Server) check(w http.ResponseWriter, r *http.Request) {
	if s.opts.Checker == nil {
		s.fail(w, http.StatusNotImplemented, "check is not available")
		return
	}
	q := r.URL.Query()
	caller, err := s.parseNumber("number", q.Get("number"))
	if err != nil {
		s.fail(w, http.StatusBadRequest, err.Error())
		return
	}
	info := decision.CallInfo{
		ID: "check", CallerNumber: caller.Raw, PresentationCode: -1, Transport: "admin",
		Profile: q.Get("profile"), Tenant: q.Get("tenant"), CallerName: q.Get("name"),
	}
	if d := q.Get("dialed"); d != "" {
		dn, err := s.parseNumber("dialed", d)
		if err != nil {
			s.fail(w, http.StatusBadRequest, err.Error())
			return
		}
		info.Dialed = dn.Raw
	}
	for field, v := range map[string]string{"name": info.CallerName, "profile": info.Profile, "tenant": info.Tenant} {
		if err := checkText(field, v, maxNameLen); err != nil {
			s.fail(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), checkTimeout)
	defer cancel()
	res, err := s.opts.Checker.Explain(ctx, info)
	if res == nil {
		if err == nil {
			err = errors.New("no explanation")
		}
		s.failErr(w, r, "check", err)
		return
	}
	s.reply(w, http.StatusOK, View(res))
}

func listName(w http.ResponseWriter, r *http.Request, s *Server) (string, bool) {
	if s.opts.Lists == nil {
		s.fail(w, http.StatusNotImplemented, "lists are not available")
		return "", false
	}
	l := r.PathValue("list")
	if l != "allow" && l != "block" {
		s.fail(w, http.StatusNotFound, fmt.Sprintf("no list %q: the lists are allow and block", l))
		return "", false
	}
	return l, true
}

func (s *Server) listEntries(w http.ResponseWriter, r *http.Request) {
	list, ok := listName(w, r, s)
	if !ok {
		return
	}
	tenant := r.URL.Query().Get("tenant")
	if err := checkText("tenant", tenant, maxNameLen); err != nil {
		s.fail(w, http.StatusBadRequest, err.Error())
		return
	}
	es, err := s.opts.Lists.Entries(r.Context(), tenant, list)
	if err != nil {
		s.failErr(w, r, "list entries", err)
		return
	}
	if es == nil {
		es = []ListEntry{}
	}
	s.reply(w, http.StatusOK, es)
}

// checkListValue accepts the list-file syntax: a number, a prefix ending
// in '*', a range a..b, or name:PATTERN.
func (s *Server) checkListValue(v string) error {
	if err := checkText("value", v, maxValueLen); err != nil {
		return err
	}
	if v == "" {
		return errors.New("value is required")
	}
	if pat, ok := strings.CutPrefix(v, "name:"); ok {
		if strings.TrimSpace(pat) == "" {
			return errors.New("value name: needs a pattern")
		}
		return nil
	}
	if lo, hi, ok := strings.Cut(v, ".."); ok {
		if _, err := s.parseNumber("range start", lo); err != nil {
			return err
		}
		_, err := s.parseNumber("range end", hi)
		return err
	}
	_, err := s.parseNumber("value", strings.TrimSuffix(v, "*"))
	return err
}

func (s *Server) listAdd(w http.ResponseWriter, r *http.Request) {
	list, ok := listName(w, r, s)
	if !ok {
		return
	}
	var e ListEntry
	if !s.decode(w, r, &e) {
		return
	}
	e.List = list
	e.Value = strings.TrimSpace(e.Value)
	if err := s.checkListValue(e.Value); err != nil {
		s.fail(w, http.StatusBadRequest, err.Error())
		return
	}
	for field, v := range map[string]string{"note": e.Note, "tenant": e.Tenant, "added_by": e.AddedBy} {
		if err := checkText(field, v, maxNoteLen); err != nil {
			s.fail(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	now := s.opts.Now()
	if !e.Expires.IsZero() && !e.Expires.After(now) {
		s.fail(w, http.StatusBadRequest, "expires is in the past")
		return
	}
	if e.AddedBy == "" {
		e.AddedBy = "admin"
	}
	e.Added = now
	out, err := s.opts.Lists.Add(r.Context(), e)
	if err != nil {
		s.failErr(w, r, "add list entry", err)
		return
	}
	s.log.Info("admin: list entry added", "list", list, "value", out.Value, "tenant", out.Tenant, "by", out.AddedBy)
	s.reply(w, http.StatusCreated, out)
}

func (s *Server) listRemove(w http.ResponseWriter, r *http.Request) {
	list, ok := listName(w, r, s)
	if !ok {
		return
	}
	q := r.URL.Query()
	value, tenant := strings.TrimSpace(q.Get("value")), q.Get("tenant")
	if err := s.checkListValue(value); err != nil {
		s.fail(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := s.opts.Lists.Remove(r.Context(), tenant, list, value); err != nil {
		s.failErr(w, r, "remove list entry", err)
		return
	}
	s.log.Info("admin: list entry removed", "list", list, "value", value, "tenant", tenant)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) feedback(w http.ResponseWriter, r *http.Request) {
	if s.opts.Feedback == nil {
		s.fail(w, http.StatusNotImplemented, "feedback is not available")
		return
	}
	var body struct {
		Tenant     string `json:"tenant"`
		Caller     string `json:"caller"`
		Spam       *bool  `json:"spam"`
		DecisionID string `json:"decision_id"`
		Agent      string `json:"agent"`
		Note       string `json:"note"`
	}
	if !s.decode(w, r, &body) {
		return
	}
	caller, err := s.parseNumber("caller", body.Caller)
	if err != nil || caller.Kind == number.Anonymous {
		if err == nil {
			err = errors.New("caller: a withheld number cannot be reported")
		}
		s.fail(w, http.StatusBadRequest, err.Error())
		return
	}
	if body.Spam == nil {
		s.fail(w, http.StatusBadRequest, "spam (true or false) is required")
		return
	}
	for field, v := range map[string]string{"tenant": body.Tenant, "decision_id": body.DecisionID, "agent": body.Agent, "note": body.Note} {
		if err := checkText(field, v, maxNoteLen); err != nil {
			s.fail(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	rep := FeedbackReport{
		Tenant: body.Tenant, Caller: caller.Key(), Spam: *body.Spam, DecisionID: body.DecisionID,
		Agent: body.Agent, Note: body.Note, Time: s.opts.Now(),
	}
	if err := s.opts.Feedback.Report(r.Context(), rep); err != nil {
		s.failErr(w, r, "feedback", err)
		return
	}
	s.log.Info("admin: feedback", "caller", rep.Caller, "spam", rep.Spam, "decision", rep.DecisionID, "agent", rep.Agent)
	s.reply(w, http.StatusAccepted, rep)
}

// parseTime reads RFC 3339 or Unix seconds.
func parseTime(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	return time.Time{}, fmt.Errorf("%s %q is not a time (RFC 3339 or Unix seconds)", field, v)
}

func (s *Server) query(r *http.Request) (Query, error) {
	v := r.URL.Query()
	q := Query{
		Caller: strings.TrimSpace(v.Get("caller")), Result: v.Get("result"), Reason: v.Get("reason"),
		Profile: v.Get("profile"), Tenant: v.Get("tenant"), Limit: 100,
	}
	var err error
	if q.From, err = parseTime("from", v.Get("from")); err != nil {
		return q, err
	}
	if q.To, err = parseTime("to", v.Get("to")); err != nil {
		return q, err
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.To.After(q.From) {
		return q, errors.New("to must be after from")
	}
	if l := v.Get("limit"); l != "" {
		if q.Limit, err = strconv.Atoi(l); err != nil || q.Limit < 1 || q.Limit > MaxQueryLimit {
			return q, fmt.Errorf("limit %q: want a number from 1 to %d", l, MaxQueryLimit)
		}
	}
	if q.Caller != "" {
		if err := checkText("caller", q.Caller, number.MaxRawLen); err != nil {
			return q, err
		}
		if strings.Trim(q.Caller, "+0123456789()-. ") != "" || digits(q.Caller) == "" {
			return q, fmt.Errorf("caller %q: digits of a number expected", q.Caller)
		}
	}
	if q.Result != "" && !policy.Result(q.Result).Valid() {
		return q, fmt.Errorf("result %q: want allow, block or voicemail", q.Result)
	}
	if q.Reason != "" && !policy.Reason(q.Reason).Known() {
		return q, fmt.Errorf("reason %q is not a reason code (see /api/v1/reasons)", q.Reason)
	}
	for field, val := range map[string]string{"profile": q.Profile, "tenant": q.Tenant} {
		if err := checkText(field, val, maxNameLen); err != nil {
			return q, err
		}
	}
	return q, nil
}

func (s *Server) recent(w http.ResponseWriter, r *http.Request) ([]Decision, bool) {
	if s.opts.Decisions == nil {
		s.fail(w, http.StatusNotImplemented, "decisions are not available")
		return nil, false
	}
	q, err := s.query(r)
	if err != nil {
		s.fail(w, http.StatusBadRequest, err.Error())
		return nil, false
	}
	rs, err := s.opts.Decisions.Recent(r.Context(), q)
	if err != nil {
		s.failErr(w, r, "decisions", err)
		return nil, false
	}
	out := make([]Decision, len(rs))
	for i, res := range rs {
		out[i] = View(res)
	}
	return out, true
}

func (s *Server) decisions(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("format") == "csv" {
		s.decisionsCSV(w, r)
		return
	}
	if out, ok := s.recent(w, r); ok {
		s.reply(w, http.StatusOK, out)
	}
}

func (s *Server) decisionsCSV(w http.ResponseWriter, r *http.Request) {
	out, ok := s.recent(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="callscreen-decisions.csv"`)
	if err := writeCSV(w, out); err != nil {
		s.log.Warn("admin: csv export cut short", "err", err)
	}
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	if s.opts.Stats != nil {
		s.statsSummary(w, r)
		return
	}
	if s.opts.Decisions == nil {
		s.fail(w, http.StatusNotImplemented, "stats are not available")
		return
	}
	v := r.URL.Query()
	now := s.opts.Now()
	from, to := now.Add(-24*time.Hour), now
	if rg := v.Get("range"); rg != "" {
		d, err := time.ParseDuration(strings.Replace(rg, "d", "h", 1))
		if strings.HasSuffix(rg, "d") && err == nil {
			d *= 24
		}
		if err != nil || d <= 0 || d > DefaultStatsRetention {
			s.fail(w, http.StatusBadRequest, fmt.Sprintf("range %q: want a duration such as 1h, 24h or 7d", rg))
			return
		}
		from = now.Add(-d)
	}
	var err error
	if f := v.Get("from"); f != "" {
		if from, err = parseTime("from", f); err != nil {
			s.fail(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	if t := v.Get("to"); t != "" {
		if to, err = parseTime("to", t); err != nil {
			s.fail(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	if !to.After(from) {
		s.fail(w, http.StatusBadRequest, "to must be after from")
		return
	}
	st, err := s.opts.Decisions.Stats(r.Context(), from, to)
	if err != nil {
		s.failErr(w, r, "stats", err)
		return
	}
	total := ProfileStats{Profile: "*"}
	for i := range st {
		total.merge(&st[i])
	}
	total.rates()
	s.reply(w, http.StatusOK, map[string]any{"from": from.UTC(), "to": to.UTC(), "profiles": st, "total": total})
}

// stream sends decisions as server-sent events: "event: decision" with the
// Decision JSON as data, a comment every 15 s to keep proxies open, and
// "event: dropped" when this client fell too far behind (it reconnects).
// At most StreamMaxSubscribers are open at once; more are answered 429.
func (s *Server) stream(w http.ResponseWriter, r *http.Request) {
	if s.opts.Stream == nil {
		s.fail(w, http.StatusNotImplemented, "the live stream is not available")
		return
	}
	if n := s.streams.Add(1); n > int64(s.opts.StreamMaxSubscribers) {
		s.streams.Add(-1)
		s.m.streamRefused.Inc()
		w.Header().Set("Retry-After", "10")
		s.fail(w, http.StatusTooManyRequests, fmt.Sprintf("too many live streams open (admin.stream_max_subscribers is %d); try again later", s.opts.StreamMaxSubscribers))
		return
	}
	defer s.streams.Add(-1)
	rc := http.NewResponseController(w)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	ch := s.opts.Stream.Subscribe(ctx)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(b []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(streamTimeout))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send([]byte(": callscreen decisions\nretry: 2000\n\n")) {
		return
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if !send([]byte(": ping\n\n")) {
				return
			}
		case ev, ok := <-ch:
			if !ok {
				send([]byte("event: dropped\ndata: {}\n\n"))
				return
			}
			msg := ev.SSE()
			if msg == nil {
				continue
			}
			if !send(msg) {
				return
			}
		}
	}
}
