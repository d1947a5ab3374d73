package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"sigs.k8s.io/yaml"

	focalv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/focal/v1"
	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/message"
)

// A message file is a Draft in the proto's JSON form, written as JSON or YAML.

func newAlertCmd() *cobra.Command {
	c := &cobra.Command{Use: "alert", Short: "Send suspect-traveller alerts"}
	c.AddCommand(
		newSendCmd("alert", "Sign and send an alert from a file", false, func(d *focalv1.Draft) bool {
			return d.GetPayload().GetAlert() != nil
		}),
		newExampleCmd("alert", func(now time.Time) *focalv1.Draft {
			return &focalv1.Draft{
				Handling: message.ExampleHandling(),
				Payload:  &messagev1.Payload{Kind: &messagev1.Payload_Alert{Alert: message.ExampleAlert(now)}},
			}
		}),
	)
	return c
}

func newOutcomeCmd() *cobra.Command {
	c := &cobra.Command{Use: "outcome", Short: "Send case outcomes"}
	c.AddCommand(
		newSendCmd("outcome", "Sign and send a case outcome answering an alert", true, func(d *focalv1.Draft) bool {
			return d.GetPayload().GetOutcome() != nil
		}),
		newExampleCmd("outcome", func(now time.Time) *focalv1.Draft {
			return &focalv1.Draft{
				Handling: message.ExampleHandling(),
				Payload:  &messagev1.Payload{Kind: &messagev1.Payload_Outcome{Outcome: message.ExampleOutcome(now)}},
			}
		}),
	)
	return c
}

func newSendCmd(kind, short string, reply bool, isKind func(*focalv1.Draft) bool) *cobra.Command {
	var cf configFlag
	var out output
	var file, inReplyTo string
	var wait waitFlag
	c := &cobra.Command{
		Use:   "send --config FILE --file DRAFT [--wait DURATION]",
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := out.json()
			if err != nil {
				return err
			}
			d, err := readDraft(file, cmd.InOrStdin())
			if err != nil {
				return err
			}
			if !isKind(d) {
				return fmt.Errorf("%s: the draft's payload is not %s %s", file, article(kind), kind)
			}
			if inReplyTo != "" {
				d.InReplyTo = inReplyTo
			}
			client, done, err := cf.client()
			if err != nil {
				return err
			}
			defer done()
			return send(cmd, client, asJSON, kind, wait, d)
		},
	}
	cf.register(c)
	out.register(c)
	wait.register(c)
	c.Flags().StringVar(&file, "file", "", "the draft, YAML or JSON (- for standard input)")
	required(c, "file")
	if reply {
		c.Flags().StringVar(&inReplyTo, "in-reply-to", "", "the ID of the alert this answers")
		required(c, "in-reply-to")
	}
	return c
}

func article(s string) string {
	if s != "" && (s[0] == 'a' || s[0] == 'o') {
		return "an"
	}
	return "a"
}

func newExampleCmd(kind string, example func(time.Time) *focalv1.Draft) *cobra.Command {
	return &cobra.Command{
		Use:   "example",
		Short: fmt.Sprintf("Print a filled-in, valid %s draft to edit and send", kind),
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(example(time.Now()))
			if err != nil {
				return err
			}
			y, err := yaml.JSONToYAML(b)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			a := article(kind)
			fmt.Fprintf(w, "# %s %s draft: edit it, then send it with\n#   focalpoint %s send --config NODE.yaml --file THIS.yaml", strings.ToUpper(a[:1])+a[1:], kind, kind)
			if kind == "outcome" {
				fmt.Fprint(w, " --in-reply-to ALERT-ID")
			}
			fmt.Fprint(w, "\n# Every person, document and flight in it is made up.\n")
			_, err = w.Write(y)
			return err
		},
	}
}

// readDraft reads a Draft in the proto's JSON form, as JSON or YAML. Unknown
// fields are errors: a misspelt field must not vanish from a signed alert.
func readDraft(path string, stdin io.Reader) (*focalv1.Draft, error) {
	var b []byte
	var err error
	if path == "-" {
		b, err = io.ReadAll(io.LimitReader(stdin, 4<<20))
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, fmt.Errorf("%s: the draft is empty", path)
	}
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		return nil, fmt.Errorf("%s: not YAML or JSON: %w", path, err)
	}
	var d focalv1.Draft
	if err := protojson.Unmarshal(j, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &d, nil
}
