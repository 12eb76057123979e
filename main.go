// trafficctl collects a time series of traffic events from an Open511 feed.
package main

import (
	"os"

	"github.com/trafficctl/trafficctl/cmd"
)

func main() {
	os.Exit(cmd.Main(os.Args[1:]))
}
