// Package config is callscreen's configuration: the schema, its defaults,
// loading (one YAML file, CALLSCREEN_* environment variables over it),
// validation, and the profiles and DID map the call flow uses.
//
// Load applies, in order: built-in defaults (Defaults; callscreen runs on
// them with no file), the file, then the environment (agi.listen is
// CALLSCREEN_AGI_LISTEN; lists are comma-separated). Unknown keys are an
// error naming the dotted key; every value is validated, and the error
// names the key and the bad value. Secrets are of type Secret and come
// from the file, the environment or a *_file key, never from both a value
// and a file; a Secret hides itself wherever it is printed, marshalled or
// logged (feed headers that carry credentials likewise, as Headers), so it
// never appears in YAML, Version or a log line. Only Secret.Value hands it
// to the client that sends it. Profiles inherit every unset
// field from profiles.default, which starts from policy.Default(); a
// profile without a mode follows the top-level mode.
//
// A *Config is read-only once loaded: a reload loads a new one and swaps it
// in, keeping the old one when the new one is invalid (the serve loop does
// that and reports it with Metrics). The package must never start
// anything (servers, connections) and never log a secret.
package config
