package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/focalpoint-gateway/focalpoint/pkg/keys"
)

func newKeysCmd() *cobra.Command {
	c := &cobra.Command{Use: "keys", Short: "Show a node's published keys"}
	var cf configFlag
	show := &cobra.Command{
		Use:   "show --config FILE",
		Short: "Print the node's verifier keys, one a line after its role, for auditors to keep",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := cf.load()
			if err != nil {
				return err
			}
			s, err := keys.LoadSigner(cfg.MessagesKey)
			if err != nil {
				return err
			}
			_, peer, err := keys.LoadVerifier(cfg.Counterpart.MessagesKey)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "# %s (%s)\nmessages %s\n", cfg.ID, cfg.Agency, s.VerifierKey())
			fmt.Fprintf(w, "# counterpart %s (%s), as configured here\nmessages %s\n", cfg.Counterpart.ID, cfg.Counterpart.Agency, peer)
			return nil
		},
	}
	cf.register(show)
	c.AddCommand(show)
	return c
}
