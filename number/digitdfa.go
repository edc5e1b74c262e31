package number

import (
	"encoding/binary"
	"errors"
	"fmt"
	"regexp/syntax"
	"slices"
)

// digitDFA tells whether regexp.MatchString of one of its expressions
// holds for a string of exactly n ASCII digits, in n table steps. It is
// built from the expressions' compiled programs (regexp/syntax, the parser
// and compiler package regexp uses), so it accepts exactly the strings
// regexp accepts: a layered subset construction over the alphabet 0–9,
// searching for a match from every position as MatchString does, with the
// empty-width assertions (^, $, \b, \B) evaluated at the position they
// stand in.
type digitDFA struct {
	n int
	// next[s][d] is the state after digit d in state s; dead (-1) after
	// the last digit.
	next [][10]int32
	// accept[s] holds for a state reached after n digits whose string
	// matches, and for good once a match was found.
	accept []bool
}

const (
	dead = -1
	// maxDFAStates bounds an automaton; metadata that needs more is left
	// to the library.
	maxDFAStates = 1 << 16
)

// match reports whether digits (exactly a.n ASCII digits; anything else is
// false) is accepted.
func (a *digitDFA) match(digits string) bool {
	if len(digits) != a.n {
		return false
	}
	s := int32(0)
	for i := 0; i < len(digits); i++ {
		c := digits[i] - '0'
		if c > 9 {
			return false
		}
		if s = a.next[s][c]; s == dead {
			return false
		}
	}
	return a.accept[s]
}

// whole and prefix are the expressions the library builds from a metadata
// pattern: the whole number matches, or a prefix of it (leading digits).
func whole(pattern string) string  { return "^(?:" + pattern + ")$" }
func prefix(pattern string) string { return "^(?:" + pattern + ")" }

// compileDigitDFA builds the automaton for strings of n digits matched by
// any of exprs. It fails on an expression regexp would refuse and when the
// automaton would be too large.
func compileDigitDFA(n int, exprs ...string) (*digitDFA, error) {
	var progs []*syntax.Prog
	for _, expr := range exprs {
		// regexp.Compile: Perl flags, simplified, compiled.
		re, err := syntax.Parse(expr, syntax.Perl)
		if err != nil {
			return nil, fmt.Errorf("expression %q: %w", expr, err)
		}
		prog, err := syntax.Compile(re.Simplify())
		if err != nil {
			return nil, fmt.Errorf("expression %q: %w", expr, err)
		}
		if len(prog.Inst) >= 1<<24 {
			return nil, fmt.Errorf("expression %q: too large", expr)
		}
		progs = append(progs, prog)
	}
	if len(progs) >= 1<<8 {
		return nil, errors.New("too many expressions")
	}
	b := dfaBuilder{progs: progs, n: n, a: &digitDFA{n: n}}
	return b.build()
}

// A thread is one program counter of one program: prog<<24 | pc.
type thread = uint32

type dfaBuilder struct {
	progs []*syntax.Prog
	n     int
	a     *digitDFA
	start []thread
}

// layerState is a state being built: the threads about to read a digit
// (after the empty-width closure at its depth) and whether a match was
// reached there.
type layerState struct {
	id        int32
	consuming []thread
	matched   bool
}

