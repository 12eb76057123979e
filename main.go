// trafficctl collects a time series of traffic events from Open511 and WZDx
// feeds into SQLite or PostgreSQL, and exports it as CSV, JSON Lines, GeoJSON
// or Parquet. The commands are in package cmd.
package main

import (
	"os"

	"github.com/trafficctl/trafficctl/cmd"
)

func main() {
	os.Exit(cmd.Main(os.Args[1:]))
}
