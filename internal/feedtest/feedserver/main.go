// Command feedserver serves Open511 fixture bodies on loopback, for the demo
// and the command-line benchmarks. It prints its events URL and serves until
// it is stopped.
//
//	go run ./internal/feedtest/feedserver testdata/511/events_page1.json testdata/511/events_page2.json
//	go run ./internal/feedtest/feedserver -replay testdata/511-real-2021
//	go run ./internal/feedtest/feedserver -generate 10000 -change-every 100
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"syscall"

	"github.com/trafficctl/trafficctl/internal/feedtest"
)

func main() {
	replay := flag.String("replay", "", "folder of snap_*.json event lists, served one snapshot per fetch in name order")
	pageSize := flag.Int("page-size", 500, "events per page when replaying")
	urlFile := flag.String("url-file", "", "also write the events URL to this file")
	generate := flag.Int("generate", 0, "serve this many generated 511-shaped events (about 1.5 KB each)")
	seed := flag.Uint64("seed", 1, "with -generate: which set of events (ids differ between seeds)")
	changeEvery := flag.Int("change-every", 0, "with -generate: every fetch sees every N-th event changed (100 means 1%)")
	flag.Parse()
	srv := feedtest.New()
	defer srv.Close()
	if *generate > 0 {
		base := feedtest.GenerateEvents(*generate, *seed)
		if *changeEvery <= 0 {
			srv.SetEvents(base, *pageSize)
		} else {
			// Consecutive revisions differ in the same 1/N of the events; the
			// server cycles through them so that every fetch sees that change.
			const revisions = 8
			snaps := make([][]json.RawMessage, revisions)
			for r := range snaps {
				snaps[r] = feedtest.ChangeEvents(base, *seed, *changeEvery, uint64(r+1))
			}
			srv.Cycle(snaps, *pageSize)
		}
	} else if *replay != "" {
		files, _ := filepath.Glob(filepath.Join(*replay, "snap_*.json"))
		sort.Strings(files)
		events := make([][]json.RawMessage, 0, len(files))
		for _, f := range files {
			list, err := feedtest.ReadSnapshotList(f)
			if err != nil {
				fail(err)
			}
			events = append(events, list)
		}
		if len(events) == 0 {
			fail(fmt.Errorf("no snap_*.json files in %s", *replay))
		}
		srv.Replay(events, *pageSize)
	} else {
		if flag.NArg() == 0 {
			fail(fmt.Errorf("give page bodies to serve, or -replay FOLDER"))
		}
		if err := srv.SetFiles(flag.Args()...); err != nil {
			fail(err)
		}
	}
	fmt.Println(srv.URL())
	if *urlFile != "" {
		if err := os.WriteFile(*urlFile, []byte(srv.URL()), 0o644); err != nil {
			fail(err)
		}
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "feedserver:", err)
	os.Exit(1)
}
