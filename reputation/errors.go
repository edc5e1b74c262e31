package reputation

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/sony/gobreaker/v2"
)

// ErrorClass says how a provider lookup failed. Classes are what the
// provider error metrics count and what operators read in logs. An
// ErrorClass is itself an error, so a class can be tested with errors.Is:
//
//	errors.Is(err, reputation.ClassStatus429)
type ErrorClass string

// The error classes. Each is stable: it names a metric label value.
const (
	// ClassTimeout: the lookup ran out of time (budget, provider timeout).
	ClassTimeout ErrorClass = "timeout"
	// ClassCancelled: the lookup was cancelled (shutdown).
	ClassCancelled ErrorClass = "cancelled"
	// ClassConnection: the provider could not be reached or dropped the
	// connection (refused, reset, DNS, TLS).
	ClassConnection ErrorClass = "connection"
	// ClassStatus5xx: the provider answered with an HTTP 5xx status.
	ClassStatus5xx ErrorClass = "status_5xx"
	// ClassStatus429: the provider rate-limited us (HTTP 429).
	ClassStatus429 ErrorClass = "status_429"
	// ClassStatus4xx: any other HTTP 4xx (bad key, bad request) or an
	// unexpected non-2xx status.
	ClassStatus4xx ErrorClass = "status_4xx"
	// ClassInvalidJSON: the body was not the JSON the provider documents.
	ClassInvalidJSON ErrorClass = "invalid_json"
	// ClassTooLarge: the body exceeded the response cap.
	ClassTooLarge ErrorClass = "too_large"
	// ClassProviderStatus: the provider answered 2xx with an error status
	// of its own (YouMail statusCode other than 10000, CallerAPI
	// status other than "success").
	ClassProviderStatus ErrorClass = "provider_status"
	// ClassBreakerOpen: the provider's circuit breaker is open; nothing
	// was sent.
	ClassBreakerOpen ErrorClass = "breaker_open"
	// ClassRateLimited: the provider asked us to wait (Retry-After) and the
	// wait is not over; nothing was sent.
	ClassRateLimited ErrorClass = "rate_limited"
	// ClassOther: anything else.
	ClassOther ErrorClass = "other"
)

// Classes lists every error class, for metrics and tests.
var Classes = []ErrorClass{
	ClassTimeout, ClassCancelled, ClassConnection, ClassStatus5xx, ClassStatus429,
	ClassStatus4xx, ClassInvalidJSON, ClassTooLarge, ClassProviderStatus,
	ClassBreakerOpen, ClassRateLimited, ClassOther,
}

// Error makes a class usable as an errors.Is target.
func (c ErrorClass) Error() string { return "provider " + string(c) }

// ProviderError is a classified provider failure.
type ProviderError struct {
	// Provider names the provider ("callerapi").
	Provider string
	Class    ErrorClass
	// Status is the HTTP status when there was one, else 0.
	Status int
	// RetryAfter is how long the provider asked us to wait (HTTP 429 with
	// Retry-After), 0 when it did not say.
	RetryAfter time.Duration
	// Err is the underlying error, nil when the class says it all.
	Err error
}

func (e *ProviderError) Error() string {
	msg := e.Provider + ": " + string(e.Class)
	if e.Status != 0 {
		msg += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap exposes both the class and the underlying error to errors.Is.
func (e *ProviderError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Class}
	}
	return []error{e.Class, e.Err}
}

// Classify returns the class of a lookup error: the class of a
// ProviderError in its chain, else a class read from well-known errors
// (deadlines, cancellation, network errors, an open breaker). It returns ""
// for nil and for ErrNotCovered, which are not failures.
func Classify(err error) ErrorClass {
	if err == nil || errors.Is(err, ErrNotCovered) {
		return ""
	}
	var pe *ProviderError
	if errors.As(err, &pe) {
		return pe.Class
	}
	var c ErrorClass
	if errors.As(err, &c) {
		return c
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return ClassTimeout
	case errors.Is(err, context.Canceled):
		return ClassCancelled
	case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
		return ClassBreakerOpen
	case errors.As(err, &ne) && ne.Timeout():
		return ClassTimeout
	case errors.As(err, &ne):
		return ClassConnection
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return ClassConnection
	}
	return ClassOther
}
