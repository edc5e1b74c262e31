package aritest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/callscreen/callscreen/ari"
)

// CallSpec describes a call to put into a Stasis application.
type CallSpec struct {
	// ID is the channel's uniqueid; "" generates one.
	ID string
	// Name is the channel name; "" is "PJSIP/trunk-<n>".
	Name                     string
	CallerNumber, CallerName string
	// Context, Exten and Priority locate the Stasis() call; defaults
	// "from-trunk", "15551230000", 2.
	Context  string
	Exten    string
	Priority int64
	// Args are the Stasis() arguments after the application name.
	Args []string
	// State is the channel state; "" is "Ring" (inbound, not answered).
	State string
	// Language; "" is "en".
	Language string
	// Presentation is what CALLERID(num-pres) reads; "" is
	// "allowed_not_screened".
	Presentation string
	// Vars are channel variables and readable functions
	// ("STIR_SHAKEN(count)"); any other function read fails with 500.
	Vars map[string]string
	// CreationTime; zero is now.
	CreationTime time.Time
	// LingerAfterHangup keeps the channel after the caller hangs up, out
	// of Stasis: variables can still be read, and channel operations get
	// 409 "Channel not in Stasis application" instead of 404, as in the
	// moment before Asterisk destroys a hung-up channel.
	LingerAfterHangup bool
	// OnPlaybackStarted and OnPlaybackFinished are the far end's reaction
	// to a playback, each run in a goroutine of its own after the event is
	// sent. media is the playback's whole list.
	OnPlaybackStarted  func(ch *Channel, pb ari.Playback, media []string)
	OnPlaybackFinished func(ch *Channel, pb ari.Playback, media []string)
}

// Channel is a fake channel. Its methods act as the caller.
type Channel struct {
	s    *Server
	app  string
	spec CallSpec
	// route is the application its events go to: app, or for a per-call
	// outbound websocket "app:<channel name>".
	route string
	// pipe is its per-call outbound websocket, nil for any other.
	pipe *pipe

	// Guarded by s.mu.
	info         ari.Channel
	vars         map[string]string
	inStasis     bool
	alive        bool
	continueReqs int
	continued    int
	answers      int
	hangupReason string
	callerHungUp bool
	status       string
	current      *playback
	queued       int
	history      [][]string

	queue chan func()
	quit  chan struct{} // closed on hangup
	left  chan struct{} // closed when the channel leaves Stasis
}

type playback struct {
	id        string
	ch        *Channel
	media     []string
	idx       int
	state     string // queued, playing, done, failed
	cancelled bool
	finished  bool
	stop      chan struct{}
	stopOnce  sync.Once
}

func (pb *playback) infoLocked() ari.Playback {
	info := ari.Playback{
		ID:        pb.id,
		MediaURI:  pb.media[pb.idx],
		TargetURI: "channel:" + pb.ch.info.ID,
		Language:  pb.ch.info.Language,
		State:     pb.state,
	}
	if pb.idx+1 < len(pb.media) && pb.state == "playing" {
		info.NextMediaURI = pb.media[pb.idx+1]
	}
	return info
}

// StartCall puts a new channel into app and sends StasisStart, as
// Stasis(app,args...) does. With no connection for app it fails with
// ErrNotConnected, as Asterisk fails Stasis() (STASISSTATUS=FAILED).
//
// For an application of a per_call_config outbound websocket it first
// connects (Asterisk's websocket_client retries; ErrNotConnected when
// every try failed, after as long as Asterisk takes), sends
// ApplicationRegistered, waits the Outbound's StartDelay and then sends
// StasisStart, as app_stasis does.
func (s *Server) StartCall(app string, spec CallSpec) (*Channel, error) {
	s.mu.Lock()
	if ob := s.outbound[app]; ob != nil && ob.cfg.PerCall {
		s.mu.Unlock()
		return ob.startPerCall(spec)
	}
	defer s.mu.Unlock()
	if s.apps[app] == nil {
		return nil, ErrNotConnected
	}
	ch := s.newChannelLocked(app, spec)
	s.emitLocked(app, &ari.StasisStart{
		Header:  ari.Header{Type: "StasisStart"},
		Args:    append([]string{}, spec.Args...),
		Channel: ch.info,
	})
	return ch, nil
}

