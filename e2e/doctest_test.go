package e2e

// The machinery that runs the commands of README.md and docs/*.md.
//
// A fenced block is tested according to the HTML comment on the line
// before it:
//
//	<!-- test: run -->       sh: run with bash in the document's shell
//	                         session (one bash for the whole document, in
//	                         document order, so a server started in one
//	                         block serves the next); every command must
//	                         succeed (set -e).
//	                         console: each "$ " line is a command run the
//	                         same way; the lines after it, up to the next
//	                         "$ ", are its output (stdout and stderr).
//	                         "…" in an output line matches any text, a line
//	                         of "…" alone any number of lines.
//	<!-- test: pbx -->       sh: needs a PBX, root or systemd (asterisk -rx,
//	                         fwconsole, systemctl, make install): checked
//	                         with bash -n, and every callscreen command,
//	                         make target and flag it names must exist.
//	<!-- test: help -->      sh: commands that run for minutes (the
//	                         benchmarks): checked as pbx blocks are.
//	<!-- test: config -->    yaml: must load (callscreen serve --check-config),
//	                         with the files its *_file keys name created.
//	<!-- test: dialplan -->  Asterisk dialplan: every line must parse; lines
//	                         of a context the shipped includes define must
//	                         appear in it (dialplan/callscreen.conf,
//	                         dialplan/callscreen-ari.conf).
//	<!-- test: promql -->    every metric and label it names must exist.
//
// A sh or console block without a marker is an error: every command in
// the documents is run or checked. In run blocks the documents' fixed
// addresses are replaced by free ports (127.0.0.1:4573 and :4574 FastAGI,
// :8089 and :8090 admin, :6379 a redis-server the test starts), and
// CALLSCREEN_AGI_LISTEN and CALLSCREEN_ADMIN_LISTEN point at the first
// two. The call path's Redis timeouts and budget are raised to seconds
// (callPathSeconds), so that a busy machine does not make a documented
// call fail open. `callscreen` on the PATH and `make build` (bin/callscreen) are the
// binary TestMain built from this tree.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/callscreen/callscreen/internal/redistest"
)

// docBlock is one fenced block of a document.
type docBlock struct {
	file   string // path relative to the repository root
	line   int    // line of the opening fence, 1-based
	lang   string // info string: sh, console, yaml, ...
	marker string // run, pbx, help, config, dialplan, promql, or ""
	text   string // the block's lines, each ending in "\n"
	indent string // the indent of a block in a list item, dropped from its lines
}

func (b docBlock) where() string { return fmt.Sprintf("%s:%d", b.file, b.line) }

var markerRE = regexp.MustCompile(`^<!--\s*test:\s*([a-z]+)\s*-->$`)

// repoRoot is the repository, seen from e2e/.
const repoRoot = ".."

// readBlocks returns the fenced blocks of a Markdown file.
func readBlocks(t *testing.T, rel string) []docBlock {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, rel))
	if err != nil {
		t.Fatal(err)
	}
	var (
		out     []docBlock
		cur     *docBlock
		fence   string
		prev    string // last non-blank line outside a block
		lineNum int
	)
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lineNum++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if cur != nil {
			if strings.HasPrefix(trimmed, fence) && strings.Trim(trimmed, "`~") == "" {
				out = append(out, *cur)
				cur = nil
				prev = ""
				continue
			}
			// Blocks indented in a list item: drop the item's indent.
			cur.text += strings.TrimPrefix(line, cur.indent) + "\n"
			continue
		}
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			fence = trimmed[:3]
			blk := docBlock{file: rel, line: lineNum, lang: strings.TrimSpace(trimmed[3:])}
			if m := markerRE.FindStringSubmatch(prev); m != nil {
				blk.marker = m[1]
			}
			blk.indent = line[:len(line)-len(strings.TrimLeft(line, " "))]
			cur = &blk
			continue
		}
		if trimmed != "" {
			prev = trimmed
		}
	}
	if cur != nil {
		t.Fatalf("%s: block not closed", cur.where())
	}
	return out
}

