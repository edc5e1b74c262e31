package callerapi

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/reputation/httpsource/httpsourcetest"
)

// readmeExample is a JSON answer in README.md followed by the verdict it
// gives.
var readmeExample = regexp.MustCompile("(?s)```json\n(.*?)\n```\n\ngives tier `([A-Z]+)`, reasons `([a-z._,]*)`")

// TestReadmeExamples runs every example answer of README.md through the
// source and checks the verdict the README promises.
func TestReadmeExamples(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	examples := readmeExample.FindAllStringSubmatch(string(b), -1)
	if len(examples) < 2 {
		t.Fatalf("README.md has %d tested examples; want at least 2", len(examples))
	}
	for _, ex := range examples {
		body, tier, reasons := ex[1], policy.Tier(ex[2]), ex[3]
		t.Run(string(tier)+" "+reasons, func(t *testing.T) {
			srv := httpsourcetest.Start(t, httpsourcetest.JSON(body))
			c, err := New(Config{URL: srv.URL, Key: "k", Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			q := reputation.Query{Caller: number.Parse("+12125551234", "US"), Profile: policy.Default()}
			v, err := c.Lookup(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]string, len(v.Reasons))
			for i, r := range v.Reasons {
				got[i] = string(r)
			}
			if v.Tier != tier || strings.Join(got, ",") != reasons {
				t.Fatalf("README example gives tier %s reasons %s; the README says %s %s", v.Tier, strings.Join(got, ","), tier, reasons)
			}
		})
	}
}
