package tail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callscreen/callscreen/audit"
	"github.com/callscreen/callscreen/decision"
)

// Defaults.
const (
	DefaultChannel = "callscreen:decisions"
	// MaxMessage caps a message; larger ones are not published, nor read.
	MaxMessage     = 64 << 10
	queueSize      = 1024
	publishTimeout = time.Second
	version        = 1
)

// message is what goes over the channel.
type message struct {
	V        int          `json:"v"`
	Instance string       `json:"instance"`
	Record   audit.Record `json:"record"`
}

// Options configures New.
type Options struct {
	Redis redis.UniversalClient
	// Channel is the pub/sub channel; "" is DefaultChannel.
	Channel string
	// Instance names this instance on the channel; "" picks a random one.
	Instance string
	// Deliver receives the decisions of the other instances.
	Deliver decision.Recorder
	Metrics *Metrics
	Logger  *slog.Logger
}

// Relay publishes this instance's decisions and delivers the others'.
type Relay struct {
	opts Options
	m    *Metrics
	log  *slog.Logger
	out  chan decision.Result
}

var _ decision.Recorder = (*Relay)(nil)

// New makes a relay; Run starts it.
func New(o Options) *Relay {
	if o.Channel == "" {
		o.Channel = DefaultChannel
	}
	if o.Instance == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		o.Instance = hex.EncodeToString(b[:])
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Relay{opts: o, m: o.Metrics, log: o.Logger, out: make(chan decision.Result, queueSize)}
}

// Instance is the name this relay publishes under.
func (r *Relay) Instance() string { return r.opts.Instance }

// Record queues res for publishing; it never blocks.
func (r *Relay) Record(res *decision.Result) {
	select {
	case r.out <- *res:
	default:
		r.m.dropped.Inc()
	}
}

// Run publishes and subscribes until ctx ends. ready, when not nil, is
// closed once the subscription is confirmed (or failed: go-redis keeps
// trying, and the failure is logged).
func (r *Relay) Run(ctx context.Context, ready chan<- struct{}) {
	sub := r.opts.Redis.Subscribe(ctx, r.opts.Channel)
	defer sub.Close()
	// Wait for the subscription to be confirmed, so a test (or the first
	// call) is not missed; go-redis resubscribes by itself after that.
	if _, err := sub.Receive(ctx); err != nil && ctx.Err() == nil {
		r.log.Warn("tail: cannot subscribe; the live tail shows this instance's calls until Redis answers", "err", err)
	}
	if ready != nil {
		close(ready)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.publish(ctx)
	}()
	// With the subscriptions: go-redis resubscribes after it lost the
	// connection (a Redis restart, a Sentinel or Cluster failover), and
	// says so with a subscribe confirmation. Pub/sub keeps nothing, so
	// what the other instances published meanwhile is not shown here.
	ch := sub.ChannelWithSubscriptions(redis.WithChannelSize(queueSize))
	for {
		select {
		case <-ctx.Done():
			<-done
			return
		case msg, ok := <-ch:
			if !ok {
				<-done
				return
			}
			switch m := msg.(type) {
			case *redis.Message:
				r.receive(m.Payload)
			case *redis.Subscription:
				if m.Kind == "subscribe" {
					r.m.resubscribed.Inc()
					r.log.Info("tail: subscribed again after losing Redis; other instances' decisions made meanwhile are not shown live (the shared statistics count them)")
				}
			}
		}
	}
}

func (r *Relay) publish(ctx context.Context) {
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case res := <-r.out:
			b, err := json.Marshal(message{V: version, Instance: r.opts.Instance, Record: audit.FromResult(&res, res.ConfigVersion)})
			if err == nil && len(b) > MaxMessage {
				err = fmt.Errorf("message of %d bytes, more than %d", len(b), MaxMessage)
			}
			if err == nil {
				pctx, cancel := context.WithTimeout(ctx, publishTimeout)
				err = r.opts.Redis.Publish(pctx, r.opts.Channel, b).Err()
				cancel()
			}
			if err != nil {
				r.m.errors.WithLabelValues("publish").Inc()
				if !failing && ctx.Err() == nil {
					r.log.Warn("tail: cannot publish decisions; other instances do not see this one's calls live", "err", err)
				}
				failing = true
				continue
			}
			failing = false
			r.m.published.Inc()
		}
	}
}

func (r *Relay) receive(payload string) {
	if len(payload) > MaxMessage {
		r.m.errors.WithLabelValues("decode").Inc()
		return
	}
	var m message
	if err := json.Unmarshal([]byte(payload), &m); err != nil || m.V != version || m.Record.ID == "" {
		r.m.errors.WithLabelValues("decode").Inc()
		r.log.Debug("tail: message dropped: not a decision", "err", err, "v", m.V)
		return
	}
	if m.Instance == r.opts.Instance {
		return
	}
	r.m.received.Inc()
	r.opts.Deliver.Record(m.Record.ToResult())
}