// checkMarkers fails for a command block without a marker and for a marker
// on a block of the wrong kind.
func checkMarkers(t *testing.T, blocks []docBlock) {
	t.Helper()
	kinds := map[string][]string{
		"run": {"sh", "console"}, "pbx": {"sh"}, "help": {"sh"},
		"config": {"yaml"}, "dialplan": {"asterisk", "ini", ""}, "promql": {"promql"},
	}
	for _, b := range blocks {
		if b.marker == "" {
			if b.lang == "sh" || b.lang == "console" || b.lang == "bash" {
				t.Errorf("%s: %s block without a <!-- test: ... --> marker", b.where(), b.lang)
			}
			continue
		}
		langs, ok := kinds[b.marker]
		if !ok {
			t.Errorf("%s: unknown marker %q", b.where(), b.marker)
			continue
		}
		if !slices.Contains(langs, b.lang) {
			t.Errorf("%s: a %q block cannot be marked %q (want %v)", b.where(), b.lang, b.marker, langs)
		}
	}
}

// --- run blocks -------------------------------------------------------

// docPorts are the documents' fixed addresses, replaced in run blocks.
var docPorts = []string{"4573", "4574", "8089", "8090", "6379"}

// freeAddr returns a loopback address nobody listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// step is one unit of a shell session: a whole sh block, or one command
// of a console block with its expected output.
type step struct {
	block   docBlock
	command string
	want    []string // console: expected output lines
	console bool
}

// sessionSteps turns the run blocks into steps.
func sessionSteps(blocks []docBlock) []step {
	var steps []step
	for _, b := range blocks {
		if b.marker != "run" {
			continue
		}
		if b.lang == "sh" {
			steps = append(steps, step{block: b, command: b.text})
			continue
		}
		var cur *step
		for _, l := range strings.Split(strings.TrimSuffix(b.text, "\n"), "\n") {
			if cmd, ok := strings.CutPrefix(l, "$ "); ok {
				if cur != nil {
					steps = append(steps, *cur)
				}
				cur = &step{block: b, command: cmd + "\n", console: true}
				continue
			}
			if cur == nil {
				// Text before the first command: not allowed.
				cur = &step{block: b, command: "echo 'console block must start with \"$ \"'; false\n", console: true}
			}
			cur.want = append(cur.want, l)
		}
		if cur != nil {
			steps = append(steps, *cur)
		}
	}
	return steps
}

