package cli

import (
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/focalpoint-gateway/focalpoint/pkg/demo"
)

func newDemoCmd() *cobra.Command {
	var dir string
	var verbose bool
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run two nodes on loopback, exchange an alert and its outcome, and audit both ledgers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := demo.Options{Dir: dir, Out: cmd.OutOrStdout()}
			if verbose {
				opts.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			}
			_, err := demo.Run(cmd.Context(), opts)
			return err
		},
	}
	c.Flags().StringVar(&dir, "dir", "", "keep identities, configs and ledgers in this empty directory (default: a temporary one, removed)")
	c.Flags().BoolVarP(&verbose, "verbose", "v", false, "show both nodes' logs")
	return c
}
