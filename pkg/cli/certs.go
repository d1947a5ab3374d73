package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/focalpoint-gateway/focalpoint/pkg/devpki"
)

func newCertsCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "certs",
		Short: "Make development identities and keys",
	}
	var out string
	var force bool
	dev := &cobra.Command{
		Use:   "dev [--out DIR]",
		Short: "Write a dev PKI for both trust domains: CA bundles, SVIDs, signing keys",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			layout, err := devpki.WriteWithOptions(out, devpki.Default(), time.Now(), devpki.WriteOptions{Force: force})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			for _, n := range layout.Nodes {
				fmt.Fprintf(w, "%s (%s) in %s\n", n.TrustDomain, n.Agency, n.Dir)
				fmt.Fprintf(w, "  node     %s\n  officer  %s\n  auditor  %s\n  messages %s\n", n.NodeID, n.OfficerID, n.AuditorID, n.MessagesVKey)
			}
			return nil
		},
	}
	dev.Flags().StringVar(&out, "out", "certs/dev", "directory to write into")
	dev.Flags().BoolVar(&force, "force", false, "replace identities and keys already there")
	c.AddCommand(dev)
	return c
}
