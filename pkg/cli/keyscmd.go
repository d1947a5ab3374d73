package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/focalpoint-gateway/focalpoint/pkg/audit"
	"github.com/focalpoint-gateway/focalpoint/pkg/keys"
)

func newKeysCmd() *cobra.Command {
	c := &cobra.Command{Use: "keys", Short: "Show a node's published keys"}
	var cf configFlag
	show := &cobra.Command{
		Use:   "show --config FILE",
		Short: "Print the node's verifier keys, one a line after its role, for auditors to keep",
		Long: `show prints this node's verifier keys and, as configured here, its
counterpart's, one a line after its role, in the form audit --keys reads:

  log       signs the node's checkpoints of its ledger; named after the ledger
  cosigner  the same key in its cosignature/v1 (0x04) form: cosigns the
            counterpart's checkpoints
  messages  signs envelopes and receipts`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := cf.load()
			if err != nil {
				return err
			}
			msgs, err := keys.LoadSigner(cfg.MessagesKey)
			if err != nil {
				return err
			}
			logKey, err := keys.LoadSigner(cfg.LogKey)
			if err != nil {
				return err
			}
			cosigner, err := logKey.Cosigner()
			if err != nil {
				return err
			}
			_, peerMsgs, err := keys.LoadVerifier(cfg.Counterpart.MessagesKey)
			if err != nil {
				return err
			}
			_, peerLog, err := keys.LoadVerifier(cfg.Counterpart.LogKey)
			if err != nil {
				return err
			}
			peerCosigner, _, err := audit.CosignerKey(peerLog)
			if err != nil {
				return fmt.Errorf("counterpart.log_key: %w", err)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "# %s (%s)\nlog %s\ncosigner %s\nmessages %s\n",
				cfg.ID, cfg.Agency, logKey.VerifierKey(), cosigner.VerifierKey(), msgs.VerifierKey())
			fmt.Fprintf(w, "# counterpart %s (%s), as configured here\nlog %s\ncosigner %s\nmessages %s\n",
				cfg.Counterpart.ID, cfg.Counterpart.Agency, peerLog, peerCosigner, peerMsgs)
			return nil
		},
	}
	cf.register(show)
	c.AddCommand(show)
	return c
}
