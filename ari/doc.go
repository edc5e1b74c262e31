// Package ari is callscreen's second transport: an Asterisk REST Interface
// client (REST over net/http, events over a WebSocket) and the Stasis
// application that hands each call entering Stasis(app,...) to a Handler.
//
// A cloud PBX sends inbound calls to Stasis(callscreen,profile=sales,tenant=acme);
// App keeps one event connection per Asterisk server, starts one goroutine
// per StasisStart, gives it a Call (answer, play, read DTMF, get and set
// variables, hang up) and, when the handler returns, sends the channel back
// to the dialplan with continue, exactly once. A lost connection is retried
// with a capped, jittered backoff; after each connect the channels still
// waiting in the app are found and handed back (fail-open).
//
// OutboundServer is the other way round, for Asterisk 22.5 and later: the
// PBX opens the websocket to callscreen (ARI outbound websockets, one
// persistent connection or one per call) and takes the REST calls as
// messages on it (REST over WebSocket). Its calls reach the same Handler
// as *Call values whose REST calls travel over that websocket.
//
// It knows the wire and nothing about spam: it must never import the
// screening flow, policy or reputation packages, and never decide anything
// about a call. It must never put a password in a URL, an error or a log
// (HTTP Basic auth only, never api_key), never let the event loop wait on a
// REST call or a handler, and never issue a blocking channel operation
// (answer, set variable) while its own playback runs without stopping that
// playback first: Asterisk queues them behind it.
//
// A channel that is gone (hung up, left Stasis, or answered 404 "Channel not
// found") is reported with the sentinel ErrHangup; REST failures carry the
// HTTP status and Asterisk's message in an *Error. Test both with errors.Is
// and errors.As.
package ari
