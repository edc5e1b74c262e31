package callerapi

import (
	"testing"
	"time"

	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/reputation/httpsource/httpsourcetest"
)

// TestReadmeExamples runs every example answer of README.md through the
// source and checks the verdict the README promises.
func TestReadmeExamples(t *testing.T) {
	httpsourcetest.ReadmeExamples(t, "README.md", func(url string) (reputation.Source, error) {
		return New(Config{URL: url, Key: "k", Now: func() time.Time { return now }})
	})
}
