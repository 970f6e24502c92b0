package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/entgldb/entgldb-go/domain"
)

// UnreachableError is a request the node did not answer: refused, reset,
// timed out. It reads as NETWORK_ERROR; callers that must tell "the node is
// down" from "the node answered NETWORK_ERROR" look for it with errors.As.
type UnreachableError struct {
	Node string // the node's base URL
	// Reading is set when the connection failed while the answer was read.
	Reading bool
	Err     error
}

func (e *UnreachableError) Error() string {
	if e.Reading {
		return fmt.Sprintf("reading answer: %v", e.Err)
	}
	return fmt.Sprintf("node at %s is unreachable: %v", e.Node, netCause(e.Err))
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// netCause drops the *url.Error layer (it repeats method and URL).
func netCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		var oe *net.OpError
		if errors.As(ue.Err, &oe) {
			return oe
		}
		return ue.Err
	}
	return err
}

// apiError turns an `{"error":{"code","message"}}` body into a
// *domain.Error with that code and message; a body without one is an
// INTERNAL_ERROR naming the status.
func apiError(op string, status int, body []byte) error {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error.Code == "" {
		return domain.Errorf(domain.CodeInternal, op, "HTTP %d: %s", status, strings.TrimSpace(string(body)))
	}
	return &domain.Error{Code: domain.Code(e.Error.Code), Op: op, Msg: e.Error.Message}
}

// transportError classifies a request that got no answer: a certificate
// that is not the pinned one is a NETWORK_ERROR holding the
// *PinMismatchError (the node did answer, so it is not unreachable); the
// rest holds an *UnreachableError.
func transportError(op, node string, err error) error {
	var pm *PinMismatchError
	if errors.As(err, &pm) {
		return domain.Wrap(domain.CodeNetwork, op, pm)
	}
	return domain.Wrap(domain.CodeNetwork, op, &UnreachableError{Node: node, Err: err})
}

// plainToTLS recognizes Go's answer to plain HTTP sent to its TLS port.
func plainToTLS(status int, body []byte) bool {
	return status == http.StatusBadRequest && bytes.Contains(body, []byte("HTTP request to an HTTPS server"))
}
