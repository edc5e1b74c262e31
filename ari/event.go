package ari

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// TimeLayout is how Asterisk writes timestamps (%FT%T.%q%z): milliseconds
// and a ±hhmm offset without a colon, which time.RFC3339 does not read.
const TimeLayout = "2006-01-02T15:04:05.000-0700"

// Time is an ARI timestamp. The zero Time stands for an absent or empty
// field.
type Time struct{ time.Time }

// ParseTime reads an Asterisk timestamp. It also accepts RFC 3339 and the
// Asterisk form without milliseconds.
func ParseTime(s string) (time.Time, error) {
	for _, layout := range []string{TimeLayout, "2006-01-02T15:04:05-0700", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("ari timestamp %q: want the form %s", s, TimeLayout)
}

// UnmarshalJSON reads a JSON string in Asterisk's layout; null and ""
// leave t zero.
func (t *Time) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		t.Time = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("ari timestamp: %w", err)
	}
	if s == "" {
		t.Time = time.Time{}
		return nil
	}
	v, err := ParseTime(s)
	if err != nil {
		return err
	}
	t.Time = v
	return nil
}

// MarshalJSON writes t in Asterisk's layout ("" when zero).
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte(`""`), nil
	}
	return json.Marshal(t.Format(TimeLayout))
}

// CallerID is a name and number pair.
type CallerID struct {
	Name   string `json:"name"`
	Number string `json:"number"`
}

// DialplanCEP is where a channel is in the dialplan.
type DialplanCEP struct {
	Context  string `json:"context"`
	Exten    string `json:"exten"`
	Priority int64  `json:"priority"`
	AppName  string `json:"app_name"`
	AppData  string `json:"app_data"`
}

// Channel is Asterisk's description of a channel. It has no caller
// presentation: read CALLERID(num-pres) for that.
type Channel struct {
	ID           string            `json:"id"`
	Name         string            `json:"name"`
	State        string            `json:"state"`
	ProtocolID   string            `json:"protocol_id"`
	Caller       CallerID          `json:"caller"`
	Connected    CallerID          `json:"connected"`
	AccountCode  string            `json:"accountcode"`
	Dialplan     DialplanCEP       `json:"dialplan"`
	CreationTime Time              `json:"creationtime"`
	Language     string            `json:"language"`
	CallerRDNIS  string            `json:"caller_rdnis,omitempty"`
	ChannelVars  map[string]string `json:"channelvars,omitempty"`
	TenantID     string            `json:"tenantid,omitempty"`
}

// InApp reports whether the channel is sitting in the Stasis application
// app: its dialplan application is Stasis and the first argument is app.
func (c *Channel) InApp(app string) bool {
	if !strings.EqualFold(c.Dialplan.AppName, "Stasis") {
		return false
	}
	first, _, _ := strings.Cut(c.Dialplan.AppData, ",")
	return strings.Trim(strings.TrimSpace(first), `"`) == app
}

// Playback is a playback's state. TargetURI is "channel:<id>" for a
// playback on a channel.
type Playback struct {
	ID           string `json:"id"`
	MediaURI     string `json:"media_uri"`
	NextMediaURI string `json:"next_media_uri,omitempty"`
	TargetURI    string `json:"target_uri"`
	Language     string `json:"language"`
	// State is queued, playing, continuing, done or failed.
	State string `json:"state"`
}

// ChannelID returns the channel a playback plays on, "" when its target is
// not a channel.
func (p *Playback) ChannelID() string {
	id, ok := strings.CutPrefix(p.TargetURI, "channel:")
	if !ok {
		return ""
	}
	return id
}

// Event is one message of the event WebSocket. The concrete types are
// pointers to the structs below; an event of a type this package does not
// model is an *OtherEvent.
type Event interface {
	EventHeader() *Header
}

// Header is what every event carries.
type Header struct {
	Type        string `json:"type"`
	Timestamp   Time   `json:"timestamp"`
	Application string `json:"application"`
	AsteriskID  string `json:"asterisk_id,omitempty"`
}

// EventHeader returns h.
func (h *Header) EventHeader() *Header { return h }