// runSession runs the run blocks of one document in one bash, in a fresh
// directory, and checks every step.
func runSession(t *testing.T, blocks []docBlock) {
	t.Helper()
	steps := sessionSteps(blocks)
	if len(steps) == 0 {
		return
	}
	dir := t.TempDir()
	for _, d := range []string{"out", "tmp", "pathbin"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(bin, filepath.Join(dir, "pathbin", "callscreen")); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}

	// The fixed addresses, mapped onto free ports.
	var pairs []string
	addrs := map[string]string{}
	all := ""
	for _, s := range steps {
		all += s.command + strings.Join(s.want, "\n")
	}
	for _, port := range docPorts {
		var to string
		if port == "6379" {
			if !strings.Contains(all, "127.0.0.1:6379") {
				continue
			}
			to = redistest.Start(t).Addr()
		} else {
			to = freeAddr(t)
		}
		addrs[port] = to
		pairs = append(pairs, "127.0.0.1:"+port, to, "localhost:"+port, to)
	}
	subst := strings.NewReplacer(pairs...)

	var script strings.Builder
	script.WriteString(`trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT
make() {
  if [ "$*" = build ]; then mkdir -p bin && ln -sf "$CALLSCREEN_TEST_BIN" bin/callscreen; return; fi
  echo "make $*: only 'make build' runs in the documentation tests" >&2; return 1
}
`)
	out := filepath.Join(dir, "out")
	for i, s := range steps {
		cmd := subst.Replace(s.command)
		if s.console {
			fmt.Fprintf(&script, "{\n%s} >%q 2>&1; echo $? >%q\n", cmd, filepath.Join(out, fmt.Sprint(i)), filepath.Join(out, fmt.Sprint(i)+".rc"))
		} else {
			fmt.Fprintf(&script, "{\nset -e\n%sset +e\n} >%q 2>&1; echo $? >%q\n", cmd, filepath.Join(out, fmt.Sprint(i)), filepath.Join(out, fmt.Sprint(i)+".rc"))
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "session.sh"), []byte(script.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(dir, "session.sh"))
	cmd.Dir = work
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.Env = append(append(cleanEnv(),
		"PATH="+filepath.Join(dir, "pathbin")+string(os.PathListSeparator)+os.Getenv("PATH"),
		"TMPDIR="+filepath.Join(dir, "tmp"),
		"CALLSCREEN_TEST_BIN="+bin,
		"CALLSCREEN_AGI_LISTEN="+addrs["4573"],
		"CALLSCREEN_ADMIN_LISTEN="+addrs["8089"],
	), callPathSeconds...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	runErr := cmd.Run()
	// Whatever the session left behind in its process group.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)

	for i, s := range steps {
		got, errOut := os.ReadFile(filepath.Join(out, fmt.Sprint(i)))
		rc, errRC := os.ReadFile(filepath.Join(out, fmt.Sprint(i)+".rc"))
		if errOut != nil || errRC != nil {
			t.Fatalf("%s: the session stopped at this step (%v):\n%s\noutput:\n%s\nsession: %s",
				s.block.where(), runErr, strings.TrimSpace(s.command), got, stderr.String())
		}
		if !s.console {
			if strings.TrimSpace(string(rc)) != "0" {
				t.Fatalf("%s: exit %s:\n%s\noutput:\n%s", s.block.where(), strings.TrimSpace(string(rc)), s.command, got)
			}
			continue
		}
		want := make([]string, len(s.want))
		for j, w := range s.want {
			want[j] = subst.Replace(w)
		}
		if !matchOutput(want, splitLines(string(got))) {
			t.Errorf("%s: $ %s\ngot:\n%s\nwant:\n%s", s.block.where(), strings.TrimSpace(s.command), got, strings.Join(want, "\n"))
		}
	}
	if ctx.Err() != nil {
		t.Fatalf("the session ran out of time: %s", stderr.String())
	}
}

func splitLines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return lines
}

// matchOutput matches got against want: line by line, "…" inside a line
// matching any text and a line of "…" alone any number of lines.
func matchOutput(want, got []string) bool {
	if len(want) == 0 {
		return len(got) == 0
	}
	if strings.TrimSpace(want[0]) == "…" {
		for i := 0; i <= len(got); i++ {
			if matchOutput(want[1:], got[i:]) {
				return true
			}
		}
		return false
	}
	if len(got) == 0 || !matchLine(strings.TrimRight(want[0], " \t"), got[0]) {
		return false
	}
	return matchOutput(want[1:], got[1:])
}

func matchLine(pattern, s string) bool {
	parts := strings.Split(pattern, "…")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for i, p := range parts[1:] {
		if i == len(parts)-2 {
			return strings.HasSuffix(s, p)
		}
		j := strings.Index(s, p)
		if j < 0 {
			return false
		}
		s = s[j+len(p):]
	}
	return true
}

// --- pbx and help blocks ----------------------------------------------

// commandFlags returns the subcommands of a binary's usage and, lazily,
// the flags each accepts (from `BIN SUB -h`).
type commandFlags struct {
	bin   string
	mu    sync.Mutex
	flags map[string]map[string]bool
}

var subcommandRE = regexp.MustCompile(`^[a-z][a-z-]*$`)

var flagRE = regexp.MustCompile(`(?m)^\s+-([a-zA-Z0-9][a-zA-Z0-9-]*)`)

func (c *commandFlags) of(t *testing.T, sub string) (map[string]bool, bool) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.flags == nil {
		c.flags = map[string]map[string]bool{}
	}
	if f, ok := c.flags[sub]; ok {
		return f, f != nil
	}
	out, _ := exec.Command(c.bin, append(strings.Fields(sub), "-h")...).CombinedOutput()
	s := string(out)
	if strings.Contains(s, "unknown command") || strings.Contains(s, "unknown test") || strings.Contains(s, "unknown bench") {
		c.flags[sub] = nil
		return nil, false
	}
	f := map[string]bool{"h": true, "help": true}
	for _, m := range flagRE.FindAllStringSubmatch(s, -1) {
		f[m[1]] = true
	}
	c.flags[sub] = f
	return f, true
}

