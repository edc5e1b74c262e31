package number

import (
	"encoding/binary"
	"errors"
	"fmt"
	"regexp/syntax"
	"slices"
)

// digitClassifier reads a string of exactly n ASCII digits in n table
// steps and returns a class computed, when it was built, from which groups
// of regular expressions match the string. A group matches when
// regexp.MatchString of one of its expressions holds.
//
// It is built from the expressions' compiled programs (regexp/syntax, the
// parser and compiler package regexp uses), so it agrees with regexp: a
// layered subset construction over the alphabet 0–9 that, as MatchString
// does, looks for a match starting at every position, with the empty-width
// assertions (^, $, \b, \B) evaluated where they stand.
type digitClassifier struct {
	n int
	// next[s][d] is the state after digit d in state s.
	next [][10]int32
	// class[s] is the class of a state reached after n digits.
	class []int32
}

// maxDFAStates bounds a classifier; metadata that needs more is left to
// the library.
const maxDFAStates = 1 << 17

// classify returns the class of digits; ok is false unless digits is
// exactly n ASCII digits.
func (a *digitClassifier) classify(digits string) (class int32, ok bool) {
	if len(digits) != a.n {
		return 0, false
	}
	s := int32(0)
	for i := 0; i < len(digits); i++ {
		c := digits[i] - '0'
		if c > 9 {
			return 0, false
		}
		s = a.next[s][c]
	}
	return a.class[s], true
}

// whole and prefix are the expressions the library builds from a metadata
// pattern: the whole number matches, or a prefix of it (leading digits).
func whole(pattern string) string  { return "^(?:" + pattern + ")$" }
func prefix(pattern string) string { return "^(?:" + pattern + ")" }

// compileClassifier builds the classifier of strings of n digits: the
// class of a string is classify(m), m[g] telling whether group g matches.
// It fails on an expression regexp would refuse and when the automaton
// would be too large.
func compileClassifier(n int, groups [][]string, classify func(matched []bool) int32) (*digitClassifier, error) {
	b := &dfaBuilder{n: n, groups: len(groups), a: &digitClassifier{n: n}}
	for g, exprs := range groups {
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
			b.add(prog, g)
		}
	}
	if len(b.inst) >= 1<<31 {
		return nil, errors.New("expressions too large")
	}
	if err := b.build(classify); err != nil {
		return nil, err
	}
	return b.a, nil
}

// A thread is a program counter in the programs laid end to end.
type thread = uint32

type dfaBuilder struct {
	n, groups int
	a         *digitClassifier
	// inst are every program's instructions, their Out and Arg moved by
	// the program's offset; group[i] is the group of inst[i].
	inst  []syntax.Inst
	group []int
	start []thread
	// seen marks the threads a closure visited: seen[t] == gen.
	seen []uint32
	gen  uint32
	// starts caches the closure of the programs' starts per context.
	starts map[syntax.EmptyOp]startClosure
}

type startClosure struct {
	consuming []thread
	matched   []uint64
}

func (b *dfaBuilder) add(p *syntax.Prog, g int) {
	off := uint32(len(b.inst))
	for _, in := range p.Inst {
		switch in.Op {
		case syntax.InstAlt, syntax.InstAltMatch:
			in.Out, in.Arg = in.Out+off, in.Arg+off
		case syntax.InstMatch, syntax.InstFail:
		default:
			in.Out += off
		}
		b.inst = append(b.inst, in)
		b.group = append(b.group, g)
	}
	b.start = append(b.start, thread(off)+thread(p.Start))
}

// layerState is a state being built: the threads about to read a digit
// (after the empty-width closure at its depth) and the groups that have
// matched so far.
type layerState struct {
	id        int32
	consuming []thread
	matched   []uint64 // a bit per group
}