// AddChannel puts a channel into app without a StasisStart, as if it had
// entered while an earlier connection was up: what a client finds with
// GET /channels after reconnecting.
func (s *Server) AddChannel(app string, spec CallSpec) *Channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newChannelLocked(app, spec)
}

func (s *Server) newChannelLocked(app string, spec CallSpec) *Channel {
	if spec.ID == "" {
		spec.ID = s.newIDLocked()
	}
	if spec.Name == "" {
		spec.Name = "PJSIP/trunk-" + strings.ReplaceAll(spec.ID, ".", "")
	}
	if spec.Context == "" {
		spec.Context = "from-trunk"
	}
	if spec.Exten == "" {
		spec.Exten = "15551230000"
	}
	if spec.Priority == 0 {
		spec.Priority = 2
	}
	if spec.State == "" {
		spec.State = "Ring"
	}
	if spec.Language == "" {
		spec.Language = "en"
	}
	if spec.Presentation == "" {
		spec.Presentation = "allowed_not_screened"
	}
	if spec.CreationTime.IsZero() {
		spec.CreationTime = time.Now()
	}
	ch := &Channel{
		s:     s,
		app:   app,
		route: app,
		spec:  spec,
		info: ari.Channel{
			ID:           spec.ID,
			Name:         spec.Name,
			State:        spec.State,
			Caller:       ari.CallerID{Name: spec.CallerName, Number: spec.CallerNumber},
			Dialplan:     ari.DialplanCEP{Context: spec.Context, Exten: spec.Exten, Priority: spec.Priority, AppName: "Stasis", AppData: strings.Join(append([]string{app}, spec.Args...), ",")},
			CreationTime: ari.Time{Time: spec.CreationTime},
			Language:     spec.Language,
		},
		vars:     map[string]string{},
		inStasis: true,
		alive:    true,
		queue:    make(chan func(), 64),
		quit:     make(chan struct{}),
		left:     make(chan struct{}),
	}
	for k, v := range spec.Vars {
		ch.vars[k] = v
	}
	s.channels[spec.ID] = ch
	go ch.stasisThread()
	return ch
}

// stasisThread runs the channel's command queue in order, as Asterisk's
// Stasis control queue does: playbacks, answer, set-variable, continue.
func (ch *Channel) stasisThread() {
	for {
		select {
		case f := <-ch.queue:
			f()
		case <-ch.quit:
			return
		case <-ch.left:
			return
		}
	}
}

// enqueue queues f on the channel; false when it left Stasis or hung up.
func (ch *Channel) enqueue(f func()) bool {
	select {
	case ch.queue <- f:
		return true
	case <-ch.left:
		return false
	case <-ch.quit:
		return false
	}
}

// run queues f and waits for it: a synchronous command. It writes the
// error answer itself and returns false when the command did not run.
func (ch *Channel) run(w http.ResponseWriter, r *http.Request, f func()) bool {
	done := make(chan struct{})
	if !ch.enqueue(func() { f(); close(done) }) {
		ch.writeGone(w)
		return false
	}
	select {
	case <-done:
		return true
	case <-ch.quit:
		writeError(w, http.StatusNotFound, "Channel not found")
	case <-ch.left:
		// The command queue is flushed when the channel leaves Stasis.
		select {
		case <-done:
			return true
		default:
		}
		ch.writeGone(w)
	case <-r.Context().Done():
	}
	return false
}

// writeGone answers for a channel that is no longer controllable.
func (ch *Channel) writeGone(w http.ResponseWriter) {
	ch.s.mu.Lock()
	alive := ch.alive
	ch.s.mu.Unlock()
	if !alive {
		writeError(w, http.StatusNotFound, "Channel not found")
		return
	}
	writeError(w, http.StatusConflict, "Channel not in Stasis application")
}

