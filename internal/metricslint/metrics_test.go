package metricslint

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"

	"github.com/callscreen/callscreen/admin"
	"github.com/callscreen/callscreen/agi"
	"github.com/callscreen/callscreen/ari"
	"github.com/callscreen/callscreen/audit"
	"github.com/callscreen/callscreen/config"
	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/reputation/behavior"
	"github.com/callscreen/callscreen/reputation/cache"
	"github.com/callscreen/callscreen/reputation/feed"
	"github.com/callscreen/callscreen/reputation/feedback"
	"github.com/callscreen/callscreen/reputation/lists"
	"github.com/callscreen/callscreen/screen"
)

// packages lists every package's NewMetrics. A package that adds metrics
// adds itself here.
var packages = map[string]func(prometheus.Registerer){
	"admin":               func(r prometheus.Registerer) { admin.NewMetrics(r) },
	"agi":                 func(r prometheus.Registerer) { agi.NewMetrics(r) },
	"ari":                 func(r prometheus.Registerer) { ari.NewMetrics(r) },
	"ari/outbound":        func(r prometheus.Registerer) { ari.NewOutboundMetrics(r) },
	"audit":               func(r prometheus.Registerer) { audit.NewMetrics(r) },
	"config":              func(r prometheus.Registerer) { config.NewMetrics(r) },
	"reputation":          func(r prometheus.Registerer) { reputation.NewMetrics(r) },
	"reputation/behavior": func(r prometheus.Registerer) { behavior.NewMetrics(r) },
	"reputation/cache":    func(r prometheus.Registerer) { cache.NewMetrics(r) },
	"reputation/feed":     func(r prometheus.Registerer) { feed.NewMetrics(r) },
	"reputation/feedback": func(r prometheus.Registerer) { feedback.NewMetrics(r) },
	"reputation/lists":    func(r prometheus.Registerer) { lists.NewMetrics(r) },
	"screen":              func(r prometheus.Registerer) { screen.NewMetrics(r) },
}

// recorder registers collectors and keeps them, so vectors without
// children can be given one for the lint to see.
type recorder struct {
	reg *prometheus.Registry
	cs  []prometheus.Collector
}

func (r *recorder) Register(c prometheus.Collector) error {
	if err := r.reg.Register(c); err != nil {
		return err
	}
	r.cs = append(r.cs, c)
	return nil
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

func (r *recorder) Unregister(c prometheus.Collector) bool { return r.reg.Unregister(c) }

// touch gives a vector one child, trying label counts until one fits.
func touch(c prometheus.Collector) {
	for n := range 10 {
		vals := make([]string, n)
		for i := range vals {
			vals[i] = "x"
		}
		var err error
		switch v := c.(type) {
		case *prometheus.CounterVec:
			_, err = v.GetMetricWithLabelValues(vals...)
		case *prometheus.GaugeVec:
			_, err = v.GetMetricWithLabelValues(vals...)
		case *prometheus.HistogramVec:
			_, err = v.GetMetricWithLabelValues(vals...)
		case *prometheus.SummaryVec:
			_, err = v.GetMetricWithLabelValues(vals...)
		default:
			return
		}
		if err == nil {
			return
		}
	}
}

// gatherAll builds every package's metrics in one registry (a name used
// twice panics here) and returns the families, each vector with a child.
func gatherAll(t *testing.T) (map[string]*dto.MetricFamily, map[string][]string) {
	t.Helper()
	rec := &recorder{reg: prometheus.NewPedanticRegistry()}
	owners := map[string][]string{}
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range packages {
			if !yield(k) {
				return
			}
		}
	})
	for _, pkg := range names {
		before := len(rec.cs)
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("%s.NewMetrics: %v", pkg, p)
				}
			}()
			packages[pkg](rec)
		}()
		if len(rec.cs) == before {
			t.Errorf("%s.NewMetrics registered nothing", pkg)
		}
		for _, c := range rec.cs[before:] {
			touch(c)
			ch := make(chan *prometheus.Desc, 64)
			go func() { c.Describe(ch); close(ch) }()
			for d := range ch {
				owners[pkg] = append(owners[pkg], d.String())
			}
		}
	}
	mfs, err := rec.reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out, owners
}

func TestNoGlobals(t *testing.T) {
	for pkg, newMetrics := range packages {
		t.Run(pkg, func(t *testing.T) {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("NewMetrics into a second registry panicked (a global?): %v", p)
				}
			}()
			newMetrics(prometheus.NewRegistry())
			newMetrics(prometheus.NewRegistry())
			newMetrics(nil)
		})
	}
}

var nameRule = regexp.MustCompile(`^callscreen_[a-z0-9]+_[a-z0-9_]+$`)

func TestPromlint(t *testing.T) {
	mfs, owners := gatherAll(t)
	var fams []*dto.MetricFamily
	for _, mf := range mfs {
		fams = append(fams, mf)
	}
	problems, err := promlint.NewWithMetricFamilies(fams).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	total := 0
	for _, ds := range owners {
		total += len(ds)
	}
	if len(mfs) != total {
		t.Errorf("gathered %d families for %d descriptions: a vector was not touched", len(mfs), total)
	}
	for name, mf := range mfs {
		if !nameRule.MatchString(name) {
			t.Errorf("%s: not callscreen_<area>_<thing>", name)
		}
		if mf.GetHelp() == "" {
			t.Errorf("%s: no help", name)
		}
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			if !strings.HasSuffix(name, "_total") {
				t.Errorf("counter %s does not end in _total", name)
			}
		case dto.MetricType_HISTOGRAM, dto.MetricType_SUMMARY:
			if !strings.HasSuffix(name, "_seconds") && !strings.HasSuffix(name, "_bytes") && !strings.HasSuffix(name, "_digits") {
				t.Errorf("%s %s is not in seconds (or bytes)", mf.GetType(), name)
			}
		default:
			if strings.HasSuffix(name, "_total") {
				t.Errorf("%s %s ends in _total", mf.GetType(), name)
			}
		}
	}
	// Each package names its metrics in its own area: its first or last
	// path element.
	for pkg, ds := range owners {
		elems := strings.Split(pkg, "/")
		areas := []string{"callscreen_" + elems[0] + "_", "callscreen_" + elems[len(elems)-1] + "_"}
		for _, d := range ds {
			if !strings.Contains(d, `fqName: "`+areas[0]) && !strings.Contains(d, `fqName: "`+areas[1]) {
				t.Errorf("%s registers %s outside %v", pkg, d, areas)
			}
		}
	}
}

// TestGrafanaDashboard: every metric the dashboard queries exists, and
// every package's metrics appear on it somewhere.
func TestGrafanaDashboard(t *testing.T) {
	mfs, _ := gatherAll(t)
	data, err := os.ReadFile("../../deploy/grafana/callscreen.json")
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
					if base, ok := strings.CutSuffix(ref, suf); ok {
						if mf, ok := mfs[base]; ok && mf.GetType() == dto.MetricType_HISTOGRAM {
							name = base
						}
					}
				}
				if _, ok := mfs[name]; !ok {
					t.Errorf("panel %q queries %s, which no package defines", p.Title, ref)
				}
				used[name] = true
			}
		}
	}
	var areas []string
	for name := range mfs {
		area := strings.SplitN(name, "_", 3)[1]
		if !slices.Contains(areas, area) {
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
