// Package cli is the focalpoint command line: one cobra command per task, each
// a thin layer over the package that does the work. Commands that print results
// print a table for people, or one JSON document with -o json.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"unicode"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/focalpoint-gateway/focalpoint/pkg/config"
	focalv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/focal/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/node"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// errUsage marks a mistake in how the command was called.
var errUsage = errors.New("usage")

// Main runs the command line and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "focalpoint: "+describe(err))
	var ue usageError
	if errors.As(err, &ue) || errors.Is(err, errUsage) {
		return exitUsage
	}
	return exitFailure
}

type usageError struct{ error }

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "focalpoint",
		Short: "Signed message exchange between two agencies' focal points, with an auditable ledger",
		Long: `focalpoint runs a node through which one agency's focal point exchanges signed
messages (suspect-traveller alerts, case outcomes) with its counterpart, and the
tools to use it and to audit what was exchanged.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentPreRunE = checkRequired
	root.AddCommand(
		newDemoCmd(),
		newServeCmd(),
		newCertsCmd(),
		newAlertCmd(),
		newOutcomeCmd(),
		newInboxCmd(),
		newOutboxCmd(),
		newShowCmd(),
		newPingCmd(),
		newAuditCmd(),
		newLedgerCmd(),
		newKeysCmd(),
		newReferralCmd(),
		newAckCmd(),
		newWithdrawCmd(),
		newCaseCmd(),
		newStatsCmd(),
		newBenchCmd(),
	)
	strictUsage(root)
	return root
}

// requiredFlag marks flags that must be given. Cobra's own required-flag check
// fails with an error that cannot be told from a refusal, so the check is
// ours (checkRequired) and its failure is a usage error.
const requiredFlag = "focalpoint_required"

func required(c *cobra.Command, name string) {
	_ = c.Flags().SetAnnotation(name, requiredFlag, []string{"true"})
}

func checkRequired(c *cobra.Command, _ []string) error {
	var missing []string
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if _, ok := f.Annotations[requiredFlag]; ok && !f.Changed {
			missing = append(missing, "--"+f.Name)
		}
	})
	if len(missing) > 0 {
		return usageError{fmt.Errorf("%s: required %s not given", c.CommandPath(), strings.Join(missing, ", "))}
	}
	return nil
}

// strictUsage makes every mistake in how a command is called a usage error
// (exit 2): argument counts, and unknown subcommands of a group, which cobra
// would otherwise answer with help and exit 0.
func strictUsage(c *cobra.Command) {
	if c.HasSubCommands() {
		c.Args = cobra.NoArgs
		if c.RunE == nil && c.Run == nil {
			c.RunE = func(cmd *cobra.Command, _ []string) error {
				return usageError{fmt.Errorf("%s needs a command; see %s --help", cmd.CommandPath(), cmd.CommandPath())}
			}
		}
	}
	if args := c.Args; args != nil {
		c.Args = func(cmd *cobra.Command, a []string) error {
			if err := args(cmd, a); err != nil {
				return usageError{err}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		strictUsage(sub)
	}
}

// describe renders an error for a person: a gRPC status as its code and
// message, with every field violation on its own line.
func describe(err error) string {
	st, ok := status.FromError(err)
	if !ok {
		return err.Error()
	}
	var b strings.Builder
	b.WriteString(codeWords(st.Code()))
	var violations []*errdetails.BadRequest_FieldViolation
	var retry *errdetails.RetryInfo
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.BadRequest:
			violations = append(violations, d.GetFieldViolations()...)
		case *errdetails.RetryInfo:
			retry = d
		}
	}
	if len(violations) == 0 {
		// The field violations say it all; otherwise the message must.
		b.WriteString(": " + st.Message())
	}
	for _, v := range violations {
		fmt.Fprintf(&b, "\n  %s: %s", v.GetField(), v.GetDescription())
	}
	if retry != nil {
		fmt.Fprintf(&b, "\n  try again in %s", retry.GetRetryDelay().AsDuration())
	}
	return b.String()
}

// codeWords is a status code as words: "InvalidArgument" becomes "invalid argument".
func codeWords(c codes.Code) string {
	var b strings.Builder
	for i, r := range c.String() {
		if unicode.IsUpper(r) && i > 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// output is the -o flag.
type output struct{ format string }

func (o *output) register(c *cobra.Command) {
	c.Flags().StringVarP(&o.format, "output", "o", "text", "output format: text or json")
}

func (o *output) json() (bool, error) {
	switch o.format {
	case "text", "":
		return false, nil
	case "json":
		return true, nil
	}
	return false, usageError{fmt.Errorf("--output %q: want text or json", o.format)}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

var protoJSON = protojson.MarshalOptions{Multiline: true, Indent: "  ", UseProtoNames: true}

func writeProtoJSON(w io.Writer, m proto.Message) error {
	b, err := protoJSON.Marshal(m)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

// configFlag is the --config flag of commands that talk to a node.
type configFlag struct{ path string }

func (f *configFlag) register(c *cobra.Command) {
	c.Flags().StringVar(&f.path, "config", "", "the node's config file (required)")
	required(c, "config")
}

func (f *configFlag) load() (*config.Config, error) {
	return config.Load(f.path)
}

// nodeCommand gives c the --config and -o flags and runs fn with a client of
// the local API of the node the config describes.
func nodeCommand(c *cobra.Command, fn func(cmd *cobra.Command, args []string, client focalv1.FocalServiceClient, asJSON bool) error) *cobra.Command {
	var cf configFlag
	var out output
	cf.register(c)
	out.register(c)
	c.RunE = func(cmd *cobra.Command, args []string) error {
		asJSON, err := out.json()
		if err != nil {
			return err
		}
		client, done, err := cf.client()
		if err != nil {
			return err
		}
		defer done()
		return fn(cmd, args, client, asJSON)
	}
	return c
}

// client connects to the local API of the node the config describes.
func (f *configFlag) client() (focalv1.FocalServiceClient, func(), error) {
	cfg, err := f.load()
	if err != nil {
		return nil, nil, err
	}
	if _, err := os.Stat(cfg.LocalSocket); err != nil {
		return nil, nil, fmt.Errorf("no node is listening at %s (is `focalpoint serve --config %s` running?)", cfg.LocalSocket, f.path)
	}
	conn, err := node.DialLocal(cfg.LocalSocket)
	if err != nil {
		return nil, nil, err
	}
	return focalv1.NewFocalServiceClient(conn), func() { conn.Close() }, nil
}
