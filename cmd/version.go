package cmd

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time: -ldflags "-X github.com/trafficctl/trafficctl/cmd.version=v1.2.3".
var version string

// Version is trafficctl's version: the build-time one, else the module's
// (go install ...@v1.2.3), else "dev".
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// NewCmdVersion prints the version.
func NewCmdVersion(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print trafficctl's version",
		Args:  cobra.NoArgs,
		// The version needs no configuration: skip loading it.
		PersistentPreRunE: func(*cobra.Command, []string) error { f.started = true; return nil },
		RunE: func(c *cobra.Command, args []string) error {
			_, err := fmt.Fprintf(f.IO.Out, "trafficctl %s\n", Version())
			return err
		},
	}
}
