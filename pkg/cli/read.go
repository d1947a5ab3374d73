package cli

import (
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"sigs.k8s.io/yaml"

	focalv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/focal/v1"
	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/message"
)

func newInboxCmd() *cobra.Command {
	var pageSize int32
	var pageToken string
	c := nodeCommand(&cobra.Command{
		Use:   "inbox --config FILE",
		Short: "List messages received from the counterpart, newest first",
		Args:  cobra.NoArgs,
	}, func(cmd *cobra.Command, _ []string, client focalv1.FocalServiceClient, asJSON bool) error {
		resp, err := client.ListInbox(cmd.Context(), &focalv1.ListInboxRequest{PageSize: pageSize, PageToken: pageToken})
		if err != nil {
			return err
		}
		if asJSON {
			return writeProtoJSON(cmd.OutOrStdout(), resp)
		}
		writeRecords(cmd.OutOrStdout(), resp.GetRecords(), time.Now())
		if t := resp.GetNextPageToken(); t != "" {
			fmt.Fprintf(cmd.OutOrStdout(), "more: --page-token %s\n", t)
		}
		return nil
	})
	c.Flags().Int32Var(&pageSize, "page-size", 50, "messages per page (at most 500)")
	c.Flags().StringVar(&pageToken, "page-token", "", "continue from an earlier page")
	return c
}

func newOutboxCmd() *cobra.Command {
	return nodeCommand(&cobra.Command{
		Use:   "outbox --config FILE",
		Short: "List sent messages waiting for the counterpart's receipt, and requests waiting for its answer",
		Args:  cobra.NoArgs,
	}, func(cmd *cobra.Command, _ []string, client focalv1.FocalServiceClient, asJSON bool) error {
		resp, err := client.GetOutbox(cmd.Context(), &focalv1.GetOutboxRequest{})
		if err != nil {
			return err
		}
		if asJSON {
			return writeProtoJSON(cmd.OutOrStdout(), resp)
		}
		writeOutbox(cmd.OutOrStdout(), resp)
		// Alerts and referrals delivered but not yet answered, with their due
		// times: what the officer may have to chase.
		sent, err := client.ListMessages(cmd.Context(), &focalv1.ListMessagesRequest{
			Kinds: []string{message.KindAlert, message.KindReferral}, Direction: focalv1.Direction_DIRECTION_OUTBOUND, PageSize: 100,
		})
		if err != nil {
			return err
		}
		var waiting []*focalv1.MessageRecord
		for _, r := range sent.GetRecords() {
			if st := r.GetStatus(); st != focalv1.MessageStatus_MESSAGE_STATUS_ANSWERED && st != focalv1.MessageStatus_MESSAGE_STATUS_WITHDRAWN {
				waiting = append(waiting, r)
			}
		}
		fmt.Fprintf(cmd.OutOrStdout(), "\nawaiting the counterpart's answer: %d\n", len(waiting))
		if len(waiting) > 0 {
			writeRecords(cmd.OutOrStdout(), waiting, time.Now())
		}
		return nil
	})
}

func writeOutbox(out io.Writer, resp *focalv1.GetOutboxResponse) {
	fmt.Fprintf(out, "pending %d", resp.GetPending())
	if items := resp.GetItems(); len(items) > 0 {
		fmt.Fprintf(out, ", oldest %s", time.Since(items[0].GetAcceptedAt().AsTime()).Round(time.Second))
	}
	fmt.Fprintln(out)
	if len(resp.GetItems()) == 0 {
		return
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "MESSAGE\tINDEX\tACCEPTED\tATTEMPTS\tLAST ERROR")
	for _, it := range resp.GetItems() {
		fmt.Fprintf(w, "%s\t%d\t%s\t%d\t%s\n", it.GetMessageId(), it.GetLedgerIndex(),
			it.GetAcceptedAt().AsTime().Format(time.RFC3339), it.GetAttempts(), orDash(it.GetLastError()))
	}
	w.Flush()
}

func newShowCmd() *cobra.Command {
	return nodeCommand(&cobra.Command{
		Use:   "show --config FILE MESSAGE-ID",
		Short: "Show one message, its signature checked, its receipt and its ledger entries",
		Args:  cobra.ExactArgs(1),
	}, func(cmd *cobra.Command, args []string, client focalv1.FocalServiceClient, asJSON bool) error {
		resp, err := client.GetMessage(cmd.Context(), &focalv1.GetMessageRequest{MessageId: args[0]})
		if err != nil {
			return err
		}
		if asJSON {
			return writeProtoJSON(cmd.OutOrStdout(), resp.GetRecord())
		}
		return writeRecord(cmd.OutOrStdout(), resp.GetRecord())
	})
}