// controlLocked checks the channel can take a Stasis command.
func (ch *Channel) controlLocked(w http.ResponseWriter) bool {
	switch {
	case !ch.alive:
		writeError(w, http.StatusNotFound, "Channel not found")
		return false
	case !ch.inStasis:
		writeError(w, http.StatusConflict, "Channel not in Stasis application")
		return false
	}
	return true
}

func (ch *Channel) answer(w http.ResponseWriter, r *http.Request) {
	s := ch.s
	s.mu.Lock()
	ok := ch.controlLocked(w)
	s.mu.Unlock()
	if !ok {
		return
	}
	if ch.run(w, r, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		ch.answers++
		if ch.info.State != "Up" {
			ch.info.State = "Up"
			s.emitLocked(ch.route, &stateChange{Header: ari.Header{Type: "ChannelStateChange"}, Channel: ch.info})
		}
	}) {
		w.WriteHeader(http.StatusNoContent)
	}
}

// stateChange is ChannelStateChange, an event the client does not model.
type stateChange struct {
	ari.Header
	Channel ari.Channel `json:"channel"`
}

func (ch *Channel) cont(w http.ResponseWriter, r *http.Request) {
	s := ch.s
	s.mu.Lock()
	if !ch.controlLocked(w) {
		s.mu.Unlock()
		return
	}
	ch.continueReqs++
	s.mu.Unlock()
	// continue is asynchronous: queued behind a running playback. Over an
	// outbound websocket the 204 goes out before the StasisEnd.
	after(r, func() { ch.enqueue(ch.continueNow) })
	w.WriteHeader(http.StatusNoContent)
}

// continueNow takes the channel back to the dialplan, on its Stasis
// thread.
func (ch *Channel) continueNow() {
	s := ch.s
	{
		s.mu.Lock()
		defer s.mu.Unlock()
		if !ch.inStasis {
			return
		}
		ch.continued++
		ch.leaveLocked()
		ch.info.Dialplan.Priority++
		ch.info.Dialplan.AppName = ""
		ch.info.Dialplan.AppData = ""
	}
}

// leaveLocked takes the channel out of Stasis with a StasisEnd;
// Stasis() returns with STASISSTATUS=SUCCESS.
func (ch *Channel) leaveLocked() {
	if !ch.inStasis {
		return
	}
	ch.inStasis = false
	ch.status = "SUCCESS"
	ch.s.emitLocked(ch.route, &ari.StasisEnd{Header: ari.Header{Type: "StasisEnd"}, Channel: ch.info})
	close(ch.left)
	ch.s.broadcastLocked()
	if ch.pipe != nil {
		ch.pipe.stasisEndedLocked()
	}
}

// failLocked takes the channel out of Stasis with STASISSTATUS=FAILED, as
// Asterisk does when a per-call websocket dropped and could not be
// re-established (res/ari/ari_websockets.c,
// outbound_session_handler_thread: stasis_app_control_mark_failed, then
// continue). No connection hears a StasisEnd.
func (ch *Channel) failLocked() {
	if !ch.inStasis {
		return
	}
	ch.inStasis = false
	ch.status = "FAILED"
	close(ch.left)
	ch.s.broadcastLocked()
}

func (ch *Channel) getVar(w http.ResponseWriter, p *params) {
	name := p.v["variable"]
	if name == "" {
		writeError(w, http.StatusBadRequest, "Variable name is required")
		return
	}
	s := ch.s
	s.mu.Lock()
	if !ch.alive {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, msgNoSuchChannel)
		return
	}
	v, ok := ch.readLocked(name)
	s.mu.Unlock()
	switch {
	case ok:
		writeJSON(w, http.StatusOK, map[string]string{"value": v})
	case strings.HasSuffix(name, ")"):
		writeError(w, http.StatusInternalServerError, "Unable to read provided function")
	default:
		writeError(w, http.StatusNotFound, "Provided variable was not found")
	}
}