func (b *dfaBuilder) build() (*digitDFA, error) {
	for i, p := range b.progs {
		b.start = append(b.start, thread(i)<<24|thread(p.Start))
	}
	consuming, matched := b.closure(nil, positionContext(0, b.n))
	layer := []layerState{{id: b.newState(), consuming: consuming, matched: matched}}
	sink := int32(dead) // accepting for good: a match was found
	for depth := 0; depth <= b.n; depth++ {
		ids := map[string]int32{}
		var nextLayer []layerState
		for _, s := range layer {
			for d := range 10 {
				b.a.next[s.id][d] = dead
			}
			if s.matched {
				if sink == dead {
					sink = b.newState()
					b.a.accept[sink] = true
					for d := range 10 {
						b.a.next[sink][d] = sink
					}
				}
				b.a.accept[s.id] = true
				for d := range 10 {
					b.a.next[s.id][d] = sink
				}
				continue
			}
			if depth == b.n {
				continue
			}
			cond := positionContext(depth+1, b.n)
			for d := range 10 {
				// No thread left is no dead end: the search starts
				// again at the next position.
				c, m := b.closure(b.step(s.consuming, rune('0'+d)), cond)
				key := setKey(c, m)
				id, ok := ids[key]
				if !ok {
					if len(b.a.next) >= maxDFAStates {
						return nil, errors.New("automaton too large")
					}
					id = b.newState()
					ids[key] = id
					nextLayer = append(nextLayer, layerState{id: id, consuming: c, matched: m})
				}
				b.a.next[s.id][d] = id
			}
		}
		layer = nextLayer
	}
	return b.a, nil
}

func (b *dfaBuilder) newState() int32 {
	b.a.next = append(b.a.next, [10]int32{})
	b.a.accept = append(b.a.accept, false)
	return int32(len(b.a.next) - 1)
}

// positionContext is the empty-width context before the digit at depth in
// a string of n digits (every digit is a word character).
func positionContext(depth, n int) syntax.EmptyOp {
	r1, r2 := rune('0'), rune('0')
	if depth == 0 {
		r1 = -1
	}
	if depth == n {
		r2 = -1
	}
	return syntax.EmptyOpContext(r1, r2)
}

// closure follows the empty transitions from set, and from a new start of
// every program (MatchString searches from every position), under cond,
// as regexp's machines do (regexp/exec.go, add): it returns the threads
// that read a rune, in a canonical order, and whether a match was reached.
func (b *dfaBuilder) closure(set []thread, cond syntax.EmptyOp) (consuming []thread, matched bool) {
	seen := map[thread]bool{}
	stack := append(slices.Clone(set), b.start...)
	for len(stack) > 0 {
		t := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[t] {
			continue
		}
		seen[t] = true
		p := t >> 24
		inst := &b.progs[p].Inst[t&(1<<24-1)]
		switch inst.Op {
		case syntax.InstFail:
		case syntax.InstAlt, syntax.InstAltMatch:
			stack = append(stack, p<<24|inst.Out, p<<24|inst.Arg)
		case syntax.InstEmptyWidth:
			if syntax.EmptyOp(inst.Arg)&^cond == 0 {
				stack = append(stack, p<<24|inst.Out)
			}
		case syntax.InstNop, syntax.InstCapture:
			stack = append(stack, p<<24|inst.Out)
		case syntax.InstMatch:
			matched = true
		default: // the rune instructions
			consuming = append(consuming, t)
		}
	}
	slices.Sort(consuming)
	return consuming, matched
}

// step returns the threads after reading r from the consuming threads
// (regexp/exec.go, step), sorted and without duplicates.
func (b *dfaBuilder) step(consuming []thread, r rune) []thread {
	var out []thread
	for _, t := range consuming {
		p := t >> 24
		inst := &b.progs[p].Inst[t&(1<<24-1)]
		var ok bool
		switch inst.Op {
		case syntax.InstRune:
			ok = inst.MatchRune(r)
		case syntax.InstRune1:
			ok = r == inst.Rune[0]
		case syntax.InstRuneAny:
			ok = true
		case syntax.InstRuneAnyNotNL:
			ok = r != '\n'
		}
		if ok {
			out = append(out, p<<24|inst.Out)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func setKey(set []thread, matched bool) string {
	buf := make([]byte, 0, 4*len(set)+1)
	if matched {
		buf = append(buf, 1)
	} else {
		buf = append(buf, 0)
	}
	for _, t := range set {
		buf = binary.LittleEndian.AppendUint32(buf, t)
	}
	return string(buf)
}
