package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/focalpoint-gateway/focalpoint/pkg/audit"
	"github.com/focalpoint-gateway/focalpoint/pkg/ledger"
)

func newAuditCmd() *cobra.Command {
	c := &cobra.Command{
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			debug.SetGCPercent(audit.BatchGCPercent)
			return checkRequired(cmd, args)
		},
		Use:   "audit",
		Short: "Check ledgers offline: signatures, receipts, the transparency log, and that two ledgers agree; prove entries",
	}
	c.AddCommand(newAuditVerifyCmd(), newAuditReconcileCmd(), newAuditProveCmd(), newAuditCheckProofCmd())
	return c
}

// keysFlag is --keys: the agencies' published keys. Without it, the keys the
// ledger itself records are used.
type keysFlag struct{ path string }

func (f *keysFlag) register(c *cobra.Command) {
	c.Flags().StringVar(&f.path, "keys", "", "published keys file (lines of `log|cosigner|messages <vkey>`, as `focalpoint keys show` prints them); default: the keys recorded in the ledger")
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
		Short: "Check every entry, signature, receipt and checkpoint of a ledger copy or a stopped node's ledger",
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
		Short: "Check that two agencies' ledgers agree on every message, receipt and cosigned checkpoint",
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

// Suffixes of the files `audit prove` writes.
const (
	proofSuffix = ".tlog-proof"
	entrySuffix = ".entry"
)

func newAuditProveCmd() *cobra.Command {
	var path, id, dir string
	c := &cobra.Command{
		Use:   "prove --ledger FILE --message ID --out DIR",
		Short: "Write a C2SP tlog-proof that the ledger holds a message, under a checkpoint its counterpart cosigned",
		Long: `prove writes two files for the first entry about a message (its SENT or
RECEIVED entry, which names the SHA-256 of the signed envelope):

  DIR/ID.tlog-proof  a C2SP tlog-proof: the entry's index, an RFC 6962
                     inclusion proof, and the newest checkpoint of the ledger
                     that the counterpart cosigned
  DIR/ID.entry       the entry's bytes exactly as the ledger stores them

Anyone can check them offline with the public libraries, or with
focalpoint audit check-proof, given the ledger's log key (and the
counterpart's, to check the cosignature). The checkpoint must cover the
entry: a message exchanged since the last cosignature cannot be proved yet.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if id == "" || id != filepath.Base(id) || strings.HasPrefix(id, ".") || strings.ContainsAny(id, `/\`) {
				return usageError{fmt.Errorf("--message %q: not a message ID that can name a file", id)}
			}
			l, err := openLedger(path)
			if err != nil {
				return err
			}
			defer l.Close()
			p, err := audit.Prove(l, id)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("prove: %w", err)
			}
			proofFile, entryFile := filepath.Join(dir, id+proofSuffix), filepath.Join(dir, id+entrySuffix)
			if err := os.WriteFile(entryFile, p.Entry, 0o644); err != nil {
				return fmt.Errorf("prove: %w", err)
			}
			if err := os.WriteFile(proofFile, p.TLog.Marshal(), 0o644); err != nil {
				return fmt.Errorf("prove: %w", err)
			}
			c := p.Checked
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "entry     %d of %s, %s of message %s\n", c.Index, c.Origin, ledger.KindName(c.Entry.GetKind()), id)
			fmt.Fprintf(w, "under     checkpoint of %d entries signed by %s, cosigned by %s at %s\n",
				c.Size, c.LogKey, c.CosignedBy, c.CosignedAt.UTC().Format("2006-01-02T15:04:05Z07:00"))
			fmt.Fprintf(w, "wrote     %s\n          %s\n", proofFile, entryFile)
			return nil
		},
	}
	c.Flags().StringVar(&path, "ledger", "", "the ledger file (required)")
	c.Flags().StringVar(&id, "message", "", "the message ID (required)")
	c.Flags().StringVar(&dir, "out", "", "the directory to write the proof and the entry to (required)")
	required(c, "ledger")
	required(c, "message")
	required(c, "out")
	return c
}

func newAuditCheckProofCmd() *cobra.Command {
	var proofPath, entryPath, key, witness string
	c := &cobra.Command{
		Use:   "check-proof --proof FILE --entry FILE --key VKEY [--witness-key VKEY]",
		Short: "Check a tlog-proof of a ledger entry offline, with the public transparency-log libraries",
		Long: `check-proof checks what audit prove wrote: the checkpoint is signed by the
log key (--key, the ledger's log key as its agency published it), and with
--witness-key cosigned by that key (the counterpart's log key, in either of
its forms); it is a checkpoint of the log the key is named after; and the
entry's bytes are at the proof's index of the tree under the checkpoint's
root. A key is given as a verifier key or as a file holding one.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			proof, err := os.ReadFile(proofPath)
			if err != nil {
				return fmt.Errorf("check-proof: %w", err)
			}
			entry, err := os.ReadFile(entryPath)
			if err != nil {
				return fmt.Errorf("check-proof: %w", err)
			}
			logKey, err := keyArg("--key", key)
			if err != nil {
				return err
			}
			witnessKey := ""
			if witness != "" {
				if witnessKey, err = keyArg("--witness-key", witness); err != nil {
					return err
				}
			}
			checked, err := audit.CheckProof(proof, entry, logKey, witnessKey)
			if err != nil {
				return err
			}
			if err := checked.WriteText(cmd.OutOrStdout()); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "check-proof: ok")
			return nil
		},
	}
	c.Flags().StringVar(&proofPath, "proof", "", "the .tlog-proof file (required)")
	c.Flags().StringVar(&entryPath, "entry", "", "the .entry file: the entry's bytes (required)")
	c.Flags().StringVar(&key, "key", "", "the ledger's log key: a verifier key, or a file holding one (required)")
	c.Flags().StringVar(&witness, "witness-key", "", "the counterpart's log or cosigner key, to require its cosignature: a verifier key, or a file holding one")
	required(c, "proof")
	required(c, "entry")
	required(c, "key")
	return c
}

// keyArg is a verifier key given on the command line, or read from the file
// the argument names.
func keyArg(flag, arg string) (string, error) {
	b, err := os.ReadFile(arg)
	switch {
	case err == nil:
		return strings.TrimSpace(string(b)), nil
	case strings.Count(arg, "+") >= 2:
		// Key names hold slashes, so a key looks like a path that is not there.
		return arg, nil
	default:
		return "", usageError{fmt.Errorf("%s %q: neither a verifier key (name+hash+key) nor a readable file: %w", flag, arg, err)}
	}
}