func (ch *Channel) readLocked(name string) (string, bool) {
	switch strings.ToUpper(name) {
	case "CALLERID(NUM)":
		return ch.info.Caller.Number, true
	case "CALLERID(NAME)":
		return ch.info.Caller.Name, true
	case "CALLERID(NUM-PRES)", "CALLERID(PRES)":
		return ch.spec.Presentation, true
	case "CALLERID(NAME-PRES)":
		return ch.spec.Presentation, true
	}
	v, ok := ch.vars[name]
	return v, ok
}

func (ch *Channel) setVars(w http.ResponseWriter, r *http.Request, p *params, plural bool) {
	var vars [][2]string
	if plural {
		raw, ok := p.json["variables"]
		if !ok {
			writeError(w, http.StatusBadRequest, "Error parsing request body")
			return
		}
		var err error
		if vars, err = orderedObject(raw); err != nil {
			writeError(w, http.StatusBadRequest, "Error parsing request body")
			return
		}
	} else {
		name := p.v["variable"]
		if name == "" {
			writeError(w, http.StatusBadRequest, "Variable name is required")
			return
		}
		vars = [][2]string{{name, p.v["value"]}}
	}
	s := ch.s
	s.mu.Lock()
	ok := ch.controlLocked(w)
	s.mu.Unlock()
	if !ok {
		return
	}
	// Set-variable is synchronous: it waits behind a running playback,
	// and ChannelVarset goes out before the 204.
	if ch.run(w, r, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, v := range vars {
			ch.vars[v[0]] = v[1]
			info := ch.info
			s.emitLocked(ch.route, &ari.ChannelVarset{Header: ari.Header{Type: "ChannelVarset"}, Variable: v[0], Value: v[1], Channel: &info})
		}
	}) {
		w.WriteHeader(http.StatusNoContent)
	}
}

// orderedObject reads {"NAME":"value" | {"value":"v","report_events":b}}
// keeping the body's order.
func orderedObject(raw json.RawMessage) ([][2]string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errBadBody
	}
	var out [][2]string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		var val string
		if json.Unmarshal(v, &val) != nil {
			var obj struct {
				Value string `json:"value"`
			}
			if err := json.Unmarshal(v, &obj); err != nil {
				return nil, err
			}
			val = obj.Value
		}
		if name == "" {
			return nil, errBadBody
		}
		out = append(out, [2]string{name, val})
	}
	return out, nil
}

var errBadBody = &ari.Error{Status: http.StatusBadRequest, Message: "Error parsing request body"}

func (ch *Channel) play(w http.ResponseWriter, r *http.Request, id string, p *params) {
	s := ch.s
	if len(p.media) == 0 {
		writeError(w, http.StatusBadRequest, "Missing parameter media")
		return
	}
	s.mu.Lock()
	if !ch.controlLocked(w) {
		s.mu.Unlock()
		return
	}
	if id == "" {
		id = s.newIDLocked()
	}
	if s.playbacks[id] != nil {
		s.mu.Unlock()
		writeError(w, http.StatusInternalServerError, "Failed to queue media for playback")
		return
	}
	pb := &playback{id: id, ch: ch, media: p.media, state: "queued", stop: make(chan struct{})}
	s.playbacks[id] = pb
	ch.history = append(ch.history, append([]string(nil), p.media...))
	idle := ch.current == nil && ch.queued == 0
	ch.queued++
	info := pb.infoLocked()
	s.mu.Unlock()
	if deferred(r) {
		// Over an outbound websocket the 201 goes out first, with the
		// playback still queued, and PlaybackStarted after it (the
		// outbound captures).
		after(r, func() {
			if !ch.enqueue(func() { ch.runPlayback(pb) }) {
				s.mu.Lock()
				delete(s.playbacks, id)
				ch.queued--
				s.mu.Unlock()
			}
		})
		w.Header().Set("Location", "/playbacks/"+id)
		writeJSON(w, http.StatusCreated, info)
		return
	}
	if idle {
		info.State = "playing"
	}
	if !ch.enqueue(func() { ch.runPlayback(pb) }) {
		s.mu.Lock()
		delete(s.playbacks, id)
		ch.queued--
		s.mu.Unlock()
		ch.writeGone(w)
		return
	}
	w.Header().Set("Location", "/playbacks/"+id)
	writeJSON(w, http.StatusCreated, info)
}

