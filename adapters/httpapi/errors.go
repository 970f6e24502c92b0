package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/domain"
)

// statusOf is THE table from error code to HTTP status (INTERFACE.md);
// codes missing here answer 500.
var statusOf = map[domain.Code]int{
	domain.CodeInvalidArgument: http.StatusBadRequest,
	domain.CodeNotFound:        http.StatusNotFound,
	domain.CodeConflict:        http.StatusPreconditionFailed,
	domain.CodeTooLarge:        http.StatusRequestEntityTooLarge,
	domain.CodeQueueFull:       http.StatusServiceUnavailable,
	domain.CodeNetwork:         http.StatusServiceUnavailable,
	domain.CodeTimeout:         http.StatusGatewayTimeout,
	domain.CodeUnauthorized:    http.StatusUnauthorized,
	domain.CodeForbidden:       http.StatusForbidden,
}

// StatusOf returns the HTTP status for an error (500 for codes not in the table).
func StatusOf(err error) int {
	if s, ok := statusOf[codeOf(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// codeOf is domain.CodeOf, except that a context deadline the app did not
// wrap still reads as a timeout rather than an internal error.
func codeOf(err error) domain.Code {
	c := domain.CodeOf(err)
	if c == domain.CodeInternal && errors.Is(err, context.DeadlineExceeded) {
		return domain.CodeTimeout
	}
	return c
}

// errorBody is {"error":{"code","message"}}.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeError answers err with its status and the JSON error body. Server
// side failures (5xx) are logged with the full error; the client gets the
// user-facing message.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := StatusOf(err)
	if status >= 500 && r.Context().Err() == nil {
		a.log.Warn("request failed", zap.String("method", r.Method), zap.String("path", r.URL.Path),
			zap.Int("status", status), zap.Error(err))
	}
	writeJSON(w, status, errorBody{Error: errorDetail{Code: string(codeOf(err)), Message: domain.Message(err)}})
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // only our own response types get here: a bug
		status = http.StatusInternalServerError
		b, _ = json.Marshal(errorBody{Error: errorDetail{Code: string(domain.CodeInternal), Message: err.Error()}})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// badRequest builds the INVALID_ARGUMENT error of a malformed request.
func badRequest(op, format string, args ...any) error {
	return domain.Errorf(domain.CodeInvalidArgument, op, format, args...)
}
