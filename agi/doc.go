// Package agi is callscreen's FastAGI transport: a TCP server that Asterisk's
// AGI() application connects to, the session environment Asterisk sends
// first, and one method per AGI command the screening flow needs, each
// encoding its arguments the way Asterisk's parse_args reads them and
// parsing the reply Asterisk writes back.
//
// It knows the wire and nothing about spam: it must never import the
// screening flow, policy or reputation packages, never decide anything about
// a call, and never pipeline (one command, then its complete reply, then the
// next command: Asterisk aborts a running playback when a byte arrives on the
// socket). It must never let a peer hold resources without a bound: the
// environment block has size, line and time caps, connections still reading
// it wait in a bounded stage of their own (capped per peer) and hold no
// session slot, every command honours its context's deadline, and a stream
// left out of step is closed, not reused. Bytes a caller controls (the
// caller number and name, written raw by Asterisk) must never become a key,
// end the environment block or be read as a reply: ParseEnv reads a FastAGI
// block in setup_env's fixed key order and reports such values in
// Env.Injected. Routing variables go in one EXEC MSet (SetVariables), with
// values refused before anything is written when they cannot be carried.
//
// Caller hangup is reported with the sentinel errors ErrHangup and
// ErrDeadChannel (which also matches ErrHangup); test them with errors.Is.
package agi