// runPlayback plays pb's media in order on the Stasis thread.
func (ch *Channel) runPlayback(pb *playback) {
	s := ch.s
	s.mu.Lock()
	ch.queued--
	if pb.cancelled || pb.finished || !ch.alive {
		s.mu.Unlock()
		return
	}
	pb.state = "playing"
	ch.current = pb
	s.emitLocked(ch.route, &ari.PlaybackStarted{Header: ari.Header{Type: "PlaybackStarted"}, Playback: pb.infoLocked()})
	if f := ch.spec.OnPlaybackStarted; f != nil {
		go f(ch, pb.infoLocked(), pb.media)
	}
	s.mu.Unlock()
	for i, m := range pb.media {
		if i > 0 {
			s.mu.Lock()
			pb.idx = i
			s.emitLocked(ch.route, &continuing{Header: ari.Header{Type: "PlaybackContinuing"}, Playback: pb.infoLocked()})
			s.mu.Unlock()
		}
		d, failed := s.duration(m)
		if failed {
			s.mu.Lock()
			ch.finishLocked(pb, "failed")
			s.mu.Unlock()
			return
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-pb.stop:
			t.Stop()
			s.mu.Lock()
			ch.finishLocked(pb, "done")
			s.mu.Unlock()
			return
		case <-ch.quit:
			t.Stop()
			return // the hangup finished it
		}
	}
	s.mu.Lock()
	ch.finishLocked(pb, "done")
	s.mu.Unlock()
}

// continuing is PlaybackContinuing, an event the client does not model.
type continuing struct {
	ari.Header
	Playback ari.Playback `json:"playback"`
}

// finishLocked ends pb in state and sends PlaybackFinished.
func (ch *Channel) finishLocked(pb *playback, state string) {
	if pb.finished {
		return
	}
	pb.finished = true
	pb.state = state
	delete(ch.s.playbacks, pb.id)
	if ch.current == pb {
		ch.current = nil
	}
	info := pb.infoLocked()
	ch.s.emitLocked(ch.route, &ari.PlaybackFinished{Header: ari.Header{Type: "PlaybackFinished"}, Playback: info})
	if f := ch.spec.OnPlaybackFinished; f != nil {
		go f(ch, info, pb.media)
	}
}

// hangupRequest is ChannelHangupRequest as Asterisk writes it: cause is
// there even when 0 (ari.ChannelHangupRequest leaves a zero out).
type hangupRequest struct {
	ari.Header
	Cause   int         `json:"cause"`
	Soft    bool        `json:"soft,omitempty"`
	Channel ari.Channel `json:"channel"`
}

// hangupLocked hangs the channel up: ChannelHangupRequest, the running
// playback fails, StasisEnd; from then on every REST call on it is 404
// (409 for channel operations while it lingers, with LingerAfterHangup).
func (ch *Channel) hangupLocked(soft bool, cause int) {
	s := ch.s
	if !ch.alive {
		return
	}
	if ch.inStasis {
		s.emitLocked(ch.route, &hangupRequest{Header: ari.Header{Type: "ChannelHangupRequest"}, Cause: cause, Soft: soft, Channel: ch.info})
		if pb := ch.current; pb != nil {
			ch.finishLocked(pb, "failed")
		}
		ch.leaveLocked()
	}
	if ch.spec.LingerAfterHangup && !soft {
		return
	}
	for id, pb := range s.playbacks {
		if pb.ch == ch {
			pb.finished = true
			delete(s.playbacks, id)
		}
	}
	ch.stopLocked()
	delete(s.channels, ch.info.ID)
	s.broadcastLocked()
}

