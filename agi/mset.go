package agi

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
)

// Variable is one channel variable for SetVariables.
type Variable struct {
	Name, Value string
}

// maxMSetPairs caps the variables of one EXEC MSet. Asterisk's MSet
// (main/pbx_variables.c, pbx_builtin_setvar_multiple) separates at most 98
// pairs (24 in older releases) and hands the rest over unsplit.
const maxMSetPairs = 20

// appendMSetData appends vars as MSet's argument, "N1=v1,N2=v2", each value
// escaped for MSet's own parser: Asterisk's __ast_app_separate_args
// (main/app.c) splits the data at commas outside quotes, parentheses and
// brackets, removing double quotes and the backslash before any character,
// and hands each pair's text after its first "=" over as it is. So "\",
// ",", `"`, "(", ")", "[" and "]" in a value get a backslash; the AGI layer
// (appendQuoted) then adds its own level when it quotes the whole data.
//
// Names must be letters, digits and "_" (not starting with a digit);
// values printable ASCII without "$" (EXEC expands ${...} when the dialplan
// sets AGIEXECFULL=yes). Anything else is refused with ErrBadArgument and
// dst is returned unchanged.
func appendMSetData(dst []byte, vars []Variable) ([]byte, error) {
	if len(vars) == 0 {
		return dst, fmt.Errorf("agi MSet: no variables: %w", ErrBadArgument)
	}
	if len(vars) > maxMSetPairs {
		return dst, fmt.Errorf("agi MSet: %d variables, at most %d in one command: %w", len(vars), maxMSetPairs, ErrBadArgument)
	}
	start := len(dst)
	for i, v := range vars {
		if err := checkVarName(v.Name); err != nil {
			return dst[:start], err
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, v.Name...)
		dst = append(dst, '=')
		for j := 0; j < len(v.Value); j++ {
			c := v.Value[j]
			switch {
			case c < 0x20 || c > 0x7e || c == '$':
				return dst[:start], fmt.Errorf("agi MSet: value of %s contains %q: %w", v.Name, c, ErrBadArgument)
			case c == '\\' || c == ',' || c == '"' || c == '(' || c == ')' || c == '[' || c == ']':
				dst = append(dst, '\\')
			}
			dst = append(dst, c)
		}
	}
	return dst, nil
}

// checkVarName accepts the channel variable names SetVariables writes.
func checkVarName(name string) error {
	if name == "" {
		return fmt.Errorf("agi MSet: empty variable name: %w", ErrBadArgument)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return fmt.Errorf("agi MSet: variable name %q: want letters, digits and _: %w", clip(name), ErrBadArgument)
		}
	}
	return nil
}

// SetVariables sets every variable in vars, in order, with one command:
// EXEC MSet "N1=v1,N2=v2,…" (an empty value sets the variable to ""). EXEC
// is allowed on a dead channel, so it works after the caller hung up.
//
// When Asterisk answers result -2 (the MSet application is not loaded) the
// variables are set one SET VARIABLE each instead, and the session's
// server remembers that for this peer: its later sessions go straight to
// SET VARIABLE, and the fallback is logged once per peer.
//
// Outcomes: nil when every variable was set; an error wrapping
// ErrBadArgument, before anything was written, when a name or value cannot
// be carried (see appendMSetData); otherwise the errors of the command
// methods.
func (s *Session) SetVariables(ctx context.Context, vars []Variable) error {
	bp := wbufPool.Get().(*[]byte)
	data, err := appendMSetData((*bp)[:0], vars)
	defer func() { *bp = data[:0]; wbufPool.Put(bp) }()
	if err != nil {
		return err
	}
	if !s.peer.noMSet() {
		n, _, err := s.result(ctx, "EXEC", execQuirk, tok("MSet"), text(string(data)))
		switch {
		case err != nil:
			return fmt.Errorf("agi EXEC MSet: %w", err)
		case n != -2:
			return nil
		}
		s.peer.markNoMSet()
	}
	for _, v := range vars {
		if err := s.SetVariable(ctx, v.Name, v.Value); err != nil {
			return err
		}
	}
	return nil
}

// peerMemory is what a Server remembers about one Asterisk peer between
// sessions.
type peerMemory struct {
	addr   string
	mu     sync.Mutex
	noMS   bool
	logger *slog.Logger
}

func (p *peerMemory) noMSet() bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.noMS
}

func (p *peerMemory) markNoMSet() {
	if p == nil {
		return
	}
	p.mu.Lock()
	first := !p.noMS
	p.noMS = true
	p.mu.Unlock()
	if first && p.logger != nil {
		p.logger.Warn("agi: Asterisk has no MSet application (EXEC MSet answered result=-2); routing variables are set one SET VARIABLE each for this peer",
			"peer", p.addr)
	}
}

// peers remembers peerMemory by peer IP, bounded.
type peers struct {
	mu sync.Mutex
	m  map[netip.Addr]*peerMemory
}

const maxPeers = 1024

// get returns the memory of the peer at ip; remote (called only when the
// entry is new) names it in the log.
func (ps *peers) get(ip netip.Addr, remote func() net.Addr, logger *slog.Logger) *peerMemory {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if p, ok := ps.m[ip]; ok {
		return p
	}
	if ps.m == nil {
		ps.m = make(map[netip.Addr]*peerMemory)
	}
	if len(ps.m) >= maxPeers {
		clear(ps.m) // forgets who lacked MSet: one more fallback each
	}
	name := ip.String()
	if !ip.IsValid() {
		name = remote().String()
	}
	p := &peerMemory{addr: name, logger: logger}
	ps.m[ip] = p
	return p
}
