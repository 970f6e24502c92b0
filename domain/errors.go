// Package domain is the pure core of entgldb: documents, hybrid logical
// clocks, the oplog hash chain, conflict resolution, vector clocks, queries
// and the typed error. It imports only the standard library and does no I/O.
package domain

import (
	"errors"
	"fmt"
	"strings"
)

// Code is the machine-readable class of an error. Codes are part of the
// user-facing contract (HTTP bodies, CLI output): never rename one.
type Code string

// The error codes of DESIGN.md.
const (
	CodeNetwork         Code = "NETWORK_ERROR"
	CodePersistence     Code = "PERSISTENCE_ERROR"
	CodeSync            Code = "SYNC_ERROR"
	CodeConfig          Code = "CONFIG_ERROR"
	CodeTimeout         Code = "TIMEOUT_ERROR"
	CodeNotFound        Code = "NOT_FOUND"
	CodeConflict        Code = "CONFLICT"
	CodeCorruption      Code = "CORRUPTION"
	CodeQueueFull       Code = "QUEUE_FULL"
	CodeInvalidArgument Code = "INVALID_ARGUMENT"
	CodeTooLarge        Code = "TOO_LARGE"
	CodeClockDrift      Code = "CLOCK_DRIFT"
	CodeUnauthorized    Code = "UNAUTHORIZED"
	// CodeForbidden is a caller who proved who it is but may not do this
	// (an API key without the scope).
	CodeForbidden Code = "FORBIDDEN"
	// CodeInternal marks errors that carry no domain code (bugs, unexpected causes).
	CodeInternal Code = "INTERNAL_ERROR"
)

// Error is the one error type of entgldb. Op names the operation that failed
// ("sqlite.Commit", "collection.Put"), Msg says what was wrong in words a user
// can act on, Err is the wrapped cause (may be nil).
type Error struct {
	Code Code
	Op   string
	Msg  string
	Err  error
	// cause is a %w operand of Errorf: reachable by errors.Is/As, already in Msg.
	cause error
}

// Error reads "op: op: CODE: message: cause", each code once: the operations
// that led there, outermost first, and the code said by the innermost error
// that carries it (an error wrapping one of its own code leaves it out).
func (e *Error) Error() string {
	var b strings.Builder
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	if !carriesCode(e.Unwrap(), e.Code) {
		b.WriteString(string(e.Code))
		if e.Msg != "" || e.Err != nil {
			b.WriteString(": ")
		}
	}
	b.WriteString(e.Msg)
	if e.Err != nil {
		if e.Msg != "" {
			b.WriteString(": ")
		}
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// carriesCode reports whether an *Error with code c is somewhere in err's chain.
func carriesCode(err error, c Code) bool {
	for err != nil {
		if de, ok := err.(*Error); ok && de.Code == c {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, inner := range u.Unwrap() {
				if carriesCode(inner, c) {
					return true
				}
			}
			return false
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		default:
			return false
		}
	}
	return false
}

func (e *Error) Unwrap() error {
	if e.Err != nil {
		return e.Err
	}
	return e.cause
}

// Is makes errors.Is(err, domain.ErrNotFound) true for any *Error with the
// same code, whatever its Op, Msg and cause.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Op == "" && t.Msg == "" && t.Err == nil && t.cause == nil && t.Code == e.Code
}

// Sentinels for errors.Is. They carry only a code.
var (
	ErrNetwork         = &Error{Code: CodeNetwork}
	ErrPersistence     = &Error{Code: CodePersistence}
	ErrSync            = &Error{Code: CodeSync}
	ErrConfig          = &Error{Code: CodeConfig}
	ErrTimeout         = &Error{Code: CodeTimeout}
	ErrNotFound        = &Error{Code: CodeNotFound}
	ErrConflict        = &Error{Code: CodeConflict}
	ErrCorruption      = &Error{Code: CodeCorruption}
	ErrQueueFull       = &Error{Code: CodeQueueFull}
	ErrInvalidArgument = &Error{Code: CodeInvalidArgument}
	ErrTooLarge        = &Error{Code: CodeTooLarge}
	ErrClockDrift      = &Error{Code: CodeClockDrift}
	ErrUnauthorized    = &Error{Code: CodeUnauthorized}
	ErrForbidden       = &Error{Code: CodeForbidden}
)

// Errorf builds an *Error whose message is formatted; a %w verb in format
// also becomes the wrapped cause (and its text stays in the message).
func Errorf(code Code, op, format string, args ...any) *Error {
	wrapped := fmt.Errorf(format, args...)
	return &Error{Code: code, Op: op, Msg: wrapped.Error(), cause: errors.Unwrap(wrapped)}
}

// Wrap gives err a code and an operation. A nil err gives nil. An err that
// already carries a domain code keeps its code (only Op is added around it).
func Wrap(code Code, op string, err error) error {
	if err == nil {
		return nil
	}
	var de *Error
	if errors.As(err, &de) {
		return &Error{Code: de.Code, Op: op, Err: err}
	}
	return &Error{Code: code, Op: op, Err: err}
}

// CodeOf returns the code of the outermost *Error in err's chain, "" for nil
// and CodeInternal for an error that carries no code.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var de *Error
	if errors.As(err, &de) {
		return de.Code
	}
	return CodeInternal
}

// Message returns the user-facing message of err: the innermost *Error's
// Msg with its cause, or err.Error() for foreign errors.
func Message(err error) string {
	var de *Error
	if !errors.As(err, &de) {
		return err.Error()
	}
	for {
		var inner *Error
		if de.Err != nil && errors.As(de.Err, &inner) && de.Msg == "" {
			de = inner
			continue
		}
		break
	}
	msg := de.Msg
	if de.Err != nil {
		if msg == "" {
			msg = de.Err.Error()
		} else {
			msg += ": " + de.Err.Error()
		}
	}
	if msg == "" {
		msg = string(de.Code)
	}
	return msg
}
