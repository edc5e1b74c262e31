package admin

import (
	"context"
	"fmt"
	"time"

	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/reputation/feedback"
)

// FeedbackStore is the Feedback that keeps agents' reports in the store the
// chain's feedback source reads: a report applies to the next call.
func FeedbackStore(store feedback.Store, region string) Feedback {
	return feedbackStore{store: store, region: region}
}

type feedbackStore struct {
	store  feedback.Store
	region string
}

var _ Feedback = feedbackStore{}

func (f feedbackStore) Report(ctx context.Context, r FeedbackReport) error {
	n := number.Parse(r.Caller, f.region)
	if n.E164 == "" {
		return fmt.Errorf("caller %q: not a telephone number: %w", r.Caller, ErrInvalid)
	}
	kind := feedback.NotSpam
	if r.Spam {
		kind = feedback.Spam
	}
	rep := feedback.Report{Tenant: r.Tenant, Number: n.E164, Kind: kind, Note: r.Note, Agent: r.Agent, DecisionID: r.DecisionID, Time: r.Time}
	if rep.Time.IsZero() {
		rep.Time = time.Now().UTC()
	}
	if err := rep.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := f.store.Put(ctx, rep); err != nil {
		return fmt.Errorf("store report: %w", err)
	}
	return nil
}
