// Package youmail is the YouMail Data API reputation provider:
// GET {url}/api/v2/phone/{10 digits} with the DataApiSid and DataApiKey
// headers, spamRisk.level 0/1/2 read as low, medium and high risk.
//
// YouMail covers North American numbers only: every other caller is
// ErrNotCovered (caller.out_of_coverage) and is never sent. The package
// must never send anything but the caller's number and the credentials,
// never log the key, and never wait past its context: budget, breaker and
// cache live in package reputation.
package youmail
