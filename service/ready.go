package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/callscreen/callscreen/redisconn"
)

// ready reports whether the server can screen calls as configured: Redis,
// when configured, answers, and no component says it cannot.
func (s *Server) ready(ctx context.Context) error {
	var errs []error
	if s.redis != nil {
		if err := redisconn.Check(ctx, s.redis); err != nil {
			errs = append(errs, fmt.Errorf("redis: %w", err))
		}
	}
	for _, d := range s.componentDetails(ctx) {
		if d.NotReady {
			errs = append(errs, errors.New(d.Text))
		}
	}
	return errors.Join(errs...)
}

// details returns the notes that do not stop readiness: every PBX found
// missing prompts (its challenges fail open), then the components'.
func (s *Server) details(ctx context.Context) []string {
	var out []string
	if s.prompts != nil {
		out = append(out, s.prompts.Report()...)
	}
	for _, d := range s.componentDetails(ctx) {
		if !d.NotReady {
			out = append(out, d.Text)
		}
	}
	return out
}

func (s *Server) componentDetails(ctx context.Context) []Detail {
	var out []Detail
	for _, c := range s.first.components {
		if d, ok := c.(Detailer); ok {
			for _, det := range d.Details(ctx) {
				det.Text = c.Name() + ": " + det.Text
				out = append(out, det)
			}
		}
	}
	return out
}
