package admin

import (
	"context"
	"net/http"
	"time"

	"github.com/callscreen/callscreen/outbound"
)

// Outbound reports the health of our own outbound numbers, judged from
// the CDRs (docs/outbound-health.md). *monitor.Monitor implements it.
//
// Status outcomes: the last report with how the last refresh went (its
// Error set when the CDRs could not be read; the numbers are then those of
// the last good read), and a nil error; an error only when no status can
// be given at all.
type Outbound interface {
	Status(ctx context.Context) (outbound.Status, error)
}

// outboundHealth answers GET /api/v1/outbound: the per-number health, 501
// when no CDR source is configured.
func (s *Server) outboundHealth(w http.ResponseWriter, r *http.Request) {
	if s.opts.Outbound == nil {
		s.fail(w, http.StatusNotImplemented, "outbound health is not configured: set outbound.cdr_file or outbound.dsn")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	st, err := s.opts.Outbound.Status(ctx)
	if err != nil {
		s.failErr(w, r, "outbound", err)
		return
	}
	s.reply(w, http.StatusOK, st)
}
