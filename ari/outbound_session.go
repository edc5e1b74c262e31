package ari

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// session is one websocket Asterisk opened: it reads every message, hands
// RESTResponses to the requests waiting for them and events to the Stasis
// applications they name. It never blocks on a call: applications do
// their work in their own goroutines.
type session struct {
	srv    *OutboundServer
	user   *OutboundUser
	conn   *websocket.Conn
	link   *wsLink
	remote string
	log    *slog.Logger
	// apps maps application names to applications; the read loop's own.
	apps map[string]*outApp
	// pinging is set once a persistent application is seen; the read
	// loop's own.
	pinging   bool
	closeOnce sync.Once
	done      chan struct{}
}

func newSession(s *OutboundServer, u *OutboundUser, conn *websocket.Conn, remote string) *session {
	return &session{
		srv: s, user: u, conn: conn, link: newLink(conn), remote: remote,
		log:  s.log.With("ari_user", u.Username, "remote", remote),
		apps: map[string]*outApp{},
		done: make(chan struct{}),
	}
}

// run reads until the connection closes, then detaches its applications.
func (ss *session) run() {
	defer ss.srv.untrack(ss)
	defer close(ss.done)
	ss.log.Debug("ari outbound: connected")
	first := time.AfterFunc(firstMessageWait, func() {
		ss.log.Warn("ari outbound: no message from Asterisk; closing", "after", firstMessageWait)
		ss.close(websocket.StatusPolicyViolation, "no message")
	})
	defer first.Stop()
	for {
		typ, data, err := ss.conn.Read(context.Background())
		if err != nil {
			status := websocket.CloseStatus(err)
			ss.log.Debug("ari outbound: connection closed", "status", int(status), "err", err)
			break
		}
		first.Stop()
		if typ != websocket.MessageText {
			continue
		}
		ss.handle(data, time.Now())
	}
	ss.link.fail()
	for _, a := range ss.apps {
		a.detach(ss)
	}
	ss.conn.CloseNow()
}

// close starts a normal close; run ends when it is done.
func (ss *session) close(code websocket.StatusCode, reason string) {
	ss.closeOnce.Do(func() {
		go func() {
			if err := ss.conn.Close(code, reason); err != nil {
				ss.conn.CloseNow()
			}
		}()
	})
}

// handle routes one message.
func (ss *session) handle(data []byte, arrived time.Time) {
	m := ss.srv.Metrics
	var p peekMessage
	if err := json.Unmarshal(data, &p); err != nil || p.Type == "" {
		m.event("invalid")
		ss.log.Debug("ari outbound: ignoring a message that is not an event", "err", err)
		return
	}
	if p.Type == "RESTResponse" {
		var r restResponse
		if err := json.Unmarshal(data, &r); err != nil {
			m.event("invalid")
			ss.log.Debug("ari outbound: ignoring a malformed RESTResponse", "err", err)
			return
		}
		if !ss.link.deliver(&r) {
			ss.log.Debug("ari outbound: response to no request waiting (late, after its timeout)", "request_id", r.RequestID, "status", r.StatusCode)
		}
		return
	}
	m.event(p.Type)
	if p.Application == "" {
		ss.log.Debug("ari outbound: ignoring an event without an application", "type", p.Type)
		return
	}
	a := ss.apps[p.Application]
	if a == nil {
		a = ss.srv.attachApp(appKey{user: ss.user.Username, asterisk: p.AsteriskID, name: p.Application}, ss)
		ss.apps[p.Application] = a
		if !a.perCall && !ss.pinging {
			ss.pinging = true
			go ss.ping()
		}
	}
	e, err := ParseEvent(data)
	if err != nil {
		m.event("invalid")
		ss.log.Debug("ari outbound: ignoring a malformed event", "err", err)
		return
	}
	a.dispatch(ss, e, arrived)
	m.eventDelay(time.Since(arrived))
}

// ping checks a persistent connection every PingInterval and drops it
// when Asterisk does not answer: Asterisk then reconnects.
func (ss *session) ping() {
	every := dur(ss.srv.PingInterval, DefaultPingInterval)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ss.done:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), every)
		err := ss.conn.Ping(ctx)
		cancel()
		if err != nil {
			select {
			case <-ss.done:
			default:
				ss.log.Warn("ari outbound: Asterisk did not answer a ping; dropping the connection (it reconnects)", "err", err)
				ss.conn.CloseNow()
			}
			return
		}
	}
}
