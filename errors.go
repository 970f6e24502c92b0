package entgldb

import "github.com/entgldb/entgldb-go/domain"

// Error is the one error type every operation returns: a Code, the
// operation and the cause. Test for a class with errors.Is(err, ErrNotFound)
// or read it with CodeOf(err).
type Error = domain.Error

// Code is the machine-readable class of an Error.
type Code = domain.Code

// The error codes.
const (
	CodeNetwork         = domain.CodeNetwork
	CodePersistence     = domain.CodePersistence
	CodeSync            = domain.CodeSync
	CodeConfig          = domain.CodeConfig
	CodeTimeout         = domain.CodeTimeout
	CodeNotFound        = domain.CodeNotFound
	CodeConflict        = domain.CodeConflict
	CodeCorruption      = domain.CodeCorruption
	CodeQueueFull       = domain.CodeQueueFull
	CodeInvalidArgument = domain.CodeInvalidArgument
	CodeTooLarge        = domain.CodeTooLarge
	CodeClockDrift      = domain.CodeClockDrift
	CodeUnauthorized    = domain.CodeUnauthorized
	CodeForbidden       = domain.CodeForbidden
	CodeInternal        = domain.CodeInternal
)

// One sentinel per code, for errors.Is (the same values as domain's).
var (
	ErrNetwork         = domain.ErrNetwork
	ErrPersistence     = domain.ErrPersistence
	ErrSync            = domain.ErrSync
	ErrConfig          = domain.ErrConfig
	ErrTimeout         = domain.ErrTimeout
	ErrNotFound        = domain.ErrNotFound
	ErrConflict        = domain.ErrConflict
	ErrCorruption      = domain.ErrCorruption
	ErrQueueFull       = domain.ErrQueueFull
	ErrInvalidArgument = domain.ErrInvalidArgument
	ErrTooLarge        = domain.ErrTooLarge
	ErrClockDrift      = domain.ErrClockDrift
	ErrUnauthorized    = domain.ErrUnauthorized
	ErrForbidden       = domain.ErrForbidden
)

// CodeOf returns err's code (CodeInternal for an error without one, "" for
// nil).
func CodeOf(err error) Code { return domain.CodeOf(err) }