// StasisStart: a channel entered the application. Args are the Stasis()
// arguments after the application name.
type StasisStart struct {
	Header
	Args           []string `json:"args"`
	Channel        Channel  `json:"channel"`
	ReplaceChannel *Channel `json:"replace_channel,omitempty"`
}

// StasisEnd: the channel left the application (hangup, continue, move).
// Nothing more is heard about it.
type StasisEnd struct {
	Header
	Channel Channel `json:"channel"`
}

// ChannelDtmfReceived: one DTMF digit ("0"-"9", "*", "#", "A"-"D") ended.
type ChannelDtmfReceived struct {
	Header
	Digit      string  `json:"digit"`
	DurationMS int     `json:"duration_ms"`
	Channel    Channel `json:"channel"`
}

// PlaybackStarted: a playback began.
type PlaybackStarted struct {
	Header
	Playback Playback `json:"playback"`
}

// PlaybackFinished: a playback ended, in state done (completed, stopped or
// cancelled) or failed.
type PlaybackFinished struct {
	Header
	Playback Playback `json:"playback"`
}

// ChannelHangupRequest: the channel is being hung up. For a soft hangup
// Cause is Asterisk's soft-hangup bitmask, not a Q.850 cause.
type ChannelHangupRequest struct {
	Header
	Cause     int     `json:"cause,omitempty"`
	TechCause int     `json:"tech_cause,omitempty"`
	Soft      bool    `json:"soft,omitempty"`
	Channel   Channel `json:"channel"`
}

// ChannelDestroyed: the channel is gone.
type ChannelDestroyed struct {
	Header
	Cause     int     `json:"cause"`
	CauseTxt  string  `json:"cause_txt"`
	TechCause int     `json:"tech_cause,omitempty"`
	Channel   Channel `json:"channel"`
}

// ChannelVarset: a variable was set. Channel is nil for a global variable.
type ChannelVarset struct {
	Header
	Variable string   `json:"variable"`
	Value    string   `json:"value"`
	Channel  *Channel `json:"channel,omitempty"`
}

// ApplicationReplaced: another connection registered the same application
// name; this one receives no more events.
type ApplicationReplaced struct {
	Header
}

// OtherEvent is an event of a type this package does not model. Raw is the
// whole message.
type OtherEvent struct {
	Header
	Raw json.RawMessage `json:"-"`
}

// ParseEvent decodes one event message. Unknown types are not an error:
// they come back as *OtherEvent. A message that is not a JSON object with
// a type, or a channel event without a channel id, is an error wrapping
// ErrBadEvent.
func ParseEvent(data []byte) (Event, error) {
	var h Header
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, fmt.Errorf("ari event: %w: %w", ErrBadEvent, err)
	}
	if h.Type == "" {
		return nil, fmt.Errorf("ari event: %w: no type", ErrBadEvent)
	}
	var ev Event
	var chanID func() string
	switch h.Type {
	case "StasisStart":
		e := &StasisStart{}
		ev, chanID = e, func() string { return e.Channel.ID }
	case "StasisEnd":
		e := &StasisEnd{}
		ev, chanID = e, func() string { return e.Channel.ID }
	case "ChannelDtmfReceived":
		e := &ChannelDtmfReceived{}
		ev, chanID = e, func() string { return e.Channel.ID }
	case "PlaybackStarted":
		ev = &PlaybackStarted{}
	case "PlaybackFinished":
		ev = &PlaybackFinished{}
	case "ChannelHangupRequest":
		e := &ChannelHangupRequest{}
		ev, chanID = e, func() string { return e.Channel.ID }
	case "ChannelDestroyed":
		e := &ChannelDestroyed{}
		ev, chanID = e, func() string { return e.Channel.ID }
	case "ChannelVarset":
		ev = &ChannelVarset{}
	case "ApplicationReplaced":
		ev = &ApplicationReplaced{}
	default:
		return &OtherEvent{Header: h, Raw: bytes.Clone(data)}, nil
	}
	if err := json.Unmarshal(data, ev); err != nil {
		return nil, fmt.Errorf("ari event %s: %w: %w", h.Type, ErrBadEvent, err)
	}
	if chanID != nil && chanID() == "" {
		return nil, fmt.Errorf("ari event %s: %w: no channel id", h.Type, ErrBadEvent)
	}
	return ev, nil
}
