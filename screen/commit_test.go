package screen

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/callscreen/callscreen/decision"
	"github.com/callscreen/callscreen/policy"
)

// commitRecorder is a Committer that notes, at each Commit, whether the
// routing variables had been sent yet.
type commitRecorder struct {
	ch      *fakeChannel
	mu      sync.Mutex
	commits []decision.Result // copies as committed
	early   []bool            // no SetVariables before the commit
	records []*decision.Result
}

func (c *commitRecorder) Commit(r *decision.Result) error {
	c.ch.mu.Lock()
	early := !slices.ContainsFunc(c.ch.ops, func(op string) bool { return strings.HasPrefix(op, "SetVariables") })
	c.ch.mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.commits = append(c.commits, *r)
	c.early = append(c.early, early)
	return nil
}

func (c *commitRecorder) Record(r *decision.Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.records = append(c.records, r)
}

// panicOnSet panics at its first SetVariables, after the commit.
type panicOnSet struct {
	*fakeChannel
	once sync.Once
}

func (p *panicOnSet) SetVariables(ctx context.Context, vars []Var) error {
	p.once.Do(func() { panic("transport bug") })
	return p.fakeChannel.SetVariables(ctx, vars)
}

// TestCommitBeforeRoutingVariables: the decision log (a Committer) gets
// each result before the routing variables are sent, once, with the
// duration so far; Record then brings the final result marked committed.
// A panic after the commit commits the fail-open decision the dialplan
// gets instead.
func TestCommitBeforeRoutingVariables(t *testing.T) {
	anon := info("+12125551234")
	anon.PresentationCode = 35
	tests := []struct {
		name    string
		info    decision.CallInfo
		setup   func(e *testEnv, ch *fakeChannel) Channel
		commits []policy.Result
		reason  policy.Reason // in the last commit
		err     bool          // the final result carries an error
	}{
		{"allow", info("+12125551234"), nil, []policy.Result{policy.ResultAllow}, "", false},
		{"challenge passed", anon, func(_ *testEnv, ch *fakeChannel) Channel { ch.Auto = true; return ch },
			[]policy.Result{policy.ResultAllow}, policy.CallerAnonymous, false},
		{"routing variables refused", info("+12125551234"), func(_ *testEnv, ch *fakeChannel) Channel {
			ch.Fail = map[string]error{"SetVariables": errTransport}
			return ch
		}, []policy.Result{policy.ResultAllow}, "", true},
		{"panic before the decision", info("+12125551234"), func(e *testEnv, ch *fakeChannel) Channel {
			e.flow.Profiles = panicProfiles{}
			return ch
		}, []policy.Result{policy.ResultAllow}, policy.InternalError, true},
		{"panic after the commit", anon, func(_ *testEnv, ch *fakeChannel) Channel { return &panicOnSet{fakeChannel: ch} },
			[]policy.Result{policy.ResultBlock, policy.ResultAllow}, policy.InternalError, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil, nil)
			ch := newFake()
			rec := &commitRecorder{ch: ch}
			e.flow.Recorder = decision.Recorders{rec}
			var c Channel = ch
			if tc.setup != nil {
				c = tc.setup(e, ch)
			}
			res := e.flow.Run(context.Background(), c, tc.info)
			var got []policy.Result
			for i, r := range rec.commits {
				got = append(got, r.Result)
				if !rec.early[i] && i == 0 {
					t.Errorf("commit %d came after the routing variables", i)
				}
				if r.ID != res.ID {
					t.Errorf("commit %d: id %s, call %s", i, r.ID, res.ID)
				}
			}
			if !slices.Equal(got, tc.commits) {
				t.Fatalf("commits %v, want %v", got, tc.commits)
			}
			last := rec.commits[len(rec.commits)-1]
			if tc.reason != "" && !slices.Contains(last.Decision.Reasons, tc.reason) {
				t.Errorf("last commit reasons %v, want %s", last.Decision.Reasons, tc.reason)
			}
			if len(rec.records) != 1 || !rec.records[0].Committed || rec.records[0] != res {
				t.Fatalf("recorded %d results (committed %v), want the call's one", len(rec.records), len(rec.records) > 0 && rec.records[0].Committed)
			}
			if (res.Error != "") != tc.err {
				t.Errorf("final error %q", res.Error)
			}
			if ch.Vars[decision.VarResult] == "" && !tc.err {
				t.Error("no routing variables")
			}
		})
	}
}
