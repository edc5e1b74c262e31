package admin

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/callscreen/callscreen/internal/csvsafe"
	"github.com/callscreen/callscreen/stats"
)

// Statistics answers the supervisors' questions over time: figures per
// profile and in all with the series the charts draw, and figures per DID.
// *stats.Stats implements it.
//
// Summary and DIDs return an error wrapping stats.ErrInvalid for a query
// they cannot answer as asked (a 400), any other error when the store
// failed; a shared store that fails is not an error: the answer is this
// instance's own figures, with Source.Warning saying so. Retention is how
// far back they go.
type Statistics interface {
	Summary(ctx context.Context, q stats.Query) (*stats.Summary, error)
	DIDs(ctx context.Context, q stats.Query) ([]stats.DIDRow, stats.Source, error)
	Retention() time.Duration
}

var _ Statistics = (*stats.Stats)(nil)

const statsTimeout = 10 * time.Second

// statsRoutes adds the statistics endpoints beside GET /api/v1/stats.
func (s *Server) statsRoutes(api func(pattern, name string, h http.HandlerFunc)) {
	api("GET /api/v1/stats/dids", "stats_dids", s.statsDIDs)
	api("GET /api/v1/stats/dids.csv", "stats_dids_csv", s.statsDIDsCSV)
}

// statsQuery reads range (1h, 24h, 7d, all; 24h when absent) or from and
// to, step, profile and did.
func (s *Server) statsQuery(r *http.Request, st Statistics) (stats.Query, error) {
	v := r.URL.Query()
	now := s.opts.Now()
	rng := 24 * time.Hour
	if raw := v.Get("range"); raw != "" {
		d, err := stats.ParseRange(raw, st.Retention())
		if err != nil {
			return stats.Query{}, err
		}
		rng = d
	}
	q := stats.Query{From: now.Add(-rng), To: now, Profile: v.Get("profile")}
	var err error
	if f := v.Get("from"); f != "" {
		if q.From, err = parseTime("from", f); err != nil {
			return q, err
		}
	}
	if t := v.Get("to"); t != "" {
		if q.To, err = parseTime("to", t); err != nil {
			return q, err
		}
	}
	if !q.To.After(q.From) {
		return q, errors.New("to must be after from")
	}
	if q.To.Sub(q.From) > st.Retention()+time.Hour {
		return q, fmt.Errorf("from %s to %s is longer than the statistics keep (%s)", q.From.UTC().Format(time.RFC3339), q.To.UTC().Format(time.RFC3339), stats.FormatDuration(st.Retention()))
	}
	if raw := v.Get("step"); raw != "" {
		if q.Step, err = time.ParseDuration(raw); err != nil || q.Step <= 0 {
			return q, fmt.Errorf("step %q: want a duration such as 5m or 1h", raw)
		}
	}
	if err := checkText("profile", q.Profile, maxNameLen); err != nil {
		return q, err
	}
	if raw := v.Get("did"); raw != "" {
		switch raw {
		case stats.DIDUnknown, stats.DIDOther:
			q.DID = raw
		default:
			n, err := s.parseNumber("did", raw)
			if err != nil {
				return q, err
			}
			q.DID = n.Key()
		}
	}
	return q, nil
}

func (s *Server) statistics(w http.ResponseWriter) (Statistics, bool) {
	if s.opts.Stats == nil {
		s.fail(w, http.StatusNotImplemented, "statistics are not available")
		return nil, false
	}
	return s.opts.Stats, true
}

// statsSummary answers GET /api/v1/stats from the statistics.
func (s *Server) statsSummary(w http.ResponseWriter, r *http.Request) {
	st, ok := s.statistics(w)
	if !ok {
		return
	}
	q, err := s.statsQuery(r, st)
	if err != nil {
		s.fail(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), statsTimeout)
	defer cancel()
	sum, err := st.Summary(ctx, q)
	if err != nil {
		s.statsFail(w, r, err)
		return
	}
	s.reply(w, http.StatusOK, sum)
}

func (s *Server) statsFail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, stats.ErrInvalid) {
		s.fail(w, http.StatusBadRequest, strings.TrimPrefix(err.Error(), stats.ErrInvalid.Error()+": "))
		return
	}
	s.failErr(w, r, "stats", err)
}

func (s *Server) didRows(w http.ResponseWriter, r *http.Request) ([]stats.DIDRow, bool) {
	st, ok := s.statistics(w)
	if !ok {
		return nil, false
	}
	q, err := s.statsQuery(r, st)
	if err != nil {
		s.fail(w, http.StatusBadRequest, err.Error())
		return nil, false
	}
	ctx, cancel := context.WithTimeout(r.Context(), statsTimeout)
	defer cancel()
	rows, src, err := st.DIDs(ctx, q)
	if err != nil {
		s.statsFail(w, r, err)
		return nil, false
	}
	// The body is the list the issue asks for; where it came from goes in
	// headers.
	h := w.Header()
	h.Set("X-Callscreen-Stats-Shared", strconv.FormatBool(src.Shared))
	if src.Warning != "" {
		h.Set("X-Callscreen-Stats-Warning", src.Warning)
	}
	if src.Rebuilding {
		h.Set("X-Callscreen-Stats-Rebuilding", "true")
	}
	return rows, true
}

// statsDIDs answers GET /api/v1/stats/dids: a JSON list, one object per
// DID with calls in the range, most junk first.
func (s *Server) statsDIDs(w http.ResponseWriter, r *http.Request) {
	if rows, ok := s.didRows(w, r); ok {
		s.reply(w, http.StatusOK, rows)
	}
}

var didCSVHeader = []string{"did", "profiles", "calls", "allowed", "blocked", "challenged", "passed", "failed", "abandoned",
	"voicemail", "held", "junk_share", "previous_junk_share", "trend", "days_above", "top_reasons", "release_hint"}

// statsDIDsCSV answers GET /api/v1/stats/dids.csv: the same rows as CSV.
func (s *Server) statsDIDsCSV(w http.ResponseWriter, r *http.Request) {
	rows, ok := s.didRows(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="callscreen-dids.csv"`)
	if err := WriteDIDsCSV(w, rows); err != nil {
		s.log.Warn("admin: csv export cut short", "err", err)
	}
}

// WriteDIDsCSV writes DID rows as CSV, shares as decimals, cells a
// spreadsheet would run as a formula made inert.
func WriteDIDsCSV(w interface{ Write([]byte) (int, error) }, rows []stats.DIDRow) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(didCSVHeader); err != nil {
		return err
	}
	share := func(f float64) string { return strconv.FormatFloat(f, 'f', 4, 64) }
	for _, d := range rows {
		prev := ""
		if d.PreviousJunkShare != nil {
			prev = share(*d.PreviousJunkShare)
		}
		reasons := make([]string, len(d.TopReasons))
		for i, rc := range d.TopReasons {
			reasons[i] = rc.Code + "=" + strconv.FormatInt(rc.Count, 10)
		}
		i64 := func(n int64) string { return strconv.FormatInt(n, 10) }
		row := []string{d.DID, strings.Join(d.Profiles, " "), i64(d.Calls), i64(d.Allowed), i64(d.Blocked), i64(d.Challenged),
			i64(d.Passed), i64(d.Failed), i64(d.Abandoned), i64(d.Voicemail), i64(d.Held), share(d.JunkShare), prev,
			d.TrendDirection, strconv.Itoa(d.DaysAbove), strings.Join(reasons, " "), d.ReleaseHint}
		if err := cw.Write(csvsafe.Row(row)); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
