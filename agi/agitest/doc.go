// Package agitest is a simulated Asterisk for FastAGI: it connects to a
// FastAGI server the way Asterisk's AGI() does, sends the environment
// block, and answers every command exactly as Asterisk 22 does in the
// captures under shared/fixtures (HANGUP then 511 after the caller leaves,
// "(timeout)", ASCII digit codes, multi-line 520), with a scripted caller
// who types digits, stays silent or hangs up. It records every line both
// ways in a Transcript.
//
// It is for tests and for "callscreen call"; it must never be used to carry
// real calls, and it must never import package agi: it is the independent
// other side that agi is checked against.
package agitest
