package cmd

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/trafficctl/trafficctl/pkg/store"
)

// MigrateOptions are the inputs of trafficctl migrate.
type MigrateOptions struct {
	IO        IOStreams
	OpenStore func(context.Context) (*store.Store, error)
}

// NewCmdMigrate builds "trafficctl migrate".
func NewCmdMigrate(f *Factory, runF func(context.Context, *MigrateOptions) error) *cobra.Command {
	opts := &MigrateOptions{}
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending schema migrations",
		Long:  "Apply the schema migrations this database does not have yet, in one transaction. A second run does nothing and says so.",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			opts.IO, opts.OpenStore = f.IO, f.OpenStore
			if runF != nil {
				return runF(c.Context(), opts)
			}
			return runMigrate(c.Context(), opts)
		},
	}
}

func runMigrate(ctx context.Context, opts *MigrateOptions) error {
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	applied, err := st.Migrate(ctx)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		_, err = fmt.Fprintf(opts.IO.Out, "%s: schema is up to date; nothing to apply\n", st.Display())
		return err
	}
	_, err = fmt.Fprintf(opts.IO.Out, "%s: applied %d migration(s): %s\n", st.Display(), len(applied), strings.Join(applied, ", "))
	return err
}