var (
	benchOnce sync.Once
	benchBin  string
	benchErr  error
)

// callscreenBench builds cmd/callscreen-bench once.
func callscreenBench(t *testing.T) string {
	t.Helper()
	benchOnce.Do(func() {
		benchBin = filepath.Join(filepath.Dir(bin), "callscreen-bench")
		out, err := exec.Command("go", "build", "-o", benchBin, "../cmd/callscreen-bench").CombinedOutput()
		if err != nil {
			benchErr = fmt.Errorf("building callscreen-bench: %v\n%s", err, out)
		}
	})
	if benchErr != nil {
		t.Fatal(benchErr)
	}
	return benchBin
}

var (
	csFlags    = &commandFlags{}
	benchFlags = &commandFlags{}
)

// shellCommands splits a shell block into simple commands: continuation
// lines joined, comments dropped, split at ;, &&, ||, | and &.
func shellCommands(text string) [][]string {
	text = strings.ReplaceAll(text, "\\\n", " ")
	var cmds [][]string
	for _, line := range strings.Split(text, "\n") {
		words := shellWords(line)
		var cur []string
		for _, w := range words {
			switch w {
			case ";", "&&", "||", "|", "&":
				if len(cur) > 0 {
					cmds = append(cmds, cur)
				}
				cur = nil
				continue
			}
			cur = append(cur, w)
		}
		if len(cur) > 0 {
			cmds = append(cmds, cur)
		}
	}
	return cmds
}

// shellWords splits a line into words and operators, honouring quotes and
// dropping a comment.
func shellWords(line string) []string {
	var (
		words  []string
		cur    strings.Builder
		inWord bool
		quote  rune
	)
	flush := func() {
		if inWord {
			words = append(words, cur.String())
		}
		cur.Reset()
		inWord = false
	}
	rs := []rune(line)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote = r
			inWord = true
		case r == '#' && !inWord:
			flush()
			return words
		case r == ' ' || r == '\t':
			flush()
		case r == ';' || r == '|' || r == '&':
			flush()
			op := string(r)
			if i+1 < len(rs) && (rs[i+1] == '&' || rs[i+1] == '|') && r != ';' {
				op += string(rs[i+1])
				i++
			}
			words = append(words, op)
		case r == '(' || r == ')':
			flush()
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	flush()
	return words
}

// checkCommandNames checks, for every callscreen, callscreen-bench and
// make command of a shell block, that the subcommand or target and the
// flags exist.
func checkCommandNames(t *testing.T, b docBlock) {
	t.Helper()
	if csFlags.bin == "" {
		csFlags.bin = bin
	}
	for _, words := range shellCommands(b.text) {
		// Skip leading VAR=value assignments, sudo and env.
		for len(words) > 0 && (strings.Contains(words[0], "=") && !strings.HasPrefix(words[0], "-") || words[0] == "sudo" || words[0] == "env") {
			words = words[1:]
		}
		if len(words) == 0 {
			continue
		}
		name := filepath.Base(words[0])
		switch {
		case name == "callscreen" || strings.HasPrefix(words[0], "$") && strings.HasSuffix(words[0], "/callscreen"):
			checkFlags(t, b, csFlags, "callscreen", words[1:])
		case name == "go" && len(words) > 2 && words[1] == "run" && strings.HasSuffix(words[2], "cmd/callscreen-bench"):
			benchFlags.bin = callscreenBench(t)
			checkFlags(t, b, benchFlags, "callscreen-bench", words[3:])
		case name == "go" && len(words) > 2 && words[1] == "run" && strings.HasSuffix(words[2], "cmd/callscreen"):
			checkFlags(t, b, csFlags, "callscreen", words[3:])
		case name == "make":
			checkMakeTargets(t, b, words[1:])
		}
	}
}

