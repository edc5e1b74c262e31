package main

// How the commands that write the server's state (lists, report, feed)
// reach it: through the running server's admin API when it answers, so a
// change applies to the next call and the files in data_dir stay the
// server's own; else straight to the store (Redis, or data_dir under its
// lock, refused when the files would end up unreadable by the server).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callscreen/callscreen/admin"
	"github.com/callscreen/callscreen/config"
	"github.com/callscreen/callscreen/redisconn"
	"github.com/callscreen/callscreen/service"
)

// pingTimeout bounds one look for the admin API.
const pingTimeout = 3 * time.Second

// lockPoll is how often a waiting command looks again.
const lockPoll = 100 * time.Millisecond

// defaultWait is how long a command waits for data_dir by default.
const defaultWait = time.Minute

// commandRedisTimeout is the least a command gives Redis to connect, to
// take a request and to answer one. The redis.* timeouts of the
// configuration are the call path's (50 ms to read by default, within a
// call's 400 ms budget): a command that writes thousands of entries, on a
// machine busy with calls, must not fail half-way on them.
const commandRedisTimeout = 10 * time.Second

// commandRedisOptions are cfg's Redis settings for a command: the call
// path's dial, read and write timeouts raised to commandRedisTimeout
// (a longer one configured is kept).
func commandRedisOptions(cfg *config.Config) redisconn.Options {
	o := service.RedisOptions(cfg)
	o.DialTimeout = max(o.DialTimeout, commandRedisTimeout)
	o.ReadTimeout = max(o.ReadTimeout, commandRedisTimeout)
	o.WriteTimeout = max(o.WriteTimeout, commandRedisTimeout)
	return o
}

// waitFlag adds --wait to fs.
func waitFlag(fs interface {
	Duration(string, time.Duration, string) *time.Duration
}) *time.Duration {
	return fs.Duration("wait", defaultWait, "how long to wait for data_dir when another command holds it, or for the server that holds it to answer")
}

// reach says what a command is and what it needs.
type reach struct {
	// name is the command as the lock file and messages name it
	// ("callscreen lists import"); args are its arguments as given, for
	// the command line a refusal suggests.
	name string
	args []string
	// files are the files in data_dir the command writes when it writes
	// the store directly; none for a command that only reads.
	files []string
	// wait bounds the wait for data_dir's lock or the server's answer.
	wait   time.Duration
	stderr io.Writer
}

// target is where a command acts: through the server (client), or
// directly on Redis (rdb) or on data_dir (lock held unless it only reads).
type target struct {
	client *admin.Client
	rdb    redis.UniversalClient
	lock   *service.DirLock
	// where names it in the command's output: "callscreen serve at
	// 127.0.0.1:8089", "redis single", "data/lists.db".
	where string
}

func (t *target) close() {
	if t.rdb != nil {
		_ = t.rdb.Close()
	}
	_ = t.lock.Unlock()
}