// writeRecord prints a message for a person: the handling code first, because
// it says what the reader may do with the rest.
func writeRecord(w io.Writer, r *focalv1.MessageRecord) error {
	h := r.GetMessage().GetHeader()
	fmt.Fprintf(w, "HANDLING   %s", handlingName(h.GetHandling()))
	if x := h.GetHandling().GetRestriction(); x != "" {
		fmt.Fprintf(w, " (%s)", x)
	}
	fmt.Fprintln(w)
	direction, party := "to", h.GetRecipient()
	if r.GetDirection() == focalv1.Direction_DIRECTION_INBOUND {
		direction, party = "from", h.GetSender()
	}
	fmt.Fprintf(w, "message    %s (%s)\n", h.GetMessageId(), payloadKind(r.GetMessage()))
	fmt.Fprintf(w, "%-10s %s (%s)\n", direction, party.GetAgency(), party.GetSpiffeId())
	fmt.Fprintf(w, "created    %s\n", h.GetCreatedAt().AsTime().Format(time.RFC3339))
	fmt.Fprintf(w, "case       %s\n", orDash(h.GetThreadId()))
	if h.GetInReplyTo() != "" {
		fmt.Fprintf(w, "replies to %s\n", h.GetInReplyTo())
	}
	fmt.Fprintf(w, "status     %s\n", statusName(r))
	if r.GetDeadline() != nil {
		fmt.Fprintf(w, "due        %s\n", due(r, time.Now()))
	}
	if a := r.GetAnsweredBy(); len(a) > 0 {
		fmt.Fprintf(w, "answered   %s\n", strings.Join(a, ", "))
	}
	fmt.Fprintf(w, "signature  %s\n", signature(r))
	fmt.Fprintf(w, "envelope   sha256:%s\n", hex.EncodeToString(r.GetEnvelopeSha256()))
	fmt.Fprintf(w, "receipt    %s", receiptName(r.GetReceiptStatus()))
	if rc := r.GetReceipt(); rc != nil {
		fmt.Fprintf(w, " by %s at %s, their ledger index %d, sha256:%s",
			rc.GetReceiver().GetAgency(), rc.GetReceivedAt().AsTime().Format(time.RFC3339), rc.GetLedgerIndex(), hex.EncodeToString(r.GetReceiptSha256()))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "ledger")
	for _, e := range r.GetLedgerEntries() {
		fmt.Fprintf(w, "  %6d  %-16s %s\n", e.GetIndex(), e.GetKind(), e.GetRecordedAt().AsTime().Format(time.RFC3339Nano))
	}
	if r.GetMessage().GetPayload() == nil {
		return nil
	}
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(r.GetMessage().GetPayload())
	if err != nil {
		return err
	}
	y, err := yaml.JSONToYAML(b)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "content")
	for _, line := range strings.Split(strings.TrimRight(string(y), "\n"), "\n") {
		fmt.Fprintln(w, "  "+line)
	}
	return nil
}

func handlingName(h *messagev1.Handling) string {
	return strings.TrimPrefix(h.GetCode().String(), "HANDLING_CODE_")
}

func payloadKind(m *messagev1.Message) string {
	switch m.GetPayload().GetKind().(type) {
	case *messagev1.Payload_Alert:
		return "alert"
	case *messagev1.Payload_Outcome:
		return "outcome"
	case *messagev1.Payload_Test:
		return "test"
	}
	return "unknown"
}

func receiptName(s focalv1.ReceiptStatus) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "RECEIPT_STATUS_"))
}

func signature(r *focalv1.MessageRecord) string {
	if r.GetSignatureValid() {
		return "valid (" + r.GetSignedBy() + ")"
	}
	return "INVALID"
}

func receivedAt(r *focalv1.MessageRecord) string {
	for _, e := range r.GetLedgerEntries() {
		if e.GetKind() == "RECEIVED" {
			return e.GetRecordedAt().AsTime().Format(time.RFC3339)
		}
	}
	return "-"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
