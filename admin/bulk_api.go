package admin

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/callscreen/callscreen/number"
)

// DefaultMaxUpload caps the body of a list or feed import.
const DefaultMaxUpload = 4 << 30

// uploadTimeout bounds reading an import's body and answering it (the
// server's own ReadTimeout is for small requests).
const uploadTimeout = time.Hour

// The trailers of an export: it streams, so what went wrong, and how many
// entries the layout left out, are known only at its end.
const (
	trailerError   = "Callscreen-Error"
	trailerWritten = "Callscreen-Written"
	trailerSkipped = "Callscreen-Skipped"
)

// bulkRoutes registers the bulk endpoints.
func (s *Server) bulkRoutes(api func(pattern, name string, h http.HandlerFunc)) {
	api("POST /api/v1/lists.csv", "lists_import", s.listsImport)
	api("GET /api/v1/lists.csv", "lists_export", s.listsExport)
	api("GET /api/v1/feedback", "feedback_export", s.feedbackExport)
	api("DELETE /api/v1/feedback", "feedback_withdraw", s.feedbackWithdraw)
	api("POST /api/v1/feed", "feed_import", s.feedImport)
	api("POST /api/v1/feed/pull", "feed_pull", s.feedPull)
}

// upload checks an import's Content-Type (one of types: a browser cannot
// send those across sites without a preflight, which is never answered),
// caps its body and gives it time to arrive.
func (s *Server) upload(w http.ResponseWriter, r *http.Request, types ...string) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	ok := false
	for _, t := range types {
		ok = ok || mt == t
	}
	if !ok {
		s.fail(w, http.StatusUnsupportedMediaType, "Content-Type must be "+strings.Join(types, " or "))
		return false
	}
	limit := s.opts.MaxUpload
	if limit <= 0 {
		limit = DefaultMaxUpload
	}
	if r.ContentLength > limit {
		s.fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", limit))
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(uploadTimeout))
	_ = rc.SetWriteDeadline(time.Now().Add(uploadTimeout))
	return true
}

// importFailed answers an import that stopped part way: the status its
// error maps to, what went wrong, and what was stored before.
func (s *Server) importFailed(w http.ResponseWriter, r *http.Request, op string, err error, body map[string]any) {
	code := http.StatusInternalServerError
	msg := op + " failed (the server's log says why)"
	switch {
	case errors.Is(err, ErrTooLarge):
		code, msg = http.StatusRequestEntityTooLarge, err.Error()
	case errors.Is(err, ErrInvalid):
		code, msg = http.StatusBadRequest, err.Error()
	case errors.Is(err, ErrUnavailable):
		code, msg = http.StatusNotImplemented, err.Error()
	case errors.Is(err, context.DeadlineExceeded):
		code, msg = http.StatusGatewayTimeout, op+": timed out"
	default:
		s.log.Error("admin: "+op, "err", err, "path", r.URL.Path)
	}
	body["error"] = msg
	s.reply(w, code, body)
}

