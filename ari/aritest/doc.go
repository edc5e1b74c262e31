// Package aritest is a fake Asterisk ARI server for tests and load tests:
// an httptest server with the REST calls and the event WebSocket a Stasis
// screening application uses, behaving like the Asterisk 22.10.1 captures
// in ari/testdata (201 and 204 codes, playback events, one
// ChannelDtmfReceived per digit, ChannelVarset before the 204, a channel
// command queue that holds answer and set-variable behind a running
// playback, 404 "Channel not found" after a hangup).
//
// Tests drive the callers: StartCall puts a channel into an application
// (StasisStart), Channel.SendDTMF and Channel.Hangup act as the far end,
// and hooks react to playbacks the way a human or a robot would.
// DropConnections, SetPassword, Refuse and Fail break the server on demand.
//
// In outbound mode (Server.Outbound) it is Asterisk 22.5+ opening the
// websocket itself, as ari/testdata/outbound shows: the exact upgrade
// request, persistent (connected at once, re-connected forever, events
// queued while down and sent first) or per_call_config (a connection per
// StartCall, application "<app>:<channel name>", closed 3.5 s after
// StasisEnd, STASISSTATUS=FAILED when it cannot connect), REST calls
// answered one at a time as RESTResponse messages.
//
// It is a fake, not a PBX: no media, no bridges, no dialplan beyond the
// Stasis application. It must never be used outside tests and benchmarks.
package aritest