func checkFlags(t *testing.T, b docBlock, c *commandFlags, prog string, args []string) {
	t.Helper()
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return
	}
	sub := args[0]
	if prog == "callscreen-bench" && sub == "list" {
		return
	}
	flags, ok := c.of(t, sub)
	if !ok {
		t.Errorf("%s: %s has no command %q", b.where(), prog, sub)
		return
	}
	// A command with subcommands (lists add, log verify) lists some
	// flags under the subcommand's -h only.
	if len(args) > 1 && subcommandRE.MatchString(args[1]) {
		if more, ok := c.of(t, sub+" "+args[1]); ok {
			all := map[string]bool{}
			for f := range flags {
				all[f] = true
			}
			for f := range more {
				all[f] = true
			}
			flags = all
		}
	}
	for _, a := range args[1:] {
		if !strings.HasPrefix(a, "-") || a == "-" || a == "--" {
			continue
		}
		name := strings.TrimLeft(a, "-")
		name, _, _ = strings.Cut(name, "=")
		if !flags[name] {
			t.Errorf("%s: %s %s has no flag %s", b.where(), prog, sub, a)
		}
	}
}

func checkMakeTargets(t *testing.T, b docBlock, args []string) {
	t.Helper()
	var targets, vars []string
	for _, a := range args {
		switch {
		case strings.Contains(a, "="):
			vars = append(vars, a)
		case strings.HasPrefix(a, "-"):
		default:
			targets = append(targets, a)
		}
	}
	for _, tg := range targets {
		cmd := exec.Command("make", append([]string{"-n", "-C", repoRoot, tg}, vars...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: make %s: %v\n%s", b.where(), tg, err, out)
		}
	}
}

// checkSyntax runs bash -n on a shell block.
func checkSyntax(t *testing.T, b docBlock) {
	t.Helper()
	cmd := exec.Command("bash", "-n")
	cmd.Stdin = strings.NewReader(b.text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("%s: bash -n: %v\n%s", b.where(), err, out)
	}
}

// --- config blocks ----------------------------------------------------

var fileKeyRE = regexp.MustCompile(`(?m)^\s*-?\s*[a-z_]*_file:\s*"?([^"#\s]+)"?`)

// checkConfig loads a YAML block as a configuration file.
func checkConfig(t *testing.T, b docBlock) {
	t.Helper()
	dir := t.TempDir()
	body := b.text
	// Absolute paths of the examples, moved under dir.
	for _, p := range []string{"/etc/callscreen/", "/var/lib/callscreen", "/run/secrets/", "/run/callscreen/"} {
		body = strings.ReplaceAll(body, p, filepath.Join(dir, p)+strings.Repeat("/", strings.Count(p[len(p)-1:], "/")))
	}
	for _, m := range fileKeyRE.FindAllStringSubmatch(body, -1) {
		p := m[1]
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(p); err != nil {
			if err := os.WriteFile(p, []byte("not-a-real-secret-0123456789\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	// List files hold entries, not a secret: empty is a valid list.
	for _, m := range regexp.MustCompile(`(?m)^\s*(?:allow|block)_file:\s*"?([^"#\s]+)"?`).FindAllStringSubmatch(body, -1) {
		p := m[1]
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		_ = os.WriteFile(p, nil, 0o644)
	}
	cfg := filepath.Join(dir, "callscreen.yaml")
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := callscreen(t, dir, "serve", "--check-config", "--config", cfg)
	if code != 0 {
		t.Errorf("%s: the configuration does not load: %s%s\n%s", b.where(), out, errOut, b.text)
	}
}

// --- dialplan blocks --------------------------------------------------

var (
	dialplanLineRE = regexp.MustCompile(`^(exten\s*=>\s*[^,]+,\s*(\d+|n|hint)(\([a-z0-9_-]+\))?|same\s*=>\s*(\d+|n)(\([a-z0-9_-]+\))?),\s*([A-Za-z]+)\((.*)\)$`)
	contextRE      = regexp.MustCompile(`^\[([A-Za-z0-9_-]+)\]$`)
	globalRE       = regexp.MustCompile(`^[A-Z][A-Z0-9_]*=\S*$`)
	includeRE      = regexp.MustCompile(`^#include\s+(\S+)$`)
	gosubRE        = regexp.MustCompile(`Gosub\(([A-Za-z0-9_-]+),`)
	dialplanVarRE  = regexp.MustCompile(`CALLSCREEN_[A-Z_]+`)
)

// dialplanApps are the applications the documents may use.
var dialplanApps = []string{
	"AGI", "Answer", "Dial", "ExecIf", "Gosub", "GosubIf", "Goto", "GotoIf", "Hangup",
	"NoOp", "Playback", "Queue", "Return", "Set", "Stasis", "VoiceMail", "Verbose", "Log",
}

type shippedDialplan struct {
	contexts map[string][]string // normalised lines per context
	vars     map[string]bool     // CALLSCREEN_* names the includes mention
}

func normDialplan(l string) string {
	if i := strings.Index(l, ";"); i >= 0 {
		l = l[:i]
	}
	return strings.Join(strings.Fields(l), " ")
}

func loadShippedDialplan(t *testing.T) *shippedDialplan {
	t.Helper()
	d := &shippedDialplan{contexts: map[string][]string{}, vars: map[string]bool{}}
	for _, f := range []string{"dialplan/callscreen.conf", "dialplan/callscreen-ari.conf"} {
		b, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range dialplanVarRE.FindAllString(string(b), -1) {
			d.vars[v] = true
		}
		ctx := ""
		for _, l := range strings.Split(string(b), "\n") {
			n := normDialplan(l)
			if m := contextRE.FindStringSubmatch(n); m != nil {
				ctx = m[1]
				continue
			}
			if n != "" && ctx != "" {
				d.contexts[ctx] = append(d.contexts[ctx], n)
			}
		}
	}
	return d
}

// checkDialplan parses a dialplan block and compares it with the shipped
// includes.
func checkDialplan(t *testing.T, b docBlock, shipped *shippedDialplan) {
	t.Helper()
	defined := map[string]bool{}
	ctx := ""
	for i, raw := range strings.Split(strings.TrimSuffix(b.text, "\n"), "\n") {
		where := fmt.Sprintf("%s:%d", b.file, b.line+1+i)
		l := normDialplan(raw)
		if l == "" || l == "..." || l == "…" {
			continue
		}
		if m := contextRE.FindStringSubmatch(l); m != nil {
			ctx = m[1]
			defined[ctx] = true
			continue
		}
		if m := includeRE.FindStringSubmatch(l); m != nil {
			if !slices.Contains([]string{"callscreen.conf", "callscreen-ari.conf"}, m[1]) {
				t.Errorf("%s: #include of %q, not a shipped include", where, m[1])
			}
			continue
		}
		if globalRE.MatchString(l) && (ctx == "" || ctx == "globals") {
			name, _, _ := strings.Cut(l, "=")
			if strings.HasPrefix(name, "CALLSCREEN_") && !shipped.vars[name] {
				t.Errorf("%s: %s is not a variable the includes read", where, name)
			}
			continue
		}
		m := dialplanLineRE.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("%s: not a dialplan line: %q", where, raw)
			continue
		}
		app, args := m[6], m[7]
		if !slices.Contains(dialplanApps, app) {
			t.Errorf("%s: unknown application %s", where, app)
		}
		if strings.Count(args, "(") != strings.Count(args, ")") || strings.Count(args, "{") != strings.Count(args, "}") ||
			strings.Count(args, "[") != strings.Count(args, "]") {
			t.Errorf("%s: unbalanced brackets: %q", where, raw)
		}
		for _, g := range gosubRE.FindAllStringSubmatch(l, -1) {
			if _, ok := shipped.contexts[g[1]]; !ok && !defined[g[1]] {
				t.Errorf("%s: Gosub to %s, which neither the includes nor this block define", where, g[1])
			}
		}
		for _, v := range dialplanVarRE.FindAllString(l, -1) {
			if !shipped.vars[v] {
				t.Errorf("%s: %s is not a variable the includes set or read", where, v)
			}
		}
		if lines, ok := shipped.contexts[ctx]; ok && !slices.Contains(lines, l) {
			t.Errorf("%s: [%s] is defined by the shipped include, which has no line %q", where, ctx, l)
		}
	}
}

// --- metrics, reasons, API paths ----------------------------------------

// knownMetrics reads the metric names and label names the packages'
// metrics.go files declare.
func knownMetrics(t *testing.T) (names, labels map[string]bool) {
	t.Helper()
	names, labels = map[string]bool{}, map[string]bool{"le": true, "quantile": true, "job": true, "instance": true}
	nameRE := regexp.MustCompile(`"(callscreen_[a-z0-9_]+)"`)
	labelsRE := regexp.MustCompile(`\[\]string\{([^}]*)\}`)
	err := filepath.WalkDir(repoRoot, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || d.Name() != "metrics.go" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range nameRE.FindAllStringSubmatch(string(b), -1) {
			names[m[1]] = true
		}
		for _, m := range labelsRE.FindAllStringSubmatch(string(b), -1) {
			for _, l := range strings.Split(m[1], ",") {
				if l = strings.Trim(strings.TrimSpace(l), `"`); l != "" {
					labels[l] = true
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names, labels
}

var metricNameRE = regexp.MustCompile(`\bcallscreen_[a-z0-9_]+`)

// metricKnown reports whether name, or name without a histogram suffix,
// is declared.
func metricKnown(names map[string]bool, name string) bool {
	if names[name] {
		return true
	}
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suf); ok && names[base] {
			return true
		}
	}
	return false
}

// checkPromQL checks the metric and label names of a PromQL block.
func checkPromQL(t *testing.T, b docBlock, names, labels map[string]bool) {
	t.Helper()
	for _, n := range metricNameRE.FindAllString(b.text, -1) {
		if !metricKnown(names, n) {
			t.Errorf("%s: no metric %s", b.where(), n)
		}
	}
	labelRE := regexp.MustCompile(`([a-z_]+)\s*(=~|!=|!~|=)\s*"`)
	byRE := regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
	for _, m := range labelRE.FindAllStringSubmatch(b.text, -1) {
		if !labels[m[1]] {
			t.Errorf("%s: no metric has a label %q", b.where(), m[1])
		}
	}
	for _, m := range byRE.FindAllStringSubmatch(b.text, -1) {
		for _, l := range strings.Split(m[1], ",") {
			if l = strings.TrimSpace(l); l != "" && !labels[l] {
				t.Errorf("%s: no metric has a label %q", b.where(), l)
			}
		}
	}
}

// reasonCodes reads the codes from docs/reasons.md (generated from
// policy/reasons.go).
func reasonCodes(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "docs/reasons.md"))
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_]+\\.[a-z_]+)` \\|").FindAllStringSubmatch(string(b), -1) {
		codes[m[1]] = true
	}
	if len(codes) < 20 {
		t.Fatalf("only %d reason codes read from docs/reasons.md", len(codes))
	}
	return codes
}

// configKeys reads the keys documented in docs/configuration.md (the
// config package's test keeps it complete).
func configKeys(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "docs/configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// apiRoutes reads the admin API's routes from the admin package's files.
func apiRoutes(t *testing.T) []*regexp.Regexp {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, "admin", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, src...)
	}
	var out []*regexp.Regexp
	for _, m := range regexp.MustCompile(`"(?:GET|POST|DELETE|PUT) (/[^" ]*)"`).FindAllStringSubmatch(string(b), -1) {
		p := regexp.QuoteMeta(strings.TrimSuffix(m[1], "{$}"))
		p = regexp.MustCompile(`\\\{[a-z]+\\\}`).ReplaceAllString(p, `[a-z0-9_-]+`)
		out = append(out, regexp.MustCompile("^"+p+"$"))
	}
	if len(out) < 10 {
		t.Fatalf("only %d routes read from admin/*.go", len(out))
	}
	return out
}