func (s *Server) listsImport(w http.ResponseWriter, r *http.Request) {
	if s.opts.ListTransfer == nil {
		s.fail(w, http.StatusNotImplemented, "list imports are not available")
		return
	}
	q := r.URL.Query()
	o := ListImport{List: q.Get("list"), Tenant: q.Get("tenant"), AddedBy: q.Get("by")}
	if o.List != "" && o.List != "allow" && o.List != "block" {
		s.fail(w, http.StatusBadRequest, fmt.Sprintf("list %q: want allow or block", o.List))
		return
	}
	for field, v := range map[string]string{"tenant": o.Tenant, "by": o.AddedBy} {
		if err := checkText(field, v, maxNameLen); err != nil {
			s.fail(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	if o.AddedBy == "" {
		o.AddedBy = "admin"
	}
	if !s.upload(w, r, "text/csv") {
		return
	}
	res, err := s.opts.ListTransfer.Import(r.Context(), r.Body, o)
	if err != nil {
		s.importFailed(w, r, "list import", err, map[string]any{"stored": res.Stored, "rejected": res.Rejected, "bad": res.Bad})
		return
	}
	s.log.Info("admin: lists imported", "stored", res.Stored, "rejected", res.Rejected, "layout", res.Layout, "tenant", o.Tenant, "by", o.AddedBy)
	s.reply(w, http.StatusOK, res)
}

func (s *Server) listsExport(w http.ResponseWriter, r *http.Request) {
	if s.opts.ListTransfer == nil {
		s.fail(w, http.StatusNotImplemented, "list exports are not available")
		return
	}
	q := r.URL.Query()
	o := ListExport{Tenant: q.Get("tenant"), Layout: q.Get("format")}
	switch q.Get("all") {
	case "", "false", "0":
	case "true", "1":
		o.All = true
	default:
		s.fail(w, http.StatusBadRequest, fmt.Sprintf("all %q: want true or false", q.Get("all")))
		return
	}
	if err := checkText("tenant", o.Tenant, maxNameLen); err != nil {
		s.fail(w, http.StatusBadRequest, err.Error())
		return
	}
	if o.Layout == "" {
		o.Layout = "native"
	}
	if o.Layout != "native" && o.Layout != "freepbx" {
		s.fail(w, http.StatusBadRequest, fmt.Sprintf("format %q: want native or freepbx", o.Layout))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="callscreen-lists.csv"`)
	h.Set("Trailer", trailerWritten+", "+trailerSkipped+", "+trailerError)
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(uploadTimeout))
	res, err := s.opts.ListTransfer.Export(r.Context(), w, o)
	h.Set(trailerWritten, strconv.Itoa(res.Written))
	h.Set(trailerSkipped, strconv.Itoa(res.Skipped))
	if err != nil {
		s.log.Error("admin: list export cut short", "err", err)
		h.Set(trailerError, "list export cut short (the server's log says why)")
	}
}

// reportNumber reads the caller a report is about.
func (s *Server) reportNumber(raw string) (string, error) {
	n, err := s.parseNumber("caller", raw)
	if err != nil {
		return "", err
	}
	if n.Kind == number.Anonymous {
		return "", errors.New("caller: a withheld number has no report")
	}
	return n.Key(), nil
}

func (s *Server) feedbackWithdraw(w http.ResponseWriter, r *http.Request) {
	if s.opts.Reports == nil {
		s.fail(w, http.StatusNotImplemented, "withdrawing reports is not available")
		return
	}
	q := r.URL.Query()
	tenant := q.Get("tenant")
	if err := checkText("tenant", tenant, maxNameLen); err != nil {
		s.fail(w, http.StatusBadRequest, err.Error())
		return
	}
	caller, err := s.reportNumber(q.Get("caller"))
	if err != nil {
		s.fail(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := s.opts.Reports.Withdraw(r.Context(), tenant, caller); err != nil {
		s.failErr(w, r, "withdraw report", err)
		return
	}
	s.log.Info("admin: report withdrawn", "caller", caller, "tenant", tenant)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) feedbackExport(w http.ResponseWriter, r *http.Request) {
	if s.opts.Reports == nil {
		s.fail(w, http.StatusNotImplemented, "exporting reports is not available")
		return
	}
	q := r.URL.Query()
	tenant, format := q.Get("tenant"), q.Get("format")
	if err := checkText("tenant", tenant, maxNameLen); err != nil {
		s.fail(w, http.StatusBadRequest, err.Error())
		return
	}
	ct := "text/csv; charset=utf-8"
	switch format {
	case "", "csv":
		format = "csv"
	case "jsonl":
		ct = "application/x-ndjson"
	default:
		s.fail(w, http.StatusBadRequest, fmt.Sprintf("format %q: want csv or jsonl", format))
		return
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Trailer", trailerError)
	if err := s.opts.Reports.Export(r.Context(), w, tenant, format); err != nil {
		s.log.Error("admin: report export cut short", "err", err)
		h.Set(trailerError, "report export cut short (the server's log says why)")
	}
}

// feedQuery reads a feed import's or pull's format and tenant.
func (s *Server) feedQuery(w http.ResponseWriter, r *http.Request) (FeedImport, bool) {
	if s.opts.Feed == nil {
		s.fail(w, http.StatusNotImplemented, "the feed is not available")
		return FeedImport{}, false
	}
	q := r.URL.Query()
	o := FeedImport{Format: q.Get("format"), Tenant: q.Get("tenant")}
	switch o.Format {
	case "", "json", "ftc", "csv":
	default:
		s.fail(w, http.StatusBadRequest, fmt.Sprintf("format %q: want json or ftc", o.Format))
		return o, false
	}
	if err := checkText("tenant", o.Tenant, maxNameLen); err != nil {
		s.fail(w, http.StatusBadRequest, err.Error())
		return o, false
	}
	return o, true
}

func (s *Server) feedImport(w http.ResponseWriter, r *http.Request) {
	o, ok := s.feedQuery(w, r)
	if !ok || !s.upload(w, r, "text/csv", "application/json", "application/x-ndjson") {
		return
	}
	res, err := s.opts.Feed.Import(r.Context(), r.Body, o)
	if err != nil {
		s.importFailed(w, r, "feed import", err, map[string]any{"rows": res.Rows, "rejected": res.Rejected, "bad": res.Bad})
		return
	}
	s.log.Info("admin: feed imported", "rows", res.Rows, "accepted", res.Accepted, "rejected", res.Rejected, "tenant", o.Tenant)
	s.reply(w, http.StatusOK, res)
}

func (s *Server) feedPull(w http.ResponseWriter, r *http.Request) {
	o, ok := s.feedQuery(w, r)
	if !ok {
		return
	}
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(uploadTimeout))
	res, err := s.opts.Feed.Pull(r.Context(), o)
	if err != nil {
		s.importFailed(w, r, "feed pull", err, map[string]any{"rows": res.Rows, "rejected": res.Rejected, "bad": res.Bad})
		return
	}
	s.log.Info("admin: feed pulled", "rows", res.Rows, "accepted", res.Accepted, "rejected", res.Rejected, "tenant", o.Tenant)
	s.reply(w, http.StatusOK, res)
}
