package focal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc"

	"github.com/focalpoint-gateway/focalpoint/pkg/identity"
)

// Roles on the local API. A caller over mutual TLS has the role its SPIFFE ID
// is given in the node's config; a caller on the unix socket has the role the
// config gives the socket (whose file mode decides who may connect at all).
type Role string

// The roles.
const (
	// Officer sends messages, reads and acknowledges.
	Officer Role = "officer"
	// Supervisor can do all an officer can, and withdraw alerts and export.
	Supervisor Role = "supervisor"
	// Auditor reads and exports, and sends nothing.
	Auditor Role = "auditor"
)

// Permission is what a call needs.
type Permission string

// The permissions.
const (
	Read        Permission = "read"
	Send        Permission = "send"
	Acknowledge Permission = "acknowledge"
	Withdraw    Permission = "withdraw"
	Export      Permission = "export"
)

var grants = map[Role][]Permission{
	Officer:    {Read, Send, Acknowledge},
	Supervisor: {Read, Send, Acknowledge, Withdraw, Export},
	Auditor:    {Read, Export},
}

// ParseRole parses a role name from a config.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if _, ok := grants[r]; !ok {
		return "", fmt.Errorf("focal: %q is not a role (officer, supervisor, auditor)", s)
	}
	return r, nil
}

// ErrPermissionDenied: the caller's role does not allow the call.
var ErrPermissionDenied = errors.New("focal: permission denied")

// methodNeeds is what each local API method needs. SubmitMessage needs more,
// by message kind, checked in the handler.
var methodNeeds = map[string]Permission{
	"SubmitMessage":       Send,
	"GetMessage":          Read,
	"ListInbox":           Read,
	"ListMessages":        Read,
	"WatchInbox":          Read,
	"GetCase":             Read,
	"AwaitReceipt":        Read,
	"GetOutbox":           Read,
	"GetCheckpoint":       Read,
	"GetInclusionProof":   Read,
	"GetConsistencyProof": Read,
	"GetStatistics":       Read,
	"BackupLedger":        Export,
	"ExportEntries":       Export,
}

// Access decides who may call what.
type Access struct {
	// byID gives callers over mutual TLS their role; nil for the socket.
	byID map[spiffeid.ID]Role
	// fixed is the role of every caller on the socket.
	fixed Role
	log   *slog.Logger
}

// SocketAccess gives every caller the same role.
func SocketAccess(role Role, log *slog.Logger) *Access {
	return &Access{fixed: role, log: orDiscard(log)}
}

// IDAccess gives each SPIFFE ID its role; any other caller can do nothing.
func IDAccess(roles map[spiffeid.ID]Role, log *slog.Logger) *Access {
	return &Access{byID: roles, log: orDiscard(log)}
}

func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

type roleKey struct{}

// role finds the caller's role, or why it has none.
func (a *Access) role(ctx context.Context) (Role, string, error) {
	if a.byID == nil {
		return a.fixed, "local socket", nil
	}
	id, err := identity.PeerID(ctx)
	if err != nil {
		return "", "unknown", err
	}
	r, ok := a.byID[id]
	if !ok {
		return "", id.String(), fmt.Errorf("%w: %s has no role on this node", ErrPermissionDenied, id)
	}
	return r, id.String(), nil
}

// allow checks that the role in ctx grants perm. Every refusal is logged.
func allow(ctx context.Context, perm Permission, method string) error {
	c, _ := ctx.Value(roleKey{}).(caller)
	if c.role != "" && slices.Contains(grants[c.role], perm) {
		return nil
	}
	c.access.log.WarnContext(ctx, "local API call refused", "caller", c.who, "role", string(c.role), "needs", string(perm), "method", method)
	return fmt.Errorf("%w: %s (%s) may not %s", ErrPermissionDenied, c.who, orNone(c.role), perm)
}

func orNone(r Role) string {
	if r == "" {
		return "no role"
	}
	return "role " + string(r)
}

// logger is the log of the access control that admitted the call, for what
// goes wrong in a call that still succeeds.
func logger(ctx context.Context) *slog.Logger {
	c, _ := ctx.Value(roleKey{}).(caller)
	if c.access == nil {
		return orDiscard(nil)
	}
	return c.access.log
}

type caller struct {
	role   Role
	who    string
	access *Access
}

func (a *Access) enter(ctx context.Context, fullMethod string) (context.Context, error) {
	method := fullMethod[strings.LastIndexByte(fullMethod, '/')+1:]
	role, who, err := a.role(ctx)
	ctx = context.WithValue(ctx, roleKey{}, caller{role: role, who: who, access: a})
	if err != nil {
		a.log.WarnContext(ctx, "local API call refused", "caller", who, "method", method, "err", err)
		return ctx, fmt.Errorf("%w: %s has no role on this node", ErrPermissionDenied, who)
	}
	need, ok := methodNeeds[method]
	if !ok {
		// Health and reflection are not the focal service's business.
		if strings.HasPrefix(fullMethod, "/focalpoint.") {
			return ctx, fmt.Errorf("%w: %s is not a known method", ErrPermissionDenied, method)
		}
		return ctx, nil
	}
	return ctx, allow(ctx, need, method)
}

// UnaryInterceptor enforces the roles on unary calls.
func (a *Access) UnaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := a.enter(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamInterceptor enforces the roles on streams.
func (a *Access) StreamInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := a.enter(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		return handler(srv, &wrappedStream{ServerStream: ss, ctx: ctx})
	}
}

type wrappedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (w *wrappedStream) Context() context.Context { return w.ctx }
