package screen

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/callscreen/callscreen/reputation"
)

func TestSelfCheck(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	tests := []struct {
		name    string
		src     reputation.Source
		wantErr error
	}{
		{"no sources", nil, nil},
		{"a source answers", reputation.SourceFunc(func(context.Context, reputation.Query) (reputation.Verdict, error) {
			return reputation.Verdict{}, nil
		}), nil},
		{"a failing source is an answer", reputation.SourceFunc(func(context.Context, reputation.Query) (reputation.Verdict, error) {
			return reputation.Verdict{}, errTransport
		}), nil},
		{"a stuck source", reputation.SourceFunc(func(context.Context, reputation.Query) (reputation.Verdict, error) {
			<-release // ignores its context: what a wedged process looks like
			return reputation.Verdict{}, nil
		}), context.DeadlineExceeded},
		{"a panicking source", reputation.SourceFunc(func(context.Context, reputation.Query) (reputation.Verdict, error) {
			panic("boom")
		}), errors.New("panic")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil, nil)
			var q reputation.Query
			src := tt.src
			if src != nil {
				inner := src
				src = reputation.SourceFunc(func(ctx context.Context, qq reputation.Query) (reputation.Verdict, error) {
					q = qq
					return inner.Lookup(ctx, qq)
				})
			}
			timeout := 5 * time.Second
			if errors.Is(tt.wantErr, context.DeadlineExceeded) {
				timeout = 50 * time.Millisecond
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			err := e.flow.SelfCheck(ctx, src)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("SelfCheck: %v", err)
			case tt.wantErr != nil && err == nil:
				t.Fatalf("SelfCheck = nil; want %v", tt.wantErr)
			case errors.Is(tt.wantErr, context.DeadlineExceeded) && !errors.Is(err, context.DeadlineExceeded):
				t.Fatalf("SelfCheck = %v; want a deadline error", err)
			}
			if src != nil && tt.wantErr == nil && q.Caller.E164 != selfCheckCaller {
				t.Errorf("looked up %q; want the made-up caller", q.Caller.E164)
			}
			if len(e.records) != 0 {
				t.Errorf("the self-check recorded %d decisions", len(e.records))
			}
		})
	}
}
