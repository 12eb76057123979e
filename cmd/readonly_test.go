package cmd

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadOnlySQLiteIsReadNotWritten: a SQLite file this user cannot
// write (0444, in a 0555 folder, as another user's file or a read-only
// mount is) is read by export, status and report, and fetch and migrate
// say in one sentence why they cannot use it. Root writes whatever the
// modes say, so as root the commands run as nobody.
func TestReadOnlySQLiteIsReadNotWritten(t *testing.T) {
	// Not parallel, as the other process tests: a child forked while an
	// in-process run holds a feed's lock file holds it too until it execs.
	dir := readableTempDir(t)
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	dbURL := "sqlite:///" + filepath.Join(data, "trafficctl.db")
	srv, settings := feed(t, dbURL)
	srv.SetEvents(snapshotOf(1, 2, 3), 10)
	if code, _, errOut := run(t, time.Now(), "fetch", "--config", configFile(t, settings)); code != 0 {
		t.Fatalf("fetch: exit %d: %s", code, errOut)
	}
	_, want, _ := run(t, time.Now(), "export", "--database-url", dbURL)
	os.Chmod(filepath.Join(data, "trafficctl.db"), 0o444)
	os.Chmod(data, 0o555)
	t.Cleanup(func() { os.Chmod(data, 0o755) })
	for _, suffix := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(filepath.Join(data, "trafficctl.db"+suffix)); err == nil {
			t.Fatalf("trafficctl.db%s is there: the test would not show that a WAL database is read without it", suffix)
		}
	}
	bin := filepath.Join(dir, "trafficctl")
	copyFile(t, os.Args[0], bin, 0o755)

	readOnly := func(args ...string) (code int, stdout, stderr string) {
		c := exec.Command(bin, args...)
		c.Dir = dir
		c.Env = []string{"TRAFFICCTL_TEST_AS_MAIN=1", "TRAFFICCTL_DATABASE_URL=" + dbURL, "TRAFFICCTL_API_KEY=k", "TRAFFICCTL_SOURCE_URL=" + srv.URL()}
		if os.Geteuid() == 0 {
			c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		}
		var out, errOut strings.Builder
		c.Stdout, c.Stderr = &out, &errOut
		return exitCode(c.Run()), out.String(), errOut.String()
	}
	if code, out, errOut := readOnly("export"); code != 0 || out != want {
		t.Errorf("export: exit %d, %s\n%q, want\n%q", code, errOut, out, want)
	}
	if code, out, errOut := readOnly("status"); code != 0 || !strings.Contains(out, "events:          3 (3 open)") {
		t.Errorf("status: exit %d, %s\n%s", code, errOut, out)
	}
	if code, out, errOut := readOnly("report", "-o", "-"); code != 0 || !strings.Contains(out, `"feeds":["default"]`) {
		t.Errorf("report: exit %d, %s\n%.200s", code, errOut, out)
	}
	const sentence = ": it is read-only here (the file or its folder cannot be written by this user, or the file system is read-only): fetch and migrate write to it, export, status and report can read it\n"
	for _, cmd := range []string{"fetch", "migrate"} {
		if code, _, errOut := readOnly(cmd); code != ExitFailed || !strings.HasSuffix(errOut, sentence) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%s: exit %d, stderr %q", cmd, code, errOut)
		}
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("the feed was asked %d times, want once (by the first fetch only)", n)
	}
}

// readableTempDir is a temporary folder that every user may enter, as
// t.TempDir's folders (0700) are not.
func readableTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	return dir
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_EXCL, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
