package service

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/callscreen/callscreen/config"
	"github.com/callscreen/callscreen/redisconn"
	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/reputation/callerapi"
	"github.com/callscreen/callscreen/reputation/emergency"
	"github.com/callscreen/callscreen/reputation/feed"
	"github.com/callscreen/callscreen/reputation/feedback"
	"github.com/callscreen/callscreen/reputation/httpsource"
	"github.com/callscreen/callscreen/reputation/lists"
	"github.com/callscreen/callscreen/reputation/youmail"
)

// Set is everything one configuration describes, built and checked but
// running nothing: the sources a reload swaps (critical numbers, the
// providers and their options), the settings of the shared parts, and the
// components. Build makes one; it opens no socket, writes no file and
// starts no goroutine, so it is what `serve --check-config` runs, and a
// reload builds a whole Set before it changes anything.
type Set struct {
	cfg          *config.Config
	redis        redisconn.Options
	emergency    *emergency.Source
	providers    []reputation.Provider
	providerOpts reputation.ProvidersOptions
	components   []Component
}

// Config is the configuration the set was built from.
func (s *Set) Config() *config.Config { return s.cfg }

// Build builds the set cfg describes. Its errors are everything a
// configuration that loads can still be refused for: what the sources,
// the Redis settings, the listeners and the ARI clients refuse (a provider
// timeout shorter than the budget, an admin API off loopback without a
// token, an ARI server without a password, ...). Validate adds what only
// the machine can say.
func Build(cfg *config.Config) (*Set, error) {
	s := &Set{cfg: cfg, redis: RedisOptions(cfg)}
	if err := s.redis.Validate(); err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	var err error
	if s.emergency, err = emergency.New(cfg.Emergency, cfg.Number.DefaultRegion); err != nil {
		return nil, fmt.Errorf("emergency: %w", err)
	}
	if s.providers, err = providers(cfg); err != nil {
		return nil, err
	}
	s.providerOpts = reputation.ProvidersOptions{
		Budget: cfg.Reputation.Budget, ProviderTimeout: cfg.Reputation.ProviderTimeout,
		BreakerFailures: cfg.Reputation.Breaker.Failures, BreakerOpenFor: cfg.Reputation.Breaker.OpenFor,
		MaxRetryAfter: cfg.Reputation.MaxRetryAfter,
	}
	if len(s.providers) > 0 {
		if err := s.providerOpts.Validate(); err != nil {
			return nil, fmt.Errorf("providers: %w", err)
		}
	}
	if s.components, err = components(cfg); err != nil {
		return nil, err
	}
	return s, nil
}

// providers builds the provider adapters whose key (or, for http, URL) is
// set, in the order they are asked.
func providers(cfg *config.Config) ([]reputation.Provider, error) {
	var ps []reputation.Provider
	p := cfg.Providers
	if c := (callerapi.Config{URL: p.CallerAPI.URL, Key: p.CallerAPI.Key.Value()}); c.Enabled() {
		src, err := callerapi.New(c)
		if err != nil {
			return nil, fmt.Errorf("providers.callerapi: %w", err)
		}
		ps = append(ps, reputation.Provider{Name: callerapi.Name, Source: src})
	}
	if c := (youmail.Config{URL: p.YouMail.URL, SID: p.YouMail.SID.Value(), Key: p.YouMail.Key.Value()}); c.Enabled() {
		src, err := youmail.New(c)
		if err != nil {
			return nil, fmt.Errorf("providers.youmail: %w", err)
		}
		ps = append(ps, reputation.Provider{Name: youmail.Name, Source: src})
	}
	if c := (httpsource.Config{URL: p.HTTP.URL, Token: p.HTTP.Token.Value()}); c.Enabled() {
		src, err := httpsource.New(c)
		if err != nil {
			return nil, fmt.Errorf("providers.http: %w", err)
		}
		ps = append(ps, reputation.Provider{Name: httpsource.Name, Source: src})
	}
	return ps, nil
}

// Validate checks what the configuration alone cannot say, and would
// stop serve from starting: that this user can create and write the data
// directory and the decision log's directory, and write the files serve
// keeps there, and can read the list files and the signing key. It writes
// nothing.
func (s *Set) Validate() error {
	cfg := s.cfg
	if err := writableDir("data_dir", cfg.DataDir); err != nil {
		return err
	}
	// The files serve writes in data_dir without Redis, and its lock.
	files := []string{LockFile}
	if !s.redis.Enabled() {
		files = append(files, lists.BoltFile, feed.BoltFile, feedback.FileName)
	}
	for _, f := range files {
		if err := writableFile("data_dir", filepath.Join(cfg.DataDir, f)); err != nil {
			return err
		}
	}
	if cfg.Audit.Enabled {
		if err := writableDir("audit.dir", cfg.Audit.Dir); err != nil {
			return err
		}
		if err := readableFile("audit.key_file", cfg.Audit.KeyFile, true); err != nil {
			return err
		}
	}
	for _, f := range []struct{ key, path string }{{"lists.allow_file", cfg.Lists.AllowFile}, {"lists.block_file", cfg.Lists.BlockFile}} {
		if f.path != "" {
			if err := readableFile(f.key, f.path, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// writableDir checks that dir is a directory this user can write, or can
// be created: its nearest existing ancestor is a directory it can write.
func writableDir(key, dir string) error {
	p := dir
	for {
		fi, err := os.Stat(p)
		switch {
		case err == nil && !fi.IsDir():
			return fmt.Errorf("%s %q: %s is not a directory", key, dir, p)
		case err == nil:
			if err := syscall.Access(p, accessW|accessX); err != nil {
				if p == dir {
					return fmt.Errorf("%s %q: not writable by this user: %w", key, dir, err)
				}
				return fmt.Errorf("%s %q: cannot be created: %s is not writable by this user: %w", key, dir, p, err)
			}
			return nil
		case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
			parent := filepath.Dir(p)
			if parent == p {
				return fmt.Errorf("%s %q: %w", key, dir, errorsCause(err))
			}
			p = parent
		default:
			return fmt.Errorf("%s %q: %w", key, dir, errorsCause(err))
		}
	}
}

// writableFile checks that a file serve will write is writable by this
// user, when it exists.
func writableFile(key, path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("%s: %s: %w", key, path, errorsCause(err))
	case fi.IsDir():
		return fmt.Errorf("%s: %s is a directory", key, path)
	}
	if err := syscall.Access(path, accessW); err != nil {
		return fmt.Errorf("%s: %s is not writable by this user (%s): %w", key, path, owner(fi), err)
	}
	return nil
}

// readableFile checks that a file serve reads is readable; a missing file
// is fine when optional (serve creates it).
func readableFile(key, path string, optional bool) error {
	fi, err := os.Stat(path)
	switch {
	case optional && errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("%s %q: %w", key, path, errorsCause(err))
	case fi.IsDir():
		return fmt.Errorf("%s %q: is a directory", key, path)
	}
	if err := syscall.Access(path, accessR); err != nil {
		return fmt.Errorf("%s %q: not readable by this user (%s): %w", key, path, owner(fi), err)
	}
	return nil
}

// access(2) modes.
const (
	accessR = 0x4
	accessW = 0x2
	accessX = 0x1
)

// owner says who owns a file and its mode, for an error message.
func owner(fi fs.FileInfo) string {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fmt.Sprintf("owner uid %d, mode %s", st.Uid, fi.Mode().Perm())
	}
	return "mode " + fi.Mode().Perm().String()
}
