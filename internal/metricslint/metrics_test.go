package metricslint

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
)

// repoRoot is the repository, seen from this package.
const repoRoot = "../.."

const promPath = "github.com/prometheus/client_golang/prometheus"

// constructors are the prometheus constructors of one metric, by kind.
var constructors = map[string]dto.MetricType{
	"NewCounter": dto.MetricType_COUNTER, "NewCounterVec": dto.MetricType_COUNTER, "NewCounterFunc": dto.MetricType_COUNTER,
	"NewGauge": dto.MetricType_GAUGE, "NewGaugeVec": dto.MetricType_GAUGE, "NewGaugeFunc": dto.MetricType_GAUGE,
	"NewHistogram": dto.MetricType_HISTOGRAM, "NewHistogramVec": dto.MetricType_HISTOGRAM,
	"NewSummary": dto.MetricType_SUMMARY, "NewSummaryVec": dto.MetricType_SUMMARY,
	"NewUntypedFunc": dto.MetricType_UNTYPED,
}

// global are package-level prometheus names that register or build
// metrics in the process-wide registry.
var global = []string{"MustRegister", "Register", "DefaultRegisterer", "DefaultGatherer"}

// metric is one metric as its source code defines it.
type metric struct {
	name, help string
	typ        dto.MetricType
	labels     []string
	pkg        string // directory, relative to the repository
	pos        string // file:line
}

// scan parses every Go file under root but tests, testdata and hidden
// directories, and returns the metrics they define and the problems that
// keep a metric from being linted or make it a global.
func scan(root string) ([]metric, []string, error) {
	var out []metric
	var problems []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		ms, ps := scanFile(fset, f, filepath.ToSlash(rel))
		out = append(out, ms...)
		problems = append(problems, ps...)
		return nil
	})
	return out, problems, err
}

// scanFile finds the metrics one file defines.
func scanFile(fset *token.FileSet, f *ast.File, pkg string) ([]metric, []string) {
	prom := ""
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		switch {
		case p == promPath && imp.Name != nil:
			prom = imp.Name.Name
		case p == promPath:
			prom = "prometheus"
		case p == promPath+"/promauto":
			return nil, []string{fmt.Sprintf("%s: imports promauto: metrics go through NewMetrics(reg), never a global registry", fset.Position(imp.Pos()))}
		}
	}
	if prom == "" {
		return nil, nil
	}
	var out []metric
	var problems []string
	for _, decl := range f.Decls {
		fn, inFunc := decl.(*ast.FuncDecl)
		ast.Inspect(decl, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); !ok || x.Name != prom {
				return true
			}
			pos := fset.Position(sel.Pos()).String()
			if slices.Contains(global, sel.Sel.Name) {
				problems = append(problems, fmt.Sprintf("%s: prometheus.%s: metrics go through NewMetrics(reg), never the global registry", pos, sel.Sel.Name))
			}
			return true
		})
		ast.Inspect(decl, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			typ, isMetric := constructors[sel.Sel.Name]
			if x, ok := sel.X.(*ast.Ident); !ok || x.Name != prom || !isMetric {
				return true
			}
			pos := fset.Position(call.Pos()).String()
			if !inFunc || !strings.HasPrefix(fn.Name.Name, "New") || !strings.HasSuffix(fn.Name.Name, "Metrics") {
				problems = append(problems, fmt.Sprintf("%s: prometheus.%s outside a NewMetrics function: a global, or a metric no test sees", pos, sel.Sel.Name))
			}
			m, err := readMetric(call, typ)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", pos, err))
				return true
			}
			m.pkg, m.pos = pkg, pos
			out = append(out, m)
			return true
		})
	}
	return out, problems
}

// readMetric reads the options literal (and the label names of a vector)
// of a constructor call.
func readMetric(call *ast.CallExpr, typ dto.MetricType) (metric, error) {
	m := metric{typ: typ}
	if len(call.Args) == 0 {
		return m, fmt.Errorf("no options")
	}
	opts, ok := call.Args[0].(*ast.CompositeLit)
	if !ok {
		return m, fmt.Errorf("options are not a literal: the name cannot be checked")
	}
	var ns, sub string
	for _, e := range opts.Elts {
		kv, ok := e.(*ast.KeyValueExpr)
		if !ok {
			return m, fmt.Errorf("options without field names")
		}
		key, _ := kv.Key.(*ast.Ident)
		if key == nil {
			continue
		}
		switch key.Name {
		case "Name", "Help", "Namespace", "Subsystem":
			s, err := literal(kv.Value)
			if err != nil {
				return m, fmt.Errorf("%s: %w", key.Name, err)
			}
			switch key.Name {
			case "Name":
				m.name = s
			case "Help":
				m.help = s
			case "Namespace":
				ns = s
			case "Subsystem":
				sub = s
			}
		}
	}
	m.name = strings.Join(slices.DeleteFunc([]string{ns, sub, m.name}, func(s string) bool { return s == "" }), "_")
	if strings.HasSuffix(sel(call), "Vec") {
		if len(call.Args) < 2 {
			return m, fmt.Errorf("a vector without label names")
		}
		labels, ok := call.Args[1].(*ast.CompositeLit)
		if !ok {
			return m, fmt.Errorf("label names are not a literal")
		}
		for _, e := range labels.Elts {
			s, err := literal(e)
			if err != nil {
				return m, fmt.Errorf("label: %w", err)
			}
			m.labels = append(m.labels, s)
		}
	}
	return m, nil
}

