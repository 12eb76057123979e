package export_test

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/trafficctl/trafficctl/pkg/export"
)

var csvEvents = export.Options{Table: export.Events, Format: export.CSV}

// withUmask runs the rest of the test with the process umask set to mask.
// The umask is process-wide: these tests do not run in parallel.
func withUmask(t *testing.T, mask int) {
	old := syscall.Umask(mask)
	t.Cleanup(func() { syscall.Umask(old) })
}

func TestToFileNewFileHonoursTheUmask(t *testing.T) {
	st := seeded(t, 3)
	for _, mask := range []int{0o022, 0o077, 0o027} {
		withUmask(t, mask)
		path := filepath.Join(t.TempDir(), "events.csv")
		if _, err := export.ToFile(context.Background(), st, csvEvents, path); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if want := fs.FileMode(0o666 &^ mask); fi.Mode() != want {
			t.Errorf("umask %03o: new file has mode %v, want %v", mask, fi.Mode(), want)
		}
	}
}

func TestToFileKeepsAnExistingFilesMode(t *testing.T) {
	st := seeded(t, 3)
	withUmask(t, 0o022)
	path := filepath.Join(t.TempDir(), "events.csv")
	if err := os.WriteFile(path, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o640)
	if _, err := export.ToFile(context.Background(), st, csvEvents, path); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode() != 0o640 {
		t.Errorf("mode %v, want the file's own -rw-r-----", fi.Mode())
	}
	if b, _ := os.ReadFile(path); !strings.HasPrefix(string(b), "feed,id,") {
		t.Errorf("content not replaced: %q", b)
	}
}

func TestToFileThroughASymlinkReplacesItsTarget(t *testing.T) {
	st := seeded(t, 3)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "data", "events.csv")
	os.WriteFile(target, []byte("old\n"), 0o644)
	tests := []struct{ name, link, target string }{
		{"to a file", "latest.csv", target},
		{"relative, to a file", "rel.csv", target},
		{"dangling", "next.csv", filepath.Join(dir, "data", "next.csv")},
		{"chain to a dangling one", "chain.csv", filepath.Join(dir, "data", "next2.csv")},
	}
	os.Symlink(target, filepath.Join(dir, "latest.csv"))
	os.Symlink(filepath.Join("data", "events.csv"), filepath.Join(dir, "rel.csv"))
	os.Symlink(filepath.Join("data", "next.csv"), filepath.Join(dir, "next.csv"))
	os.Symlink("next2.csv", filepath.Join(dir, "data", "hop.csv"))
	os.Symlink(filepath.Join("data", "hop.csv"), filepath.Join(dir, "chain.csv"))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			link := filepath.Join(dir, tt.link)
			before, err := os.Readlink(link)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := export.ToFile(context.Background(), st, csvEvents, link); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Lstat(link)
			if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
				t.Fatalf("%s is no longer a symlink: %v %v", tt.link, fi.Mode(), err)
			}
			if after, _ := os.Readlink(link); after != before {
				t.Fatalf("the link now points to %q, was %q", after, before)
			}
			b, err := os.ReadFile(tt.target)
			if err != nil || !strings.HasPrefix(string(b), "feed,id,") {
				t.Fatalf("target %s: %q %v", tt.target, b, err)
			}
			entries, _ := os.ReadDir(filepath.Dir(tt.target))
			for _, e := range entries {
				if strings.HasSuffix(e.Name(), ".tmp") {
					t.Errorf("temporary file left: %s", e.Name())
				}
			}
		})
	}
}

func TestToFileWritesIntoAFIFO(t *testing.T) {
	st := seeded(t, 3)
	fifo := filepath.Join(t.TempDir(), "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	got := make(chan string, 1)
	go func() {
		f, err := os.Open(fifo) // waits for the writer
		if err != nil {
			got <- err.Error()
			return
		}
		defer f.Close()
		b, _ := io.ReadAll(f) // until the writer closes
		got <- string(b)
	}()
	if _, err := export.ToFile(context.Background(), st, csvEvents, fifo); err != nil {
		t.Fatal(err)
	}
	// Checked before waiting for the reader: had the FIFO been replaced,
	// the reader would wait for a writer forever.
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
		t.Fatalf("the FIFO was replaced: %v %v", fi.Mode(), err)
	}
	if b := <-got; !strings.HasPrefix(b, "feed,id,") || strings.Count(b, "\n") != 4 {
		t.Fatalf("the reader got %q", b)
	}
}

func TestToFileWritesIntoADevice(t *testing.T) {
	st := seeded(t, 3)
	// A null device of our own first (root may create one): replacing the
	// real /dev/null would break the machine.
	own := filepath.Join(t.TempDir(), "null")
	if err := syscall.Mknod(own, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
		t.Logf("mknod: %v; only /dev/null is tested", err)
		own = ""
	}
	for _, dev := range []string{own, "/dev/null"} {
		if dev == "" {
			continue
		}
		if _, err := export.ToFile(context.Background(), st, csvEvents, dev); err != nil {
			t.Fatalf("export to %s: %v", dev, err)
		}
		fi, err := os.Stat(dev)
		if err != nil || fi.Mode()&fs.ModeCharDevice == 0 {
			t.Fatalf("%s is no longer a character device: %v %v", dev, fi.Mode(), err)
		}
	}
}

func TestToFileErrorsNameThePathGiven(t *testing.T) {
	st := seeded(t, 3)
	dir := t.TempDir()
	file := filepath.Join(dir, "file.csv")
	os.WriteFile(file, []byte("x"), 0o644)
	folder := filepath.Join(dir, "out")
	os.Mkdir(folder, 0o755)
	for _, path := range []string{folder, filepath.Join(file, "x.csv"), filepath.Join(dir, "missing", "x.csv")} {
		_, err := export.ToFile(context.Background(), st, csvEvents, path)
		if err == nil {
			t.Fatalf("export to %s succeeded", path)
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "export to "+path+": ") || strings.Contains(msg, ".tmp") || strings.Count(msg, dir) != 1 {
			t.Errorf("error %q: want one naming %s only", msg, path)
		}
	}
	if fi, err := os.Stat(folder); err != nil || !fi.IsDir() {
		t.Fatalf("the folder was replaced: %v", err)
	}
}

// TestToFileExplainsADanglingSymlinkInAMissingFolder: a symlink whose
// target's folder does not exist is one sentence saying so.
func TestToFileExplainsADanglingSymlinkInAMissingFolder(t *testing.T) {
	st := seeded(t, 3)
	dir := t.TempDir()
	link, target := filepath.Join(dir, "latest.csv"), filepath.Join(dir, "gone", "events.csv")
	os.Symlink(target, link)
	want := "export to " + link + ": it is a symlink to " + target + ", whose folder does not exist"
	if _, err := export.ToFile(context.Background(), st, csvEvents, link); err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}
