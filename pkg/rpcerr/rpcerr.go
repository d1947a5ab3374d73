// Package rpcerr is the one place where the domain errors of the other
// packages become gRPC statuses. Domain packages return plain wrapped errors and
// never import codes; the servers install these interceptors.
//
// Invalid input always comes back as INVALID_ARGUMENT with a google.rpc.BadRequest
// detail naming each field and what is wrong with it, so an agency system can
// point its user at the field.
package rpcerr

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/focalpoint-gateway/focalpoint/pkg/envelope"
	"github.com/focalpoint-gateway/focalpoint/pkg/exchange"
	"github.com/focalpoint-gateway/focalpoint/pkg/focal"
	"github.com/focalpoint-gateway/focalpoint/pkg/ledger"
	"github.com/focalpoint-gateway/focalpoint/pkg/message"
)

// codeOf maps sentinel errors to codes; the first match wins.
var codeOf = []struct {
	err  error
	code codes.Code
}{
	{envelope.ErrMalformed, codes.InvalidArgument},
	{envelope.ErrUnknownKey, codes.Unauthenticated},
	{envelope.ErrBadSignature, codes.Unauthenticated},
	{exchange.ErrNotPeer, codes.PermissionDenied},
	{focal.ErrPermissionDenied, codes.PermissionDenied},
	{exchange.ErrTooLarge, codes.ResourceExhausted},
	{exchange.ErrFork, codes.FailedPrecondition},
	{exchange.ErrNoWitness, codes.Unimplemented},
	{ledger.ErrConflict, codes.AlreadyExists},
	{ledger.ErrDuplicate, codes.AlreadyExists},
	{ledger.ErrNotFound, codes.NotFound},
	{ledger.ErrUnknownMessage, codes.NotFound},
	{ledger.ErrClosed, codes.Unavailable},
	{ledger.ErrReadOnly, codes.FailedPrecondition},
	{ledger.ErrInvalidInput, codes.InvalidArgument},
	{ledger.ErrOutboxFull, codes.ResourceExhausted},
	{ledger.ErrCorrupt, codes.DataLoss},
	{context.DeadlineExceeded, codes.DeadlineExceeded},
	{context.Canceled, codes.Canceled},
}

// Status turns err into a gRPC status error. A status error passes unchanged.
func Status(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	var invalid *message.ValidationError
	if errors.As(err, &invalid) {
		br := &errdetails.BadRequest{}
		for _, v := range invalid.Violations {
			br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{
				Field: v.Field, Description: v.Description,
			})
		}
		return withDetails(codes.InvalidArgument, err.Error(), br)
	}
	var full *exchange.OutboxFullError
	if errors.As(err, &full) {
		return withDetails(codes.ResourceExhausted, err.Error(), &errdetails.RetryInfo{RetryDelay: durationpb.New(full.RetryAfter)})
	}
	if errors.Is(err, envelope.ErrMalformed) {
		return withDetails(codes.InvalidArgument, err.Error(), &errdetails.BadRequest{
			FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "envelope", Description: err.Error()}},
		})
	}
	for _, m := range codeOf {
		if errors.Is(err, m.err) {
			return status.Error(m.code, err.Error())
		}
	}
	return status.Error(codes.Internal, err.Error())
}

func withDetails(c codes.Code, msg string, details ...protoadapt.MessageV1) error {
	st := status.New(c, msg)
	for _, d := range details {
		if ds, err := st.WithDetails(d); err == nil {
			st = ds
		}
	}
	return st.Err()
}

// UnaryServerInterceptor converts the errors of unary handlers and logs
// internal ones, which mean a bug or a failing disk.
func UnaryServerInterceptor(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		resp, err := handler(ctx, req)
		return resp, convert(ctx, log, info.FullMethod, err)
	}
}

// StreamServerInterceptor converts the errors of streaming handlers.
func StreamServerInterceptor(log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		return convert(ss.Context(), log, info.FullMethod, handler(srv, ss))
	}
}

func convert(ctx context.Context, log *slog.Logger, method string, err error) error {
	if err == nil {
		return nil
	}
	s := Status(err)
	if c := status.Code(s); c == codes.Internal || c == codes.DataLoss {
		log.ErrorContext(ctx, "call failed", "method", method, "code", c.String(), "err", err)
	}
	return s
}
