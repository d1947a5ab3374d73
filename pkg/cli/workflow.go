package cli

import (
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/focalpoint-gateway/focalpoint/pkg/focal"
	focalv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/focal/v1"
	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/message"
)

// The focal points' workflow beyond alerts and outcomes: acknowledgements,
// withdrawals, referrals, cases and monthly statistics.

func newReferralCmd() *cobra.Command {
	c := &cobra.Command{Use: "referral", Short: "Refer cases (victim repatriation, investigation, document misuse, deportation)"}
	c.AddCommand(
		newSendCmd("referral", "Sign and send a case referral from a file", false, func(d *focalv1.Draft) bool {
			return d.GetPayload().GetReferral() != nil
		}),
		newExampleCmd("referral", func(now time.Time) *focalv1.Draft {
			return &focalv1.Draft{
				Handling: message.ExampleHandling(),
				Payload:  &messagev1.Payload{Kind: &messagev1.Payload_Referral{Referral: message.ExampleReferral(now)}},
			}
		}),
	)
	return c
}

// waitFlag is the --wait flag of the commands that send a message.
type waitFlag struct{ d time.Duration }

func (w *waitFlag) register(c *cobra.Command) {
	c.Flags().DurationVar(&w.d, "wait", 0, fmt.Sprintf("once the message is accepted, wait up to this long (at most %s) for the counterpart's receipt", focal.MaxAwaitReceipt))
}

// request is a submission of d that waits as the flag says.
func (w *waitFlag) request(d *focalv1.Draft) (*focalv1.SubmitMessageRequest, error) {
	if w.d < 0 || w.d > focal.MaxAwaitReceipt {
		return nil, usageError{fmt.Errorf("--wait %s: want from 0 to %s", w.d, focal.MaxAwaitReceipt)}
	}
	req := &focalv1.SubmitMessageRequest{Draft: d}
	if w.d > 0 {
		req.AwaitReceipt = durationpb.New(w.d)
	}
	return req, nil
}

// submitted prints what SubmitMessage answered. A message accepted without
// its receipt within the wait is not a failure: it is in the outbox, and
// delivery goes on.
func submitted(cmd *cobra.Command, asJSON bool, what string, w waitFlag, resp *focalv1.SubmitMessageResponse) error {
	r := resp.GetReceipt()
	if asJSON {
		out := map[string]any{
			"message_id": resp.GetMessageId(), "ledger_index": resp.GetLedgerIndex(), "thread_id": resp.GetThreadId(),
		}
		if at := resp.GetAcceptedAt(); at != nil {
			out["accepted_at"] = at.AsTime().Format(time.RFC3339Nano)
		}
		if w.d > 0 {
			out["receipted"] = r != nil
		}
		if r != nil {
			out["receipt"] = map[string]any{
				"receiver":              r.GetReceipt().GetReceiver().GetAgency(),
				"receiver_ledger_index": r.GetReceipt().GetLedgerIndex(),
				"received_at":           r.GetReceipt().GetReceivedAt().AsTime().Format(time.RFC3339Nano),
				"ledger_index":          r.GetLedgerIndex(),
				"sha256":                hex.EncodeToString(r.GetReceiptSha256()),
			}
		}
		return writeJSON(cmd.OutOrStdout(), out)
	}
	o := cmd.OutOrStdout()
	fmt.Fprintf(o, "accepted %s %s\nledger index %d\ncase %s\n", what, resp.GetMessageId(), resp.GetLedgerIndex(), resp.GetThreadId())
	switch {
	case r != nil:
		fmt.Fprintf(o, "receipted by %s: its ledger index %d, received %s\n", r.GetReceipt().GetReceiver().GetAgency(),
			r.GetReceipt().GetLedgerIndex(), r.GetReceipt().GetReceivedAt().AsTime().UTC().Format(time.RFC3339))
	case w.d > 0:
		fmt.Fprintf(o, "accepted; no receipt yet within %s: it waits in the outbox and delivery goes on\n", w.d)
	}
	return nil
}

// send submits d, waiting as w says, and prints the answer.
func send(cmd *cobra.Command, client focalv1.FocalServiceClient, asJSON bool, what string, w waitFlag, d *focalv1.Draft) error {
	req, err := w.request(d)
	if err != nil {
		return err
	}
	resp, err := client.SubmitMessage(cmd.Context(), req)
	if err != nil {
		return err
	}
	return submitted(cmd, asJSON, what, w, resp)
}