var (
	fileExtRE     = regexp.MustCompile(`\.(db|md|conf|jsonl|json|csv|yaml|txt|pub|key|log|pem|go)$`)
	reasonTokenRE = regexp.MustCompile("`((?:caller|list|feed|provider|velocity|emergency|loop|mode|internal|challenge)\\.[a-z_]+)`")
	apiPathRE     = regexp.MustCompile(`/api/v1/[a-z0-9_./{}-]*[a-z0-9_}]|/(?:readyz|healthz|metrics)\b`)
)

// checkNames checks the metric names, reason codes and admin API paths a
// document mentions anywhere.
func checkNames(t *testing.T, rel string, names map[string]bool, codes map[string]bool, conf string, routes []*regexp.Regexp) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, rel))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	seen := map[string]bool{}
	for _, n := range metricNameRE.FindAllString(text, -1) {
		if !seen[n] && !metricKnown(names, n) {
			t.Errorf("%s: no metric %s", rel, n)
		}
		seen[n] = true
	}
	for _, m := range reasonTokenRE.FindAllStringSubmatch(text, -1) {
		c := m[1]
		if seen[c] || fileExtRE.MatchString(c) {
			continue
		}
		seen[c] = true
		if !codes[c] && !strings.Contains(conf, "`"+c+"`") && !strings.Contains(conf, "."+c+"`") {
			t.Errorf("%s: `%s` is neither a reason code (docs/reasons.md) nor a configuration key", rel, c)
		}
	}
	for _, p := range apiPathRE.FindAllString(text, -1) {
		p, _, _ = strings.Cut(p, "?")
		if seen[p] {
			continue
		}
		seen[p] = true
		if !slices.ContainsFunc(routes, func(r *regexp.Regexp) bool { return r.MatchString(p) }) {
			t.Errorf("%s: the admin API has no path %s", rel, p)
		}
	}
}

