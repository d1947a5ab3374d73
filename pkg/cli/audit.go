package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/focalpoint-gateway/focalpoint/pkg/audit"
	"github.com/focalpoint-gateway/focalpoint/pkg/ledger"
)

func newAuditCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "audit",
		Short: "Check ledgers offline: signatures, receipts, and that two ledgers agree",
	}
	c.AddCommand(newAuditVerifyCmd(), newAuditReconcileCmd())
	return c
}

// keysFlag is --keys: the agencies' published keys. Without it, the keys the
// ledger itself records are used.
type keysFlag struct{ path string }

func (f *keysFlag) register(c *cobra.Command) {
	c.Flags().StringVar(&f.path, "keys", "", "published keys file (lines of `messages <vkey>`); default: the keys recorded in the ledger")
}

func (f *keysFlag) load() (*audit.Keys, error) {
	if f.path == "" {
		return nil, nil
	}
	return audit.LoadKeys(f.path)
}

func openLedger(path string) (*ledger.Ledger, error) {
	// Read-only: an audit never changes what it checks, and may run beside a
	// reader of the same copy.
	return ledger.Open(path, ledger.Options{ReadOnly: true})
}

func newAuditVerifyCmd() *cobra.Command {
	var out output
	var kf keysFlag
	var path string
	c := &cobra.Command{
		Use:   "verify --ledger FILE [--keys FILE]",
		Short: "Check every entry, signature and receipt of a ledger copy or a stopped node's ledger",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := out.json()
			if err != nil {
				return err
			}
			keys, err := kf.load()
			if err != nil {
				return err
			}
			l, err := openLedger(path)
			if err != nil {
				return err
			}
			defer l.Close()
			rep, err := audit.Verify(cmd.Context(), l, keys)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), rep)
			}
			if err := rep.WriteText(cmd.OutOrStdout()); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "verify: ok")
			return nil
		},
	}
	out.register(c)
	kf.register(c)
	c.Flags().StringVar(&path, "ledger", "", "the ledger file (required)")
	required(c, "ledger")
	return c
}

func newAuditReconcileCmd() *cobra.Command {
	var out output
	var kf keysFlag
	var paths []string
	c := &cobra.Command{
		Use:   "reconcile --ledger A --ledger B [--keys FILE]",
		Short: "Check that two agencies' ledgers agree on every message and receipt",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := out.json()
			if err != nil {
				return err
			}
			if len(paths) != 2 {
				return usageError{fmt.Errorf("give --ledger exactly twice, one for each agency")}
			}
			keys, err := kf.load()
			if err != nil {
				return err
			}
			var ls [2]*ledger.Ledger
			for i, p := range paths {
				if ls[i], err = openLedger(p); err != nil {
					return err
				}
				defer ls[i].Close()
			}
			found, err := audit.Reconcile(cmd.Context(), ls[0], ls[1], keys)
			if err != nil {
				return err
			}
			if asJSON {
				if err := writeJSON(cmd.OutOrStdout(), map[string]any{"discrepancies": found}); err != nil {
					return err
				}
			} else {
				for _, d := range found {
					fmt.Fprintln(cmd.OutOrStdout(), d.String())
				}
			}
			if len(found) > 0 {
				return fmt.Errorf("reconcile: %d discrepancies", len(found))
			}
			if !asJSON {
				fmt.Fprintln(cmd.OutOrStdout(), "reconcile: ok, the ledgers agree")
			}
			return nil
		},
	}
	out.register(c)
	kf.register(c)
	c.Flags().StringArrayVar(&paths, "ledger", nil, "a ledger file; give two")
	return c
}