// stopLocked ends the channel's Stasis thread.
func (ch *Channel) stopLocked() {
	if !ch.alive {
		return
	}
	ch.alive = false
	close(ch.quit)
}

// ID returns the channel's uniqueid.
func (ch *Channel) ID() string { return ch.spec.ID }

// Info returns the channel as GET /channels/{id} shows it now.
func (ch *Channel) Info() ari.Channel {
	ch.s.mu.Lock()
	defer ch.s.mu.Unlock()
	return ch.info
}

// SendDTMF sends one ChannelDtmfReceived per digit, in order, as the far
// end pressing keys. Nothing happens once the channel left Stasis.
func (ch *Channel) SendDTMF(digits string) {
	s := ch.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if !ch.alive || !ch.inStasis {
		return
	}
	for _, d := range digits {
		s.emitLocked(ch.route, &ari.ChannelDtmfReceived{Header: ari.Header{Type: "ChannelDtmfReceived"}, Digit: string(d), DurationMS: 100, Channel: ch.info})
	}
}

// Hangup is the caller hanging up (cause 16, normal clearing).
func (ch *Channel) Hangup() { ch.HangupCause(16) }

// HangupCause is the caller hanging up with a Q.850 cause: 19 (no answer)
// when an unanswered caller gives up, 0 when the far half of a Local
// channel hangs up.
func (ch *Channel) HangupCause(cause int) {
	s := ch.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch.alive && ch.inStasis {
		ch.callerHungUp = true
	}
	ch.hangupLocked(false, cause)
}

// StasisStatus is what the dialplan reads in STASISSTATUS once the channel
// left Stasis: SUCCESS, or FAILED when its per-call websocket was lost;
// "" while it is in Stasis.
func (ch *Channel) StasisStatus() string {
	ch.s.mu.Lock()
	defer ch.s.mu.Unlock()
	return ch.status
}

// Var returns a channel variable as the dialplan would read it.
func (ch *Channel) Var(name string) (string, bool) {
	ch.s.mu.Lock()
	defer ch.s.mu.Unlock()
	v, ok := ch.vars[name]
	return v, ok
}

// Vars returns a copy of the channel variables.
func (ch *Channel) Vars() map[string]string {
	ch.s.mu.Lock()
	defer ch.s.mu.Unlock()
	out := make(map[string]string, len(ch.vars))
	for k, v := range ch.vars {
		out[k] = v
	}
	return out
}

// Done is closed when the channel leaves Stasis (continue or hangup).
func (ch *Channel) Done() <-chan struct{} { return ch.left }

// Continued counts continue commands that took the channel back to the
// dialplan (0 or 1); ContinueRequests counts the continue calls received.
func (ch *Channel) Continued() int {
	ch.s.mu.Lock()
	defer ch.s.mu.Unlock()
	return ch.continued
}

// ContinueRequests counts POST .../continue calls accepted for the channel.
func (ch *Channel) ContinueRequests() int {
	ch.s.mu.Lock()
	defer ch.s.mu.Unlock()
	return ch.continueReqs
}

// Answers counts answer commands run.
func (ch *Channel) Answers() int {
	ch.s.mu.Lock()
	defer ch.s.mu.Unlock()
	return ch.answers
}

// HangupReason is the reason of a DELETE /channels/{id}, "" when the
// application did not hang the channel up.
func (ch *Channel) HangupReason() string {
	ch.s.mu.Lock()
	defer ch.s.mu.Unlock()
	return ch.hangupReason
}

// Playbacks returns the media list of every playback requested, in order.
func (ch *Channel) Playbacks() [][]string {
	ch.s.mu.Lock()
	defer ch.s.mu.Unlock()
	out := make([][]string, len(ch.history))
	for i, h := range ch.history {
		out[i] = append([]string(nil), h...)
	}
	return out
}

// Playing reports whether a playback is running on the channel.
func (ch *Channel) Playing() bool {
	ch.s.mu.Lock()
	defer ch.s.mu.Unlock()
	return ch.current != nil
}
