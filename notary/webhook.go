package notary

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// WebhookSignatureHeader is the HTTP header that carries a webhook's signature.
const WebhookSignatureHeader = "Notary-Signature"

// webhookContext starts every signed webhook message, so that the webhook key's
// signatures can never be taken for signatures of anything else.
const webhookContext = "notary-webhook/v1\n"

// ErrWebhookSignature is returned (wrapped) by VerifyWebhook for a signature that is
// missing, malformed, wrong or out of date.
var ErrWebhookSignature = errors.New("notary: bad webhook signature")

// webhookMessage is what a webhook signature covers:
// "notary-webhook/v1\n" ‖ Unix seconds, decimal ‖ "\n" ‖ body.
func webhookMessage(unix int64, body []byte) []byte {
	msg := make([]byte, 0, len(webhookContext)+20+1+len(body))
	msg = append(msg, webhookContext...)
	msg = strconv.AppendInt(msg, unix, 10)
	msg = append(msg, '\n')
	return append(msg, body...)
}

// SignWebhook returns the Notary-Signature header value of a webhook body sent at t:
// "t=<Unix seconds>,ed25519=<base64 signature>", the Ed25519 signature by key of
// "notary-webhook/v1\n" ‖ t ‖ "\n" ‖ body.
func SignWebhook(key ed25519.PrivateKey, body []byte, t time.Time) string {
	unix := t.Unix()
	sig := ed25519.Sign(key, webhookMessage(unix, body))
	return "t=" + strconv.FormatInt(unix, 10) + ",ed25519=" + base64.StdEncoding.EncodeToString(sig)
}

// VerifyWebhook checks the Notary-Signature header value of a webhook body against the
// service's webhook key (published at /v1/keys), and that it was signed within tolerance
// of now, so that an old delivery cannot be replayed much later. It returns nil if the
// signature is valid, an error wrapping ErrWebhookSignature otherwise.
func VerifyWebhook(key ed25519.PublicKey, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if len(key) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: the key is not an Ed25519 public key", ErrWebhookSignature)
	}
	var (
		unix  int64
		haveT bool
		sigs  [][]byte
	)
	for part := range strings.SplitSeq(header, ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch name {
		case "t":
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil || haveT {
				return fmt.Errorf("%w: header %q has a bad or repeated t=", ErrWebhookSignature, header)
			}
			unix, haveT = n, true
		case "ed25519":
			// Several signatures may be given (while a key is replaced); one must verify.
			if sig, err := base64.StdEncoding.Strict().DecodeString(value); err == nil && len(sig) == ed25519.SignatureSize {
				sigs = append(sigs, sig)
			}
		}
	}
	switch {
	case !haveT:
		return fmt.Errorf("%w: header %q has no t=", ErrWebhookSignature, header)
	case len(sigs) == 0:
		return fmt.Errorf("%w: header %q has no ed25519= signature", ErrWebhookSignature, header)
	}
	msg := webhookMessage(unix, body)
	valid := false
	for _, sig := range sigs {
		valid = valid || ed25519.Verify(key, msg, sig)
	}
	if !valid {
		return fmt.Errorf("%w: the signature does not match the body", ErrWebhookSignature)
	}
	if d := now.Sub(time.Unix(unix, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: signed at %s, more than %s from now", ErrWebhookSignature, time.Unix(unix, 0).UTC().Format(time.RFC3339), tolerance)
	}
	return nil
}