func sel(call *ast.CallExpr) string { return call.Fun.(*ast.SelectorExpr).Sel.Name }

// literal returns the value of a string literal, or of literals joined
// with +.
func literal(e ast.Expr) (string, error) {
	switch v := e.(type) {
	case *ast.BasicLit:
		if v.Kind == token.STRING {
			return strconv.Unquote(v.Value)
		}
	case *ast.BinaryExpr:
		if v.Op == token.ADD {
			a, err := literal(v.X)
			if err != nil {
				return "", err
			}
			b, err := literal(v.Y)
			return a + b, err
		}
	}
	return "", fmt.Errorf("not a string literal: the test cannot read it")
}

// family turns a metric into what promlint reads: one sample, each label
// set to "x".
func (m metric) family() *dto.MetricFamily {
	var pairs []*dto.LabelPair
	for _, l := range m.labels {
		pairs = append(pairs, &dto.LabelPair{Name: ptr(l), Value: ptr("x")})
	}
	one := &dto.Metric{Label: pairs}
	switch m.typ {
	case dto.MetricType_COUNTER:
		one.Counter = &dto.Counter{Value: ptr(1.0)}
	case dto.MetricType_GAUGE:
		one.Gauge = &dto.Gauge{Value: ptr(1.0)}
	case dto.MetricType_HISTOGRAM:
		one.Histogram = &dto.Histogram{SampleCount: ptr(uint64(1)), SampleSum: ptr(1.0)}
	case dto.MetricType_SUMMARY:
		one.Summary = &dto.Summary{SampleCount: ptr(uint64(1)), SampleSum: ptr(1.0)}
	default:
		one.Untyped = &dto.Untyped{Value: ptr(1.0)}
	}
	return &dto.MetricFamily{Name: ptr(m.name), Help: ptr(m.help), Type: m.typ.Enum(), Metric: []*dto.Metric{one}}
}

func ptr[T any](v T) *T { return &v }

var nameRule = regexp.MustCompile(`^callscreen_[a-z0-9]+_[a-z0-9_]+$`)

// lint checks metrics against promlint and the house rules and returns
// what is wrong, one line each.
func lint(ms []metric) []string {
	var out []string
	byName := map[string]metric{}
	var fams []*dto.MetricFamily
	for _, m := range ms {
		if prev, dup := byName[m.name]; dup {
			out = append(out, fmt.Sprintf("%s: %s is also defined at %s", m.pos, m.name, prev.pos))
			continue
		}
		byName[m.name] = m
		fams = append(fams, m.family())
		if !nameRule.MatchString(m.name) {
			out = append(out, fmt.Sprintf("%s: %s: not callscreen_<area>_<thing>", m.pos, m.name))
		}
		if m.help == "" {
			out = append(out, fmt.Sprintf("%s: %s: no help", m.pos, m.name))
		}
		switch m.typ {
		case dto.MetricType_COUNTER:
			if !strings.HasSuffix(m.name, "_total") {
				out = append(out, fmt.Sprintf("%s: counter %s does not end in _total", m.pos, m.name))
			}
		case dto.MetricType_HISTOGRAM, dto.MetricType_SUMMARY:
			if !strings.HasSuffix(m.name, "_seconds") && !strings.HasSuffix(m.name, "_bytes") && !strings.HasSuffix(m.name, "_digits") {
				out = append(out, fmt.Sprintf("%s: %s %s is not in seconds (or bytes)", m.pos, m.typ, m.name))
			}
		default:
			if strings.HasSuffix(m.name, "_total") {
				out = append(out, fmt.Sprintf("%s: %s %s ends in _total", m.pos, m.typ, m.name))
			}
		}
		// A package names its metrics in its own area: its first or last
		// path element (cmd/x: x).
		elems := strings.Split(m.pkg, "/")
		if elems[0] == "cmd" && len(elems) > 1 {
			elems = elems[1:]
		}
		areas := []string{"callscreen_" + elems[0] + "_", "callscreen_" + elems[len(elems)-1] + "_"}
		if !strings.HasPrefix(m.name, areas[0]) && !strings.HasPrefix(m.name, areas[1]) {
			out = append(out, fmt.Sprintf("%s: %s is outside the area of package %s (%s)", m.pos, m.name, m.pkg, strings.Join(areas, " or ")))
		}
	}
	problems, err := promlint.NewWithMetricFamilies(fams).Lint()
	if err != nil {
		out = append(out, "promlint: "+err.Error())
	}
	for _, p := range problems {
		out = append(out, fmt.Sprintf("%s: promlint: %s", byName[p.Metric].pos, p.Text))
	}
	sort.Strings(out)
	return out
}

