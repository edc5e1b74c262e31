package agi_test

import (
	"time"

	"github.com/callscreen/callscreen/agi/agitest"
)

// A simulated call connects at once on loopback; only a machine too busy
// to run this process for seconds would reach Asterisk's 2s bound, which
// these tests are not about.
func init() { agitest.ConnectTimeout = time.Minute }
