package awsapi

import (
	"errors"
	"net"
	"net/url"
	"strings"
	"syscall"

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
	// NoCredentials: no source in the SDK's chain (flags, environment, shared files, SSO,
	// instance roles) gave credentials.
	NoCredentials
	// ConnectionRefused: nothing listens at the endpoint.
	ConnectionRefused
	// HostNotFound: the endpoint's host name does not resolve.
	HostNotFound
	// Timeout: the endpoint did not answer in time.
	Timeout
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
	case NoCredentials:
		return "no credentials"
	case ConnectionRefused:
		return "connection refused"
	case HostNotFound:
		return "host not found"
	case Timeout:
		return "timeout"
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

// CredentialsError is the failure of the credential chain LoadConfig sets up: no source gave
// credentials, or the one that should have failed.
type CredentialsError struct{ Err error }

func (e *CredentialsError) Error() string { return "no credentials: " + e.Err.Error() }
func (e *CredentialsError) Unwrap() error { return e.Err }

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
	// A network failure while looking for credentials (an instance metadata service that is
	// not there) means there are none, not that the AWS endpoint is down.
	var credErr *CredentialsError
	if errors.As(err, &credErr) {
		return NoCredentials
	}
	return networkKind(err)
}

// networkKind classifies a failure to reach an endpoint by the net package's error types.
func networkKind(err error) Kind {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return HostNotFound
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" && errors.Is(opErr, syscall.ECONNREFUSED) {
		return ConnectionRefused
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) && urlErr.Timeout() {
		return Timeout
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return Timeout
	}
	return Other
}

// isDialError reports whether err is a failure to open a connection at all: refused, an
// unknown host, or a dial that timed out. Retrying those at length does not help.
func isDialError(err error) bool {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
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
	case NoCredentials:
		return "try: --profile NAME (or AWS_PROFILE=NAME) for a profile of ~/.aws/config, aws sso login for an SSO profile, or aws configure"
	case ConnectionRefused:
		return "try: check the endpoint in use: nothing listens there (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_IAM, endpoint_url in the profile)"
	case HostNotFound:
		return "try: check the network's DNS and the endpoint in use (AWS_ENDPOINT_URL, endpoint_url in the profile)"
	case Timeout:
		return "try: check the network, a proxy in HTTPS_PROXY, and the endpoint in use (AWS_ENDPOINT_URL)"
	default:
		return ""
	}
}

// Hint is the advice for err, empty when there is none.
func Hint(err error) string { return KindHint(ClassifyError(err)) }

// ARNAccount returns the account field of an ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE);
// "" when s is not an ARN.
func ARNAccount(s string) string {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return ""
	}
	return parts[4]
}
