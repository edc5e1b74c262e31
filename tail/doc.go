// Package tail shares the live tail of decisions between instances: with
// Redis configured, each instance publishes every decision it makes on a
// pub/sub channel and hands those of the other instances to its admin
// API's recent decisions, so the dashboard of any instance shows the calls
// of all of them.
//
// A Relay is a decision.Recorder: Record copies the result onto a bounded
// queue and returns; a goroutine encodes it as the decision log does (the
// log's Record, snake case, microseconds) and publishes it. Messages are
// capped in size, and one that does not decode is counted and dropped.
// Pub/sub keeps nothing: after a lost connection go-redis subscribes
// again, the relay counts the gap (callscreen_tail_resubscribed_total),
// and what other instances published meanwhile is not shown.
//
// The package must never block the call path (a full queue drops the
// message and counts it), never hand an instance its own decisions back,
// and never pass the decisions it receives to anything but the recorder
// it was given: other instances' calls are already in their own decision
// logs and in the shared statistics.
package tail
