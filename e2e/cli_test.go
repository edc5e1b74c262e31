package e2e

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/callscreen/callscreen/agi/agitest"
	"github.com/callscreen/callscreen/internal/citest"
)

// The commands that write the server's state (lists, report, feed) reach
// the running server, as an operator runs them on the host: the same
// configuration file, the server's admin API, the data_dir lock.

// ftcReport is an FTC reported-calls CSV naming caller today.
func ftcReport(caller string) string {
	today := time.Now().UTC().Format("2006-01-02")
	return "Company_Phone_Number,Created_Date,Violation_Date,Consumer_City,Consumer_State,Consumer_Area_Code,Subject,Recorded_Message_Or_Robocall\n" +
		caller + "," + today + "," + today + ",New York,NY,312,debt,Y\n"
}

// cliConfig is baseConfig with the admin API on a fixed free port, where
// the commands can find it.
func cliConfig(t *testing.T) string {
	return baseConfig + "admin:\n  listen: " + freeAddr(t) + "\n"
}

// TestCLIThroughServe: without Redis, each command that changes the
// server's state goes through the running server's admin API, and the
// very next call sees the change; no SIGHUP, no wait.
func TestCLIThroughServe(t *testing.T) {
	p := startServe(t, cliConfig(t), baseFiles)
	write := func(name, body string) string {
		path := filepath.Join(p.dir, name)
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	via := "(callscreen serve at " + p.admin + ")"
	tests := []struct {
		name    string
		args    []string
		stdout  string
		caller  string
		result  string
		reasons string
	}{
		{"lists add", []string{"lists", "add", "+13125550101", "--list", "block", "--note", "robocaller"},
			"added +13125550101 on the block list of tenant default " + via, "+13125550101", "block", "list.block"},
		{"lists import", []string{"lists", "import", write("blacklist.csv", "3125550102,car warranty\nnot-a-number,x\n")},
			"imported 1 entries (freepbx layout), 1 rows rejected, in ", "+13125550102", "block", "list.block"},
		{"lists remove", []string{"lists", "remove", "+13125550101", "--list", "block"},
			"removed +13125550101 on the block list of tenant default " + via, "+13125550101", "allow", ""},
		{"feed import", []string{"feed", "import", write("ftc.csv", ftcReport("3125550103")), "--format", "ftc"},
			"imported 1 rows (1 accepted, 0 rejected, 1 numbers) in ", "+13125550103", "block", "feed.daily_report,feed.robocall"},
		{"report spam", []string{"report", "spam", "+13125550104", "--agent", "ann"},
			"reported +13125550104 as spam for tenant default " + via, "+13125550104", "block", "caller.reported_spam"},
		{"report clear", []string{"report", "clear", "+13125550104"},
			"withdrew the report on +13125550104 for tenant default " + via, "+13125550104", "allow", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := callscreen(t, p.dir, append(tt.args, "--config", p.config)...)
			if code != 0 || !strings.Contains(out, tt.stdout) {
				t.Fatalf("exit %d\nstdout %q (want %q)\nstderr %q", code, out, tt.stdout, errOut)
			}
			if !strings.Contains(out, "callscreen serve at "+p.admin) {
				t.Fatalf("the command did not go through the server: %q", out)
			}
			tr := call(t, p, agitest.Call{CallerID: tt.caller})
			if tr.Vars["CALLSCREEN_RESULT"] != tt.result || tr.Vars["CALLSCREEN_REASONS"] != tt.reasons {
				t.Fatalf("the next call: %v; want %s %s", tr.Vars, tt.result, tt.reasons)
			}
		})
	}
	// The exports read what the server holds.
	out, errOut, code := callscreen(t, p.dir, "lists", "export", "--config", p.config)
	if code != 0 || !strings.Contains(out, ",block,+13125550102,car warranty,") || strings.Contains(out, "+13125550101") {
		t.Fatalf("lists export: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = callscreen(t, p.dir, "report", "export", "--config", p.config)
	if code != 0 || !strings.HasPrefix(out, "number,kind,time,tenant,agent,decision_id,note\n") || strings.Contains(out, "+13125550104") {
		t.Fatalf("report export: exit %d\n%s%s", code, out, errOut)
	}
	if errs := p.logs.errors(); len(errs) > 0 {
		t.Fatalf("errors in the log:\n%s", strings.Join(errs, "\n"))
	}
}

// lockHolder reads the lock file of a data directory: the pid on its
// first line and the command on its second.
func lockHolder(dir string) (pid int, command string) {
	b, err := os.ReadFile(filepath.Join(dir, "callscreen.lock"))
	if err != nil {
		return 0, ""
	}
	lines := strings.Split(string(b), "\n")
	pid, _ = strconv.Atoi(strings.TrimSpace(lines[0]))
	if len(lines) > 1 {
		command = strings.TrimSpace(lines[1])
	}
	return pid, command
}

// TestCLILockAndServe: with no server running, an import holds data_dir's
// lock while it writes; a serve started meanwhile waits for it (saying
// which command it waits for), then starts with what the import stored.
func TestCLILockAndServe(t *testing.T) {
	dir, cfg := writeServeConfig(t, cliConfig(t), baseFiles)
	data := filepath.Join(dir, "data")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	imp := exec.CommandContext(ctx, bin, "lists", "import", "-", "--list", "block", "--config", cfg)
	imp.Dir, imp.Env = dir, cleanEnv()
	stdin, err := imp.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	imp.Stdout, imp.Stderr = &out, &errOut
	if err := imp.Start(); err != nil {
		t.Fatal(err)
	}
	defer imp.Process.Kill()
	// The import has looked for a server, found none and taken the lock;
	// it now reads stdin.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if pid, cmd := lockHolder(data); pid == imp.Process.Pid && cmd == "callscreen lists import" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the import did not take the lock:\n%s", errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}

	p := &process{logs: newLogBuffer(), dir: dir, config: cfg, done: make(chan error, 1)}
	p.start(t, []string{"serve", "--config", cfg}, nil)
	rec := p.logs.waitFor(t, "callscreen serve: waiting for a command that holds data_dir", 30*time.Second)
	if rec["pid"] != float64(imp.Process.Pid) || rec["command"] != "callscreen lists import" || rec["data_dir"] != data {
		t.Fatalf("serve waits for %v", rec)
	}
	if len(p.logs.records("callscreen serving")) > 0 {
		t.Fatal("serve served while the import held data_dir")
	}

	if _, err := io.WriteString(stdin, "number,description\n3125550201,robocaller\n"); err != nil {
		t.Fatal(err)
	}
	stdin.Close()
	if err := imp.Wait(); err != nil || !strings.Contains(out.String(), "imported 1 entries (freepbx layout), 0 rows rejected, in ") || !strings.Contains(out.String(), filepath.Join(data, "lists.db")) {
		t.Fatalf("import: %v\n%s%s", err, out.String(), errOut.String())
	}
	serving := p.logs.waitFor(t, "callscreen serving", 30*time.Second)
	p.agi, _ = serving["agi"].(string)
	p.admin, _ = serving["admin"].(string)
	t.Cleanup(func() { p.stop(t) })
	p.logs.waitFor(t, "callscreen serve: data_dir free again", time.Second)
	if tr := call(t, p, agitest.Call{CallerID: "+13125550201"}); tr.Vars["CALLSCREEN_RESULT"] != "block" || tr.Vars["CALLSCREEN_REASONS"] != "list.block" {
		t.Fatalf("the imported caller after serve started: %v", tr.Vars)
	}
}

// TestCLISilentServer: a server that holds data_dir but does not answer
// its admin API (stopped with SIGSTOP, or with the API off) gets no
// change behind its back: the command says so and exits 1. Once it
// answers again, the command goes through it.
func TestCLISilentServer(t *testing.T) {
	t.Run("stuck", func(t *testing.T) {
		p := startServe(t, cliConfig(t), baseFiles)
		pid := p.cmd.Process.Pid
		p.signal(t, syscall.SIGSTOP)
		stopped := true
		defer func() {
			if stopped {
				_ = p.cmd.Process.Signal(syscall.SIGCONT)
			}
		}()
		out, errOut, code := callscreen(t, p.dir, "lists", "add", "+13125550301", "--list", "block", "--config", p.config, "--wait", "1s")
		for _, want := range []string{
			`callscreen lists add: data_dir "` + filepath.Join(p.dir, "data") + `" is held by callscreen serve (pid ` + strconv.Itoa(pid) + `), but no admin API answered at ` + p.admin,
			"within 1s",
			"the change would not reach it, so nothing was changed",
		} {
			if code != 1 || out != "" || !strings.Contains(errOut, want) {
				t.Errorf("exit %d\nstdout %q\nstderr %q\nwant %q", code, out, errOut, want)
			}
		}
		p.signal(t, syscall.SIGCONT)
		stopped = false
		if tr := call(t, p, agitest.Call{CallerID: "+13125550301"}); tr.Vars["CALLSCREEN_RESULT"] != "allow" {
			t.Fatalf("the refused entry applies: %v", tr.Vars)
		}
		out, errOut, code = callscreen(t, p.dir, "lists", "add", "+13125550301", "--list", "block", "--config", p.config)
		if code != 0 || !strings.Contains(out, "(callscreen serve at "+p.admin+")") {
			t.Fatalf("once the server answers: exit %d\n%s%s", code, out, errOut)
		}
		if tr := call(t, p, agitest.Call{CallerID: "+13125550301"}); tr.Vars["CALLSCREEN_RESULT"] != "block" {
			t.Fatalf("after the add through the server: %v", tr.Vars)
		}
	})
	t.Run("admin API off", func(t *testing.T) {
		p := startServe(t, baseConfig+"admin:\n  listen: \"\"\n", baseFiles)
		out, errOut, code := callscreen(t, p.dir, "feed", "import", "-", "--config", p.config)
		want := `callscreen feed import: data_dir "` + filepath.Join(p.dir, "data") + `" is held by callscreen serve (pid ` + strconv.Itoa(p.cmd.Process.Pid) + `), and its admin API is off (admin.listen is empty in ` + p.config + `)`
		if code != 1 || out != "" || !strings.HasPrefix(errOut, want) {
			t.Fatalf("exit %d\nstdout %q\nstderr %q\nwant %q", code, out, errOut, want)
		}
	})
}

// TestCLIServiceUser: the service runs as its own user (65534 here, with
// setpriv, as a service manager would) and owns data_dir. A command run
// as root goes through the running service, and every file in data_dir
// stays the service's. With the service stopped, root is refused where it
// would create a file the service could not read, naming the owner and
// the setpriv line that works; run that way, the change is there when the
// service starts again.
func TestCLIServiceUser(t *testing.T) {
	if os.Geteuid() != 0 {
		citest.Unavailable(t, "needs root to run the service as another user")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		citest.Unavailable(t, "setpriv (util-linux) is not installed")
	}
	const uid = 65534
	dir, cfg := writeServeConfig(t, cliConfig(t), baseFiles)
	// The service user must reach the binary, the configuration and the
	// list files.
	for d := dir; d != filepath.Dir(d) && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	// The service's own directory, as systemd's StateDirectory= makes it.
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(data, uid, uid); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel) // after the service's own clean-up, which stops it
	asService := func(args ...string) *exec.Cmd {
		return exec.CommandContext(ctx, setpriv, append([]string{"--reuid=" + strconv.Itoa(uid), "--regid=" + strconv.Itoa(uid), "--clear-groups", "--", bin}, args...)...)
	}
	startService := func() *process {
		p := &process{logs: newLogBuffer(), dir: dir, config: cfg, done: make(chan error, 1)}
		p.startCmd(t, asService("serve", "--config", cfg), nil)
		serving := p.logs.waitFor(t, "callscreen serving", 30*time.Second)
		p.agi, _ = serving["agi"].(string)
		p.admin, _ = serving["admin"].(string)
		return p
	}
	allTheService := func(when string) {
		t.Helper()
		err := filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			if owner := fi.Sys().(*syscall.Stat_t).Uid; owner != uid {
				t.Errorf("%s: %s belongs to uid %d", when, path, owner)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	p := startService()
	out, errOut, code := callscreen(t, dir, "lists", "add", "+13125550401", "--list", "block", "--config", cfg)
	if code != 0 || !strings.Contains(out, "(callscreen serve at "+p.admin+")") {
		t.Fatalf("lists add as root with the service running: exit %d\n%s%s", code, out, errOut)
	}
	if tr := call(t, p, agitest.Call{CallerID: "+13125550401"}); tr.Vars["CALLSCREEN_RESULT"] != "block" {
		t.Fatalf("after lists add: %v", tr.Vars)
	}
	allTheService("with the service running")
	p.stop(t)

	ftc := filepath.Join(dir, "ftc.csv")
	if err := os.WriteFile(ftc, []byte(ftcReport("3125550402")), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = callscreen(t, dir, "feed", "import", ftc, "--format", "ftc", "--config", cfg)
	for _, want := range []string{
		`data_dir "` + data + `" belongs to uid 65534 (nobody), but this command runs as uid 0 (root): it would create ` + filepath.Join(data, "feed.db") + " as uid 0 (root)",
		"nothing was changed",
		"setpriv --reuid=65534 --regid=65534 --clear-groups -- " + bin + " feed import " + ftc + " --format ftc --config " + cfg,
	} {
		if code != 1 || out != "" || !strings.Contains(errOut, want) {
			t.Errorf("feed import as root, service stopped: exit %d\nstdout %q\nstderr %q\nwant %q", code, out, errOut, want)
		}
	}
	allTheService("after the refusal")

	// As the refusal says: run it as the service's user.
	imp := asService("feed", "import", ftc, "--format", "ftc", "--config", cfg)
	imp.Dir, imp.Env = dir, cleanEnv()
	if b, err := imp.CombinedOutput(); err != nil || !strings.Contains(string(b), "imported 1 rows") {
		t.Fatalf("feed import as the service user: %v\n%s", err, b)
	}
	// A file that exists is written in place: root may, and it stays the
	// service's.
	out, errOut, code = callscreen(t, dir, "lists", "add", "+13125550403", "--list", "block", "--config", cfg)
	if code != 0 || !strings.Contains(out, "("+filepath.Join(data, "lists.db")+")") {
		t.Fatalf("lists add as root onto the service's lists.db: exit %d\n%s%s", code, out, errOut)
	}
	allTheService("after the commands")

	p = startService()
	t.Cleanup(func() { p.stop(t) })
	for _, caller := range []string{"+13125550401", "+13125550402", "+13125550403"} {
		if tr := call(t, p, agitest.Call{CallerID: caller}); tr.Vars["CALLSCREEN_RESULT"] != "block" {
			t.Errorf("%s after the restart: %v", caller, tr.Vars)
		}
	}
	if errs := p.logs.errors(); len(errs) > 0 {
		t.Fatalf("errors in the service's log:\n%s", strings.Join(errs, "\n"))
	}
}