// openTarget finds where the command acts for cfg: the admin API of the
// server at admin.listen when it answers; else Redis when configured (every
// server follows it); else data_dir, under its lock. A server that holds
// data_dir but does not answer is waited for (it may be starting) and, at
// the end of the wait, is an error: the change would not reach it.
func openTarget(ctx context.Context, cfg *config.Config, r reach) (*target, error) {
	api, apiWhy := findServer(ctx, cfg)
	if apiWhy == nil {
		return &target{client: api, where: "callscreen serve at " + api.Addr()}, nil
	}
	if !noServer(apiWhy) {
		return nil, apiWhy
	}
	file := ""
	if len(r.files) > 0 {
		file = r.files[0]
	}
	t, err := storeTarget(cfg, r.stderr, file)
	if err != nil || t.rdb != nil || len(r.files) == 0 {
		// Redis is what every server follows; a command that only reads
		// needs no lock (the stores are read in transactions of their
		// own).
		return t, err
	}
	dir := cfg.DataDir
	if _, err := os.Stat(filepath.Join(dir, service.LockFile)); err != nil {
		// No lock file, so no server: nothing is to be waited for, and
		// taking the lock would create the file.
		if err := checkOwner(cfg, r); err != nil {
			return nil, err
		}
	}
	deadline := time.Now().Add(r.wait)
	said := false
	for {
		lock, err := service.LockDataDirFor(dir, r.name)
		if err == nil {
			// Now that no server can start on it: would the command
			// leave a file the directory's owner cannot read?
			if err := checkOwner(cfg, r); err != nil {
				_ = lock.Unlock()
				return nil, err
			}
			t.lock = lock
			return t, nil
		}
		var inUse *service.InUseError
		if !errors.As(err, &inUse) {
			return nil, err
		}
		holder := fmt.Sprintf("pid %d", inUse.PID)
		if inUse.PID == 0 {
			holder = "a process whose pid its lock file does not name"
		}
		if inUse.Command != "" {
			if !time.Now().Before(deadline) {
				return nil, fmt.Errorf("data_dir %q is still held by %s (%q) after %s; nothing was changed: run this again once it has finished, or give --wait more time", dir, holder, inUse.Command, r.wait)
			}
			if !said {
				fmt.Fprintf(r.stderr, "%s: waiting up to %s for %s (%q), which holds data_dir %q\n", r.name, r.wait, holder, inUse.Command, dir)
				said = true
			}
		} else {
			// A server holds data_dir and its admin API did not answer.
			server := fmt.Sprintf("callscreen serve (%s)", holder)
			if cfg.Admin.Listen == "" {
				return nil, fmt.Errorf("data_dir %q is held by %s, and its admin API is off (admin.listen is empty in %s): the change would not reach it, so nothing was changed; set admin.listen and restart the server, or stop it and run this again", dir, server, service.ConfigSource(cfg))
			}
			if _, ok := admin.DialAddr(cfg.Admin.Listen); !ok {
				return nil, fmt.Errorf("data_dir %q is held by %s, and admin.listen %q (in %s) does not say where its admin API is (a port chosen at start): the change would not reach it, so nothing was changed; give admin.listen a fixed port", dir, server, cfg.Admin.Listen, service.ConfigSource(cfg))
			}
			if !time.Now().Before(deadline) {
				return nil, fmt.Errorf("data_dir %q is held by %s, but no admin API answered at %s (admin.listen in %s) within %s (%v): the change would not reach it, so nothing was changed; check that server (is it stuck? does it listen elsewhere?), or stop it and run this again", dir, server, cfg.Admin.Listen, service.ConfigSource(cfg), r.wait, apiWhy)
			}
			if !said {
				fmt.Fprintf(r.stderr, "%s: data_dir %q is held by %s, whose admin API does not answer yet; waiting up to %s\n", r.name, dir, server, r.wait)
				said = true
			}
			api, why := findServer(ctx, cfg)
			if why == nil {
				return &target{client: api, where: "callscreen serve at " + api.Addr()}, nil
			}
			if !noServer(why) {
				return nil, why
			}
			apiWhy = why
		}
		tm := time.NewTimer(lockPoll)
		select {
		case <-ctx.Done():
			tm.Stop()
			return nil, fmt.Errorf("waiting for data_dir %q: %w", dir, ctx.Err())
		case <-tm.C:
		}
	}
}

// storeTarget is cfg's store itself: Redis when configured, else data_dir
// (file in it, when not "", names it), with no lock.
func storeTarget(cfg *config.Config, stderr io.Writer, file string) (*target, error) {
	redisconn.UseSlog(config.NewLogger(config.Log{Level: "warn", Format: cfg.Log.Format}, stderr))
	o := commandRedisOptions(cfg)
	rdb, err := redisconn.New(o)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	if rdb != nil {
		return &target{rdb: rdb, where: "redis " + o.Mode()}, nil
	}
	return &target{where: filepath.Join(cfg.DataDir, file)}, nil
}

// errNoAPI: cfg names no admin API a command can reach.
var errNoAPI = errors.New("no admin API to reach")

// findServer looks for the admin API of cfg's server and returns a client
// when one answers. An error wrapping admin.ErrNoServer or errNoAPI says
// why none does; any other error is something that is no callscreen
// admin API answering there.
func findServer(ctx context.Context, cfg *config.Config) (*admin.Client, error) {
	if cfg.Admin.Listen == "" {
		return nil, fmt.Errorf("%w: admin.listen is empty", errNoAPI)
	}
	addr, ok := admin.DialAddr(cfg.Admin.Listen)
	if !ok {
		return nil, fmt.Errorf("%w: admin.listen %q names no fixed port", errNoAPI, cfg.Admin.Listen)
	}
	c := admin.NewClient(addr, cfg.Admin.Token.Value())
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	err := c.Ping(pctx)
	switch {
	case err == nil:
		return c, nil
	case errors.Is(err, admin.ErrNoServer):
		return nil, err
	}
	return nil, fmt.Errorf("admin.listen %s (in %s): %w", cfg.Admin.Listen, service.ConfigSource(cfg), err)
}

// noServer reports whether err from findServer says only that no server
// answers.
func noServer(err error) bool {
	return errors.Is(err, admin.ErrNoServer) || errors.Is(err, errNoAPI)
}

