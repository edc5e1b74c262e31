package admin

import (
	"net/http"
	"time"
)

// testClient is the HTTP client of this package's tests: no request may
// wait for ever on a server that does not answer.
var testClient = &http.Client{Timeout: time.Minute}