func (b *dfaBuilder) build(classify func([]bool) int32) error {
	words := (b.groups + 63) / 64
	consuming, matched := b.closure(nil, make([]uint64, words), positionContext(0, b.n))
	layer := []layerState{{id: b.newState(), consuming: consuming, matched: matched}}
	m := make([]bool, b.groups)
	for depth := 0; depth <= b.n; depth++ {
		ids := map[string]int32{}
		var nextLayer []layerState
		for _, s := range layer {
			if depth == b.n {
				for g := range m {
					m[g] = s.matched[g/64]&(1<<(g%64)) != 0
				}
				b.a.class[s.id] = classify(m)
				continue
			}
			cond := positionContext(depth+1, b.n)
			for d := range 10 {
				// No thread left is no dead end: MatchString starts
				// again at the next position.
				c, mt := b.closure(b.step(s.consuming, rune('0'+d)), slices.Clone(s.matched), cond)
				key := setKey(c, mt)
				id, ok := ids[key]
				if !ok {
					if len(b.a.next) >= maxDFAStates {
						return errors.New("automaton too large")
					}
					id = b.newState()
					ids[key] = id
					nextLayer = append(nextLayer, layerState{id: id, consuming: c, matched: mt})
				}
				b.a.next[s.id][d] = id
			}
		}
		layer = nextLayer
	}
	return nil
}

func (b *dfaBuilder) newState() int32 {
	b.a.next = append(b.a.next, [10]int32{})
	b.a.class = append(b.a.class, 0)
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
// as regexp's machines do (regexp/exec.go, add). It returns the threads
// that read a rune, in a canonical order, and matched with the bits of
// the groups whose match was reached set.
func (b *dfaBuilder) closure(set []thread, matched []uint64, cond syntax.EmptyOp) ([]thread, []uint64) {
	st, ok := b.starts[cond]
	if !ok {
		st.matched = make([]uint64, len(matched))
		st.consuming = b.follow(b.start, st.matched, cond)
		if b.starts == nil {
			b.starts = map[syntax.EmptyOp]startClosure{}
		}
		b.starts[cond] = st
	}
	// The closure of a union is the union of the closures.
	consuming := append(b.follow(set, matched, cond), st.consuming...)
	for i, w := range st.matched {
		matched[i] |= w
	}
	slices.Sort(consuming)
	return slices.Compact(consuming), matched
}

// follow is closure without the new starts, unsorted.
func (b *dfaBuilder) follow(set []thread, matched []uint64, cond syntax.EmptyOp) []thread {
	if b.seen == nil {
		b.seen = make([]uint32, len(b.inst))
	}
	b.gen++
	var consuming []thread
	stack := slices.Clone(set)
	for len(stack) > 0 {
		t := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if b.seen[t] == b.gen {
			continue
		}
		b.seen[t] = b.gen
		inst := &b.inst[t]
		switch inst.Op {
		case syntax.InstFail:
		case syntax.InstAlt, syntax.InstAltMatch:
			stack = append(stack, inst.Out, inst.Arg)
		case syntax.InstEmptyWidth:
			if syntax.EmptyOp(inst.Arg)&^cond == 0 {
				stack = append(stack, inst.Out)
			}
		case syntax.InstNop, syntax.InstCapture:
			stack = append(stack, inst.Out)
		case syntax.InstMatch:
			g := b.group[t]
			matched[g/64] |= 1 << (g % 64)
		default: // the rune instructions
			consuming = append(consuming, t)
		}
	}
	return consuming
}

// step returns the threads after reading r from the consuming threads
// (regexp/exec.go, step), sorted and without duplicates.
func (b *dfaBuilder) step(consuming []thread, r rune) []thread {
	var out []thread
	for _, t := range consuming {
		inst := &b.inst[t]
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
			out = append(out, inst.Out)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// setKey identifies a state of a layer: its threads and matched groups.
func setKey(set []thread, matched []uint64) string {
	buf := make([]byte, 0, 4*len(set)+8*len(matched))
	for _, w := range matched {
		buf = binary.LittleEndian.AppendUint64(buf, w)
	}
	for _, t := range set {
		buf = binary.LittleEndian.AppendUint32(buf, t)
	}
	return string(buf)
}

// anyGroup is the class 1 when some group matched, else 0.
func anyGroup(m []bool) int32 {
	if slices.Contains(m, true) {
		return 1
	}
	return 0
}
