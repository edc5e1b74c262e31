// Package agitest is a simulated Asterisk for FastAGI: it connects to a
// FastAGI server the way Asterisk's AGI() does, sends the environment
// block, and answers every command exactly as Asterisk 22 does in the
// captures under shared/fixtures (HANGUP then 511 after the caller leaves,
// "(timeout)", ASCII digit codes, multi-line 520), with a scripted caller
// who types digits, stays silent or hangs up. It records every line both
// ways in a Transcript.
//
// EXEC MSet splits its data as Asterisk does (MSet, SeparateArgs), so the
// two levels of escaping are checked, and an entry without "=" is ignored
// with Asterisk's warning (Transcript.Warnings); NoMSet plays an Asterisk
// without the application. Caller numbers and names are written raw, as
// setup_env does, so a name with line breaks reaches the server as extra
// lines; with Stdio the commands are read as run_agi reads them, which
// together reproduce a hostile caller name byte for byte
// (caller-name-with-newlines.txt).
//
// It is for tests and for "callscreen call"; it must never be used to carry
// real calls, and it must never import package agi: it is the independent
// other side that agi is checked against.
package agitest