// TestMetricNames walks the whole tree: every metric any package defines
// is found, linted by promlint and held to the house rules; a new package
// is covered without being listed anywhere.
func TestMetricNames(t *testing.T) {
	ms, problems, err := scan(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
	for _, p := range lint(ms) {
		t.Error(p)
	}
	t.Logf("%d metrics linted", len(ms))
	pkgs := map[string]bool{}
	for _, m := range ms {
		pkgs[m.pkg] = true
	}
	// The walk found the packages known to have metrics: a walk that
	// silently read nothing would pass every rule.
	for _, p := range []string{"agi", "ari", "admin", "audit", "config", "screen", "reputation", "reputation/lists"} {
		if !pkgs[p] {
			t.Errorf("no metrics found in %s: the walk is broken", p)
		}
	}
}

// TestLintCatches runs the walk and the rules on a package written to
// break each of them.
func TestLintCatches(t *testing.T) {
	dir := t.TempDir()
	src := `package bad

import (
	prom "github.com/prometheus/client_golang/prometheus"
)

var global = prom.NewCounter(prom.CounterOpts{Name: "callscreen_bad_global_total", Help: "x"})

func NewMetrics(reg prom.Registerer) {
	name := "computed"
	reg.MustRegister(
		prom.NewCounter(prom.CounterOpts{Name: "callscreen_bad_requests", Help: "Requests."}),
		prom.NewGauge(prom.GaugeOpts{Name: "callscreen_other_up", Help: "Up."}),
		prom.NewHistogram(prom.HistogramOpts{Name: "callscreen_bad_latency", Help: "Latency."}),
		prom.NewGaugeVec(prom.GaugeOpts{Name: "callscreen_bad_things", Help: ""}, []string{"kind"}),
		prom.NewCounter(prom.CounterOpts{Name: name, Help: "x"}),
	)
	prom.MustRegister(prom.NewGauge(prom.GaugeOpts{Name: "callscreen_bad_ok", Help: "Fine but global."}))
}
`
	if err := os.MkdirAll(filepath.Join(dir, "bad"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad", "metrics.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	ms, problems, err := scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(append(problems, lint(ms)...), "\n")
	for _, want := range []string{
		"prometheus.NewCounter outside a NewMetrics function",
		"Name: not a string literal",
		"prometheus.MustRegister: metrics go through NewMetrics(reg)",
		"counter callscreen_bad_requests does not end in _total",
		"callscreen_other_up is outside the area of package bad",
		"HISTOGRAM callscreen_bad_latency is not in seconds",
		"callscreen_bad_things: no help",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("the lint missed %q; it said:\n%s", want, all)
		}
	}
}

// TestGrafanaDashboard: every metric the dashboard queries exists, and
// every area's metrics appear on it somewhere.
func TestGrafanaDashboard(t *testing.T) {
	ms, _, err := scan(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	defined := map[string]dto.MetricType{}
	for _, m := range ms {
		defined[m.name] = m.typ
	}
	data, err := os.ReadFile(filepath.Join(repoRoot, "deploy/grafana/callscreen.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	if dash.Title == "" || dash.UID == "" || len(dash.Panels) == 0 {
		t.Fatalf("dashboard without title, uid or panels")
	}
	metricRef := regexp.MustCompile(`callscreen_[a-z0-9_]+`)
	used := map[string]bool{}
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, ref := range metricRef.FindAllString(tg.Expr, -1) {
				name := ref
				for _, suf := range []string{"_bucket", "_sum", "_count"} {
					if base, ok := strings.CutSuffix(ref, suf); ok && defined[base] == dto.MetricType_HISTOGRAM {
						name = base
					}
				}
				if _, ok := defined[name]; !ok {
					t.Errorf("panel %q queries %s, which no package defines", p.Title, ref)
				}
				used[name] = true
			}
		}
	}
	// Metrics an operator must find on the dashboard: the STIR/SHAKEN
	// results calls carry, and the prompts a PBX is missing (its
	// challenges fail open until they are installed).
	for _, name := range []string{"callscreen_screen_stir_total", "callscreen_screen_prompts_missing"} {
		if _, ok := defined[name]; !ok {
			t.Errorf("%s is no longer defined: update this list and the dashboard", name)
		}
		if !used[name] {
			t.Errorf("no panel shows %s", name)
		}
	}
	var areas []string
	for name := range defined {
		if area := strings.SplitN(name, "_", 3)[1]; !slices.Contains(areas, area) {
			areas = append(areas, area)
		}
	}
	sort.Strings(areas)
	// Areas the dashboard does not show (yet): reload state, the ARI
	// transport, the daily feed and the behaviour checks.
	unshown := []string{"config", "ari", "feed", "behavior"}
	for _, area := range areas {
		if slices.Contains(unshown, area) {
			continue
		}
		found := false
		for name := range used {
			if strings.HasPrefix(name, "callscreen_"+area+"_") {
				found = true
			}
		}
		if !found {
			t.Errorf("no panel shows any callscreen_%s_ metric", area)
		}
	}
}
