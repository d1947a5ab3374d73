package node_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	focalv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/focal/v1"
	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/message"
	"github.com/focalpoint-gateway/focalpoint/pkg/node"
)

// Hostile or mistaken drafts at the local API: each is refused with a
// BadRequest naming the field, and nothing is signed or ledgered.
func TestLocalAPIRefusesBadDrafts(t *testing.T) {
	f := newFixture(t)
	cfg, n := f.start(t, nil)
	conn, err := node.DialLocal(cfg.LocalSocket)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := focalv1.NewFocalServiceClient(conn)
	now := time.Now()
	alert := func(edit func(*messagev1.SuspectTravellerAlert)) *focalv1.Draft {
		a := message.ExampleAlert(now)
		edit(a)
		return &focalv1.Draft{Handling: message.ExampleHandling(), Payload: &messagev1.Payload{Kind: &messagev1.Payload_Alert{Alert: a}}}
	}
	outcome := &focalv1.Draft{Handling: message.ExampleHandling(), Payload: &messagev1.Payload{Kind: &messagev1.Payload_Outcome{Outcome: message.ExampleOutcome(now)}}}
	tests := []struct {
		name  string
		draft *focalv1.Draft
		field string
	}{
		{"no draft", nil, "draft"},
		{"no payload", &focalv1.Draft{Handling: message.ExampleHandling()}, "payload"},
		{"no handling code", &focalv1.Draft{Payload: alert(func(*messagev1.SuspectTravellerAlert) {}).Payload}, "header.handling"},
		{"missing family name", alert(func(a *messagev1.SuspectTravellerAlert) { a.Subject.FamilyName = "" }), "payload.alert.subject.family_name"},
		{"MRZ check digit", alert(func(a *messagev1.SuspectTravellerAlert) {
			l := []byte(a.Document.MrzLines[1])
			l[9] = '0' + (l[9]-'0'+1)%10
			a.Document.MrzLines[1] = string(l)
		}), "payload.alert.document.mrz_lines[1]"},
		{"unknown enum value", alert(func(a *messagev1.SuspectTravellerAlert) { a.Category = 99 }), "payload.alert.category"},
		{"victim presented as suspect", alert(func(a *messagev1.SuspectTravellerAlert) {
			a.Category = messagev1.AlertCategory_ALERT_CATEGORY_SUSPECTED_TPPO_VICTIM
			a.Subject.Role = messagev1.SubjectRole_SUBJECT_ROLE_SUSPECT
		}), "payload.alert.subject.role"},
		{"outcome answering nothing", outcome, "header.in_reply_to"},
		{"thread that is not a UUID", func() *focalv1.Draft {
			d := alert(func(*messagev1.SuspectTravellerAlert) {})
			d.ThreadId = "case 42"
			return d
		}(), "header.thread_id"},
	}
	ctx := context.Background()
	size := n.Ledger().Size()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client.SubmitMessage(ctx, &focalv1.SubmitMessageRequest{Draft: tt.draft})
			st := status.Convert(err)
			if st.Code() != codes.InvalidArgument {
				t.Fatalf("code %v (%v), want InvalidArgument", st.Code(), err)
			}
			var fields []string
			for _, d := range st.Details() {
				if br, ok := d.(*errdetails.BadRequest); ok {
					for _, v := range br.GetFieldViolations() {
						fields = append(fields, v.GetField())
					}
				}
			}
			found := false
			for _, f := range fields {
				found = found || f == tt.field
			}
			if !found {
				t.Fatalf("field violations %v do not name %s", fields, tt.field)
			}
			if got := n.Ledger().Size(); got != size {
				t.Fatalf("ledger grew from %d to %d entries", size, got)
			}
		})
	}
}
