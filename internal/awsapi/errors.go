package awsapi

import (
	"errors"

	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
	"github.com/aws/smithy-go"
)

// Kind is what an AWS error means for the person running the tool.
type Kind int

const (
	// Other is any error not listed below (network, service faults, bad input...).
	Other Kind = iota
	// AccessDenied: the principal lacks a permission.
	AccessDenied
	// Throttled: AWS kept rejecting the call for its rate after the SDK's retries.
	Throttled
	// ExpiredCredentials: the session token or SSO session expired.
	ExpiredCredentials
	// InvalidCredentials: the access key is unknown or its signature does not match.
	InvalidCredentials
	// NoSuchEntity: the thing asked about does not exist.
	NoSuchEntity
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case AccessDenied:
		return "access denied"
	case Throttled:
		return "throttled"
	case ExpiredCredentials:
		return "expired credentials"
	case InvalidCredentials:
		return "invalid credentials"
	case NoSuchEntity:
		return "no such entity"
	default:
		return "error"
	}
}

var codeKinds = map[string]Kind{
	"AccessDenied":                AccessDenied,
	"AccessDeniedException":       AccessDenied,
	"UnauthorizedOperation":       AccessDenied,
	"UnauthorizedAccess":          AccessDenied,
	"Throttling":                  Throttled,
	"ThrottlingException":         Throttled,
	"ThrottledException":          Throttled,
	"RequestThrottled":            Throttled,
	"RequestThrottledException":   Throttled,
	"TooManyRequestsException":    Throttled,
	"RequestLimitExceeded":        Throttled,
	"SlowDown":                    Throttled,
	"ExpiredToken":                ExpiredCredentials,
	"ExpiredTokenException":       ExpiredCredentials,
	"RequestExpired":              ExpiredCredentials,
	"TokenRefreshRequired":        ExpiredCredentials,
	"InvalidClientTokenId":        InvalidCredentials,
	"UnrecognizedClientException": InvalidCredentials,
	"SignatureDoesNotMatch":       InvalidCredentials,
	"AuthFailure":                 InvalidCredentials,
	"IncompleteSignature":         InvalidCredentials,
	"NoSuchEntity":                NoSuchEntity,
	"NoSuchEntityException":       NoSuchEntity,
}

// ClassifyError says what kind of failure err is, from the error's type and AWS error code,
// never from its message.
func ClassifyError(err error) Kind {
	if err == nil {
		return Other
	}
	var tokenErr *ssocreds.InvalidTokenError
	if errors.As(err, &tokenErr) {
		return ExpiredCredentials
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		if k, ok := codeKinds[apiErr.ErrorCode()]; ok {
			return k
		}
	}
	return Other
}

// KindHint is the advice shown with an error of kind k, empty when there is none.
func KindHint(k Kind) string {
	switch k {
	case AccessDenied:
		return "try: grant the principal the read-only IAM permissions in docs/permissions.md, or pick another --profile"
	case Throttled:
		return "try: run again later; AWS throttled the account's IAM API even after retries with backoff"
	case ExpiredCredentials:
		return "try: aws sso login (or refresh the session credentials of the profile in use)"
	case InvalidCredentials:
		return "try: aws sts get-caller-identity to check the credentials in use, or pick another --profile"
	default:
		return ""
	}
}

// Hint is the advice for err, empty when there is none.
func Hint(err error) string { return KindHint(ClassifyError(err)) }