func newAckCmd() *cobra.Command {
	var notActionable bool
	var note, unit string
	var wait waitFlag
	c := nodeCommand(&cobra.Command{
		Use:   "ack --config FILE MESSAGE-ID",
		Short: "Acknowledge a message from the counterpart: read and accepted for action (or not actionable)",
		Args:  cobra.ExactArgs(1),
	}, func(cmd *cobra.Command, args []string, client focalv1.FocalServiceClient, asJSON bool) error {
		ack := &messagev1.Acknowledgement{
			Status:       messagev1.AcknowledgementStatus_ACKNOWLEDGEMENT_STATUS_ACCEPTED_FOR_ACTION,
			Note:         note,
			AssignedUnit: unit,
		}
		if notActionable {
			ack.Status = messagev1.AcknowledgementStatus_ACKNOWLEDGEMENT_STATUS_NOT_ACTIONABLE
		}
		return send(cmd, client, asJSON, "acknowledgement", wait, &focalv1.Draft{
			InReplyTo: args[0],
			// An acknowledgement says nothing about anyone: use only for its purpose.
			Handling: &messagev1.Handling{Code: messagev1.HandlingCode_HANDLING_CODE_H0},
			Payload:  &messagev1.Payload{Kind: &messagev1.Payload_Acknowledgement{Acknowledgement: ack}},
		})
	})
	wait.register(c)
	c.Flags().BoolVar(&notActionable, "not-actionable", false, "read, but no action will be taken (give --note)")
	c.Flags().StringVar(&note, "note", "", "a note; required with --not-actionable")
	c.Flags().StringVar(&unit, "unit", "", "the unit that will act")
	return c
}

var withdrawalCodes = map[string]messagev1.WithdrawalReason{
	"error":     messagev1.WithdrawalReason_WITHDRAWAL_REASON_ERROR,
	"resolved":  messagev1.WithdrawalReason_WITHDRAWAL_REASON_RESOLVED,
	"duplicate": messagev1.WithdrawalReason_WITHDRAWAL_REASON_DUPLICATE,
	"other":     messagev1.WithdrawalReason_WITHDRAWAL_REASON_OTHER,
}

func newWithdrawCmd() *cobra.Command {
	var reason, code, duplicateOf string
	var wait waitFlag
	c := nodeCommand(&cobra.Command{
		Use:   "withdraw --config FILE ALERT-ID --reason TEXT",
		Short: "Withdraw an alert this node sent (supervisors only)",
		Args:  cobra.ExactArgs(1),
	}, func(cmd *cobra.Command, args []string, client focalv1.FocalServiceClient, asJSON bool) error {
		rc, ok := withdrawalCodes[code]
		if !ok {
			return usageError{fmt.Errorf("--code %q: want error, resolved, duplicate or other", code)}
		}
		return send(cmd, client, asJSON, "withdrawal", wait, &focalv1.Draft{
			InReplyTo: args[0],
			Handling:  &messagev1.Handling{Code: messagev1.HandlingCode_HANDLING_CODE_H0},
			Payload: &messagev1.Payload{Kind: &messagev1.Payload_AlertWithdrawal{AlertWithdrawal: &messagev1.AlertWithdrawal{
				ReasonCode: rc, Reason: reason, DuplicateOf: duplicateOf,
			}}},
		})
	})
	wait.register(c)
	c.Flags().StringVar(&reason, "reason", "", "why, in words (required)")
	c.Flags().StringVar(&code, "code", "other", "why, as a code: error, resolved, duplicate or other")
	c.Flags().StringVar(&duplicateOf, "duplicate-of", "", "with --code duplicate: the alert that stays in force")
	required(c, "reason")
	return c
}

func newCaseCmd() *cobra.Command {
	c := &cobra.Command{Use: "case", Short: "Follow cases"}
	c.AddCommand(nodeCommand(&cobra.Command{
		Use:   "show --config FILE ID",
		Short: "Show a whole case in order: alert, updates, acknowledgements, referrals, outcomes (ID of any message in the case, or the case ID)",
		Args:  cobra.ExactArgs(1),
	}, func(cmd *cobra.Command, args []string, client focalv1.FocalServiceClient, asJSON bool) error {
		resp, err := client.GetCase(cmd.Context(), &focalv1.GetCaseRequest{Id: args[0]})
		if err != nil {
			return err
		}
		if asJSON {
			return writeProtoJSON(cmd.OutOrStdout(), resp)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "case %s\n", resp.GetCaseId())
		writeRecords(cmd.OutOrStdout(), resp.GetRecords(), time.Now())
		return nil
	}))
	return c
}

// writeRecords prints messages as a table for people: the handling code
// first, because it says what the reader may do with the rest.
func writeRecords(out io.Writer, recs []*focalv1.MessageRecord, now time.Time) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "HANDLING\tCREATED\tDIR\tKIND\tMESSAGE\tSTATUS\tDUE\tSIGNATURE\tRECEIPT")
	for _, r := range recs {
		h := r.GetMessage().GetHeader()
		dir := "out"
		if r.GetDirection() == focalv1.Direction_DIRECTION_INBOUND {
			dir = "in"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			handlingName(h.GetHandling()), h.GetCreatedAt().AsTime().Format(time.RFC3339), dir,
			message.Kind(r.GetMessage()), h.GetMessageId(), statusName(r), due(r, now), signature(r), receiptName(r.GetReceiptStatus()))
	}
	w.Flush()
	if len(recs) == 0 {
		fmt.Fprintln(out, "(no messages)")
	}
}