// checkOwner refuses to write data_dir when the command would create a
// file there that the directory's owner (the server's user) could not
// read: the command runs as another user and a file it writes is missing
// (a file written in place keeps its owner). It also refuses files this
// user cannot write.
func checkOwner(cfg *config.Config, r reach) error {
	dir := cfg.DataDir
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // created now, by and for this user, as serve would
	}
	if err != nil {
		return fmt.Errorf("data_dir %q: %w", dir, errCause(err))
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	me := os.Geteuid()
	if int(st.Uid) == me {
		return nil
	}
	var create []string
	for _, f := range append([]string{service.LockFile}, r.files...) {
		p := filepath.Join(dir, f)
		fi, err := os.Stat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			create = append(create, p)
		case err != nil:
			return fmt.Errorf("data_dir: %s: %w", p, errCause(err))
		default:
			if err := syscall.Access(p, 0x4|0x2); err != nil {
				fst, _ := fi.Sys().(*syscall.Stat_t)
				return fmt.Errorf("data_dir: %s belongs to %s, mode %04o, and this command runs as %s: it cannot write it (%v); nothing was changed. %s",
					p, userName(fst.Uid), fi.Mode().Perm(), userName(uint32(me)), err, howToRun(cfg, r, dir, st))
			}
		}
	}
	if len(create) == 0 {
		return nil
	}
	return fmt.Errorf("data_dir %q belongs to %s, but this command runs as %s: it would create %s as %s, which a server running as %s could not read; nothing was changed. %s",
		dir, userName(st.Uid), userName(uint32(me)), strings.Join(create, " and "), userName(uint32(me)), userName(st.Uid), howToRun(cfg, r, dir, st))
}

// howToRun says how to make the change after all.
func howToRun(cfg *config.Config, r reach, dir string, st *syscall.Stat_t) string {
	var ways []string
	if _, ok := admin.DialAddr(cfg.Admin.Listen); ok {
		ways = append(ways, fmt.Sprintf("start the server (systemctl start callscreen) and run this again: it then goes through the admin API at %s", cfg.Admin.Listen))
	} else {
		ways = append(ways, "give the server an admin.listen with a fixed port, start it and run this again: it then goes through the admin API")
	}
	if blocked := unreachable(dir, st.Uid, st.Gid); blocked != "" {
		ways[0] += fmt.Sprintf(" (running this as %s does not work here: %s keeps that user out, as systemd does for a DynamicUser state directory)", userName(st.Uid), blocked)
	} else {
		exe, err := os.Executable()
		if err != nil {
			exe = "callscreen"
		}
		line := []string{"setpriv", "--reuid=" + strconv.Itoa(int(st.Uid)), "--regid=" + strconv.Itoa(int(st.Gid)), "--clear-groups", "--", exe}
		ways = append(ways, "run this as that user: "+shellJoin(append(line, r.args...)))
	}
	ways = append(ways, fmt.Sprintf("if the server does run as %s, give it the directory: chown -R %d:%d %s", userName(uint32(os.Geteuid())), os.Geteuid(), os.Getegid(), shellJoin([]string{dir})))
	return "To make the change: " + strings.Join(ways, "; or ") + "."
}

// unreachable names the directory on the way to dir that a process of
// uid and gid (and no other group) could not pass, "" when none.
func unreachable(dir string, uid, gid uint32) string {
	p, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return ""
	}
	p, err = filepath.Abs(p)
	if err != nil {
		return ""
	}
	for d := p; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return ""
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return ""
		}
		m := fi.Mode().Perm()
		var x bool
		switch {
		case st.Uid == uid:
			x = m&0o100 != 0
		case st.Gid == gid:
			x = m&0o010 != 0
		default:
			x = m&0o001 != 0
		}
		if !x {
			return fmt.Sprintf("%s (%s, mode %04o)", d, userName(st.Uid), m)
		}
		if d == filepath.Dir(d) {
			return ""
		}
	}
}

// userName is "uid 65534 (nobody)", or "uid 61934" without a name.
func userName(uid uint32) string {
	s := "uid " + strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil && u.Username != "" {
		s += " (" + u.Username + ")"
	}
	return s
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// shellJoin quotes words for a POSIX shell.
func shellJoin(words []string) string {
	out := make([]string, len(words))
	for i, w := range words {
		if shellSafe.MatchString(w) {
			out[i] = w
		} else {
			out[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
	}
	return strings.Join(out, " ")
}

// errCause drops the path an *os.PathError repeats.
func errCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