// checkLinks checks that relative links of a document point at files.
func checkLinks(t *testing.T, rel string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, rel))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`\]\(([^)#\s]+)(#[^)]*)?\)`).FindAllStringSubmatch(string(b), -1) {
		target := m[1]
		if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
			continue
		}
		p := filepath.Join(repoRoot, filepath.Dir(rel), target)
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: broken link %s", rel, target)
		}
	}
}

// testDocument runs every check on one document.
func testDocument(t *testing.T, rel string) {
	blocks := readBlocks(t, rel)
	checkMarkers(t, blocks)
	checkLinks(t, rel)
	names, labels := knownMetrics(t)
	checkNames(t, rel, names, reasonCodes(t), configKeys(t), apiRoutes(t))
	var shipped *shippedDialplan
	for _, b := range blocks {
		switch b.marker {
		case "pbx", "help":
			checkSyntax(t, b)
			checkCommandNames(t, b)
		case "run":
			if b.lang == "sh" {
				checkSyntax(t, b)
				checkCommandNames(t, b)
				continue
			}
			cmds := b
			cmds.text = ""
			for _, l := range strings.Split(b.text, "\n") {
				if c, ok := strings.CutPrefix(l, "$ "); ok {
					cmds.text += c + "\n"
				}
			}
			checkCommandNames(t, cmds)
		case "config":
			checkConfig(t, b)
		case "dialplan":
			if shipped == nil {
				shipped = loadShippedDialplan(t)
			}
			checkDialplan(t, b, shipped)
		case "promql":
			checkPromQL(t, b, names, labels)
		}
	}
	if t.Failed() {
		return
	}
	runSession(t, blocks)
}

// docFiles lists the documents under docs/ (generated ones excluded).
func docFiles(t *testing.T) []string {
	t.Helper()
	ms, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		rel, _ := filepath.Rel(repoRoot, m)
		out = append(out, filepath.ToSlash(rel))
	}
	sort.Strings(out)
	return out
}
