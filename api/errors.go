package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/notary-dev/notary/calendar"
	"github.com/notary-dev/notary/service"
)

// Error is the JSON body of every error response: a stable machine-readable code and a
// message for people.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// errorBody wraps Error on the wire: {"error": {"code": ..., "message": ...}}.
type errorBody struct {
	Error *Error `json:"error"`
}

// The error codes of the API. A code, once published, keeps its meaning and its status.
const (
	codeBadRequest       = "bad_request"
	codeBadJSON          = "bad_json"
	codeBadBody          = "bad_body"
	codeBadDigest        = "bad_digest"
	codeBadCallback      = "bad_callback"
	codeTooManyDigests   = "too_many_digests"
	codeBadAPIKey        = "bad_api_key"
	codeNotFound         = "not_found"
	codeMethodNotAllowed = "method_not_allowed"
	codeBodyTooLarge     = "body_too_large"
	codeUnsupportedMedia = "unsupported_media_type"
	codeRateLimited      = "rate_limited"
	codeTooManyWebhooks  = "too_many_webhooks"
	codeInternal         = "internal"
	codeShuttingDown     = "shutting_down"
	codeBusy             = "busy"
	codeStarting         = "starting"
	codeNotWriter        = "not_writer"
	codeOutcomeUnknown   = "outcome_unknown"
	codeHTTPError        = "http_error"
)

// errorStatus is the one place where error codes get their HTTP status.
var errorStatus = map[string]int{
	codeBadRequest:       http.StatusBadRequest,
	codeBadJSON:          http.StatusBadRequest,
	codeBadBody:          http.StatusBadRequest,
	codeBadDigest:        http.StatusBadRequest,
	codeBadCallback:      http.StatusBadRequest,
	codeTooManyDigests:   http.StatusBadRequest,
	codeBadAPIKey:        http.StatusUnauthorized,
	codeNotFound:         http.StatusNotFound,
	codeMethodNotAllowed: http.StatusMethodNotAllowed,
	codeBodyTooLarge:     http.StatusRequestEntityTooLarge,
	codeUnsupportedMedia: http.StatusUnsupportedMediaType,
	codeRateLimited:      http.StatusTooManyRequests,
	codeTooManyWebhooks:  http.StatusTooManyRequests,
	codeInternal:         http.StatusInternalServerError,
	codeShuttingDown:     http.StatusServiceUnavailable,
	codeBusy:             http.StatusServiceUnavailable,
	codeStarting:         http.StatusServiceUnavailable,
	codeNotWriter:        http.StatusServiceUnavailable,
	codeOutcomeUnknown:   http.StatusBadGateway,
	codeHTTPError:        0, // the status of the router's own error
}

// ErrorCodes returns every error code the API answers with, and its HTTP status (0 for
// http_error, which keeps the status of an HTTP-level failure).
func ErrorCodes() map[string]int { return maps.Clone(errorStatus) }

// apiError returns the error of the given code, with its status from errorStatus.
func apiError(code, format string, args ...any) *Error {
	status, ok := errorStatus[code]
	if !ok || status == 0 {
		panic("api: no status for error code " + code)
	}
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// newError returns an error with an explicit status. The status must be the one
// errorStatus gives the code; the error handler enforces it.
func newError(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// errorHandler is the one place where errors become HTTP statuses.
func errorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		if clientGone(c, err) {
			// Not a failure of the service, and no one is left to read an answer.
			log.Debug("request canceled: the client hung up", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
			return
		}
		var (
			apiErr  *Error
			echoErr *echo.HTTPError
		)
		switch {
		case errors.As(err, &apiErr):
			if status := errorStatus[apiErr.Code]; status != 0 && status != apiErr.Status {
				log.Error("error code answered with the wrong status", "code", apiErr.Code, "status", apiErr.Status, "want", status)
				apiErr = &Error{Status: status, Code: apiErr.Code, Message: apiErr.Message}
			}
		case errors.Is(err, service.ErrNotFound):
			apiErr = apiError(codeNotFound, "%v", err)
		case errors.Is(err, service.ErrClosed):
			apiErr = apiError(codeShuttingDown, "the service is shutting down; try again shortly")
		case errors.Is(err, service.ErrDeposed):
			c.Response().Header().Set("Retry-After", "1")
			apiErr = apiError(codeNotWriter, "this process no longer writes the log; nothing was logged, submit again (another process writes it now)")
		case errors.Is(err, service.ErrIndexBehind):
			c.Response().Header().Set("Retry-After", "5")
			apiErr = apiError(codeBusy, "the digest index is being rebuilt: this process cannot tell yet whether the digest is logged; try again in a few seconds")
		case errors.Is(err, service.ErrPushback):
			c.Response().Header().Set("Retry-After", "1")
			apiErr = apiError(codeBusy, "the service has more submissions than it can index right now; nothing was logged, try again in a second")
		case errors.As(err, &echoErr):
			apiErr = fromEchoError(echoErr)
		default:
			log.Error("request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
			apiErr = apiError(codeInternal, "the service failed to handle the request; nothing was lost, try again")
		}
		// A HEAD request gets the same answer as GET: net/http leaves the body out.
		switch {
		case calendar.Route(c.Path()):
			// The calendar answers in plain text, as the reference calendar does, the
			// refusals of the API's middleware (key, rate limit, method) included.
			err = c.Blob(apiErr.Status, calendar.MIMEText, []byte(apiErr.Message))
		case tsaRoute(c.Path()):
			// The TSA answers time-stamp responses only.
			err = reject(c, apiErr.Status, tsaFailure(apiErr.Status), apiErr.Message)
		default:
			err = c.JSON(apiErr.Status, errorBody{apiErr})
		}
		if err != nil {
			log.Error("writing error response", "err", err)
		}
	}
}

// statusClientGone is the code label of a request whose client hung up before its answer
// (nginx's 499, "client closed request"): counted apart from the service's own failures.
const statusClientGone = 499

// clientGone reports whether err ended a request because its client hung up: the request's
// context was canceled, and the handler gave up for that.
func clientGone(c echo.Context, err error) bool {
	return errors.Is(err, context.Canceled) && errors.Is(c.Request().Context().Err(), context.Canceled)
}

// fromEchoError maps the router's own errors (no route, wrong method, …) to API errors.
func fromEchoError(e *echo.HTTPError) *Error {
	msg := fmt.Sprint(e.Message)
	switch e.Code {
	case http.StatusNotFound:
		return apiError(codeNotFound, "no such endpoint")
	case http.StatusMethodNotAllowed:
		return apiError(codeMethodNotAllowed, "this endpoint does not take that method")
	case http.StatusRequestEntityTooLarge:
		return apiError(codeBodyTooLarge, "%s", msg)
	case http.StatusTooManyRequests:
		return apiError(codeRateLimited, "%s", msg)
	default:
		return newError(e.Code, codeHTTPError, "%s", msg)
	}
}

// writeError answers e as JSON outside Echo (the handlers that stand before it).
func writeError(w http.ResponseWriter, e *Error) {
	body, _ := json.Marshal(errorBody{e})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	w.Write(append(body, '\n'))
}
