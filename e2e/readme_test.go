package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReadme runs the README's tour against the binary under test and
// checks its other blocks (see doctest_test.go for the markers), that it
// starts with the two commands, and that it links the documents and names
// every benchmark.
func TestReadme(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)

	t.Run("two commands first", func(t *testing.T) {
		blocks := readBlocks(t, "README.md")
		if len(blocks) == 0 {
			t.Fatal("no blocks")
		}
		lines := strings.Split(strings.TrimSpace(blocks[0].text), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "make run ") || !strings.HasPrefix(lines[1], "make test ") {
			t.Fatalf("the README's first block is not make run, make test:\n%s", blocks[0].text)
		}
		if blocks[0].line > 5 {
			t.Fatalf("the two commands start on line %d", blocks[0].line)
		}
		// What the comments claim, against the Makefile.
		mk, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"run: build\n\t./bin/callscreen serve\n", "test: test-deps\n\t$(GO) test -race"} {
			if !strings.Contains(string(mk), want) {
				t.Errorf("the Makefile has no %q", want)
			}
		}
	})

	t.Run("links", func(t *testing.T) {
		for _, doc := range []string{
			"docs/configuration.md", "docs/reasons.md", "docs/lists-and-feed.md", "dialplan/README.md",
			"deploy/README.md", "sounds/README.md", "docs/install-asterisk.md", "docs/install-freepbx.md",
			"docs/pilot-week.md", "docs/tuning.md", "docs/scaling.md", "docs/troubleshooting.md",
			"docs/operations.md", "DESIGN.md",
		} {
			if !strings.Contains(readme, "]("+doc+")") && !strings.Contains(readme, "]("+strings.TrimSuffix(doc, "README.md")+")") {
				t.Errorf("the README does not link %s", doc)
			}
		}
	})

	t.Run("benchmarks", func(t *testing.T) {
		out, err := exec.Command(callscreenBench(t), "list").CombinedOutput()
		if err != nil {
			t.Fatalf("callscreen-bench list: %v\n%s", err, out)
		}
		names := regexp.MustCompile(`(?m)^\s+([a-z]+)\s`).FindAllStringSubmatch(string(out), -1)
		if len(names) < 6 {
			t.Fatalf("callscreen-bench list:\n%s", out)
		}
		for _, n := range names {
			if !strings.Contains(readme, "go run ./cmd/callscreen-bench "+n[1]+" ") {
				t.Errorf("the README's Benchmarks section does not list %s", n[1])
			}
		}
	})

	t.Run("tour", func(t *testing.T) { testDocument(t, "README.md") })
}

// TestDocs runs and checks the blocks of every document in docs/ (see
// doctest_test.go), and that each guide says which of its blocks the tests
// run.
func TestDocs(t *testing.T) {
	for _, doc := range docFiles(t) {
		t.Run(strings.TrimSuffix(filepath.Base(doc), ".md"), func(t *testing.T) {
			testDocument(t, doc)
		})
	}
	for _, guide := range []string{
		"docs/install-asterisk.md", "docs/install-freepbx.md", "docs/pilot-week.md", "docs/tuning.md",
		"docs/scaling.md", "docs/troubleshooting.md", "docs/operations.md",
	} {
		b, err := os.ReadFile(filepath.Join(repoRoot, guide))
		if err != nil {
			t.Errorf("guide %s: %v", guide, err)
			continue
		}
		if !strings.Contains(string(b), "e2e/doctest_test.go") {
			t.Errorf("%s does not say which of its blocks the tests run (a sentence naming e2e/doctest_test.go)", guide)
		}
	}
}

// TestDocMatching tests the output matcher the documents rely on.
func TestDocMatching(t *testing.T) {
	tests := []struct {
		want, got []string
		ok        bool
	}{
		{nil, nil, true},
		{[]string{"a"}, []string{"a"}, true},
		{[]string{"a"}, []string{"b"}, false},
		{[]string{"a"}, nil, false},
		{nil, []string{"a"}, false},
		{[]string{"ID=…"}, []string{"ID=01ABC"}, true},
		{[]string{"ID=…"}, []string{"XD=01ABC"}, false},
		{[]string{`{"t":"…","msg":"x"}`}, []string{`{"t":"2026","msg":"x"}`}, true},
		{[]string{`{"t":"…","msg":"x"}`}, []string{`{"t":"2026","msg":"y"}`}, false},
		{[]string{"a", "…", "z"}, []string{"a", "b", "c", "z"}, true},
		{[]string{"a", "…", "z"}, []string{"a", "z"}, true},
		{[]string{"a", "…", "z"}, []string{"a", "b"}, false},
		{[]string{"…"}, []string{"x", "y"}, true},
		{[]string{"a…b…c"}, []string{"a1b2c"}, true},
		{[]string{"a…b…c"}, []string{"a1c2b"}, false},
	}
	for _, tt := range tests {
		if got := matchOutput(tt.want, tt.got); got != tt.ok {
			t.Errorf("matchOutput(%q, %q) = %v; want %v", tt.want, tt.got, got, tt.ok)
		}
	}
}