func statusName(r *focalv1.MessageRecord) string {
	s := strings.ToLower(strings.TrimPrefix(r.GetStatus().String(), "MESSAGE_STATUS_"))
	if r.GetStatus() == focalv1.MessageStatus_MESSAGE_STATUS_WITHDRAWN && r.GetWithdrawalReason() != "" {
		s += " (" + r.GetWithdrawalReason() + ")"
	}
	return s
}

// due says when an answer is due: OVERDUE, due soon (within a day), or the time.
func due(r *focalv1.MessageRecord, now time.Time) string {
	d := r.GetDeadline()
	if d == nil {
		return "-"
	}
	switch st := r.GetStatus(); {
	case st == focalv1.MessageStatus_MESSAGE_STATUS_ANSWERED || st == focalv1.MessageStatus_MESSAGE_STATUS_WITHDRAWN:
		return "-"
	case r.GetOverdue():
		return "OVERDUE since " + d.AsTime().Format(time.RFC3339)
	case d.AsTime().Sub(now) < 24*time.Hour:
		return "due soon: " + d.AsTime().Format(time.RFC3339)
	}
	return d.AsTime().Format(time.RFC3339)
}

func newStatsCmd() *cobra.Command {
	c := &cobra.Command{Use: "stats", Short: "Monthly statistics from the ledger, and reports to the counterpart"}
	var month string
	show := nodeCommand(&cobra.Command{
		Use:   "show --config FILE --month YYYY-MM",
		Short: "Count a month's messages from the ledger and list the month's statistics reports",
		Args:  cobra.NoArgs,
	}, func(cmd *cobra.Command, _ []string, client focalv1.FocalServiceClient, asJSON bool) error {
		resp, err := client.GetStatistics(cmd.Context(), &focalv1.GetStatisticsRequest{Period: month})
		if err != nil {
			return err
		}
		if asJSON {
			return writeProtoJSON(cmd.OutOrStdout(), resp)
		}
		out := cmd.OutOrStdout()
		fmt.Fprintf(out, "period %s, from the ledger\n", resp.GetPeriod())
		w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "KIND\tSENT\tRECEIVED")
		for _, k := range resp.GetKinds() {
			fmt.Fprintf(w, "%s\t%d\t%d\n", k.GetKind(), k.GetSent(), k.GetReceived())
		}
		for _, o := range resp.GetOutcomes() {
			fmt.Fprintf(w, "outcome %s\t%d\t%d\n", strings.ToLower(strings.TrimPrefix(o.GetOutcome(), "OUTCOME_")), o.GetSent(), o.GetReceived())
		}
		w.Flush()
		fmt.Fprintf(out, "reports for %s: %d\n", resp.GetPeriod(), len(resp.GetReports()))
		writeRecords(out, resp.GetReports(), time.Now())
		return nil
	})
	show.Flags().StringVar(&month, "month", "", "the month, YYYY-MM (required)")
	required(show, "month")

	var sendMonth, notes string
	var deferredDepartures, deferredPassports uint32
	var wait waitFlag
	sendCmd := nodeCommand(&cobra.Command{
		Use:   "send --config FILE --month YYYY-MM [--deferred-departures N] [--deferred-passports N]",
		Short: "Send the month's statistics report; the message counts come from the ledger",
		Args:  cobra.NoArgs,
	}, func(cmd *cobra.Command, _ []string, client focalv1.FocalServiceClient, asJSON bool) error {
		st, err := client.GetStatistics(cmd.Context(), &focalv1.GetStatisticsRequest{Period: sendMonth})
		if err != nil {
			return err
		}
		report := focal.ReportFromLedger(st)
		report.DeferredDepartures, report.DeferredPassportIssuances, report.Notes = deferredDepartures, deferredPassports, notes
		return send(cmd, client, asJSON, "statistics report", wait, &focalv1.Draft{
			Handling: &messagev1.Handling{Code: messagev1.HandlingCode_HANDLING_CODE_H0},
			Payload:  &messagev1.Payload{Kind: &messagev1.Payload_Statistics{Statistics: report}},
		})
	})
	wait.register(sendCmd)
	sendCmd.Flags().StringVar(&sendMonth, "month", "", "the month, YYYY-MM (required)")
	sendCmd.Flags().Uint32Var(&deferredDepartures, "deferred-departures", 0, "departures deferred this month (not in the ledger)")
	sendCmd.Flags().Uint32Var(&deferredPassports, "deferred-passports", 0, "passport issuances deferred this month (not in the ledger)")
	sendCmd.Flags().StringVar(&notes, "notes", "", "notes for the counterpart")
	required(sendCmd, "month")
	c.AddCommand(show, sendCmd)
	return c
}
