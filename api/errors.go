package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/notary-dev/notary/notary"
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

func newError(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// errorHandler is the one place where errors become HTTP statuses.
func errorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		var (
			apiErr  *Error
			echoErr *echo.HTTPError
		)
		switch {
		case errors.As(err, &apiErr):
		case errors.Is(err, notary.ErrNotFound):
			apiErr = newError(http.StatusNotFound, "not_found", "%v", err)
		case errors.Is(err, notary.ErrClosed):
			apiErr = newError(http.StatusServiceUnavailable, "shutting_down", "the service is shutting down; try again shortly")
		case errors.As(err, &echoErr):
			apiErr = fromEchoError(echoErr)
		default:
			log.Error("request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
			apiErr = newError(http.StatusInternalServerError, "internal", "the service failed to handle the request; nothing was lost, try again")
		}
		if c.Request().Method == http.MethodHead {
			err = c.NoContent(apiErr.Status)
		} else {
			err = c.JSON(apiErr.Status, errorBody{apiErr})
		}
		if err != nil {
			log.Error("writing error response", "err", err)
		}
	}
}

// fromEchoError maps the router's own errors (no route, wrong method, …) to API errors.
func fromEchoError(e *echo.HTTPError) *Error {
	msg := fmt.Sprint(e.Message)
	switch e.Code {
	case http.StatusNotFound:
		return newError(e.Code, "not_found", "no such endpoint")
	case http.StatusMethodNotAllowed:
		return newError(e.Code, "method_not_allowed", "this endpoint does not take that method")
	case http.StatusRequestEntityTooLarge:
		return newError(e.Code, "body_too_large", "%s", msg)
	default:
		return newError(e.Code, "http_error", "%s", msg)
	}
}
