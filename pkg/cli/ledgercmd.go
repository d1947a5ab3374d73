package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	focalv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/focal/v1"
)

func newLedgerCmd() *cobra.Command {
	c := &cobra.Command{Use: "ledger", Short: "Work with a node's ledger file"}
	var cf configFlag
	var out string
	backup := &cobra.Command{
		Use:   "backup --config FILE --out FILE",
		Short: "Copy the ledger of a running node, consistently, without stopping it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := os.Stat(out); err == nil {
				return fmt.Errorf("%s exists; not overwriting a ledger copy", out)
			}
			client, done, err := cf.client()
			if err != nil {
				return err
			}
			defer done()
			stream, err := client.BackupLedger(cmd.Context(), &focalv1.BackupLedgerRequest{})
			if err != nil {
				return err
			}
			// Written beside the target and renamed only when complete, so a
			// half-copied ledger never carries the name of a good one.
			tmp, err := os.CreateTemp(filepath.Dir(out), ".ledger-backup-*")
			if err != nil {
				return err
			}
			defer os.Remove(tmp.Name())
			var n int64
			for {
				msg, err := stream.Recv()
				if err == io.EOF {
					break
				}
				if err != nil {
					tmp.Close()
					return err
				}
				w, err := tmp.Write(msg.GetChunk())
				n += int64(w)
				if err != nil {
					tmp.Close()
					return err
				}
			}
			if err := tmp.Sync(); err != nil {
				tmp.Close()
				return err
			}
			if err := tmp.Close(); err != nil {
				return err
			}
			// A link fails if out appeared meanwhile, where a rename would replace it.
			if err := os.Link(tmp.Name(), out); err != nil {
				return fmt.Errorf("not overwriting: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%d bytes); check it with: focalpoint audit verify --ledger %s\n", out, n, out)
			return nil
		},
	}
	cf.register(backup)
	backup.Flags().StringVar(&out, "out", "", "file to write (must not exist)")
	required(backup, "out")
	c.AddCommand(backup)
	return c
}
