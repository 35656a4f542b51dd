package awsapi_test

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/iamwarden/iamwarden/internal/awsapi"
)

func apiErr(code string) error {
	return &smithy.GenericAPIError{Code: code, Message: "message is not looked at"}
}

// sendErr wraps err as the SDK does when an HTTP request could not be sent.
func sendErr(err error) error {
	return &smithy.OperationError{ServiceID: "STS", OperationName: "GetCallerIdentity",
		Err: &smithyhttp.RequestSendError{Err: &url.Error{Op: "Post", URL: "https://sts.amazonaws.com/", Err: err}}}
}

// timeoutErr is a net.Error that timed out, as the net package's own timeouts are.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassifyError(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want awsapi.Kind
	}{
		{"nil", nil, awsapi.Other},
		{"access denied", apiErr("AccessDenied"), awsapi.AccessDenied},
		{"access denied wrapped", fmt.Errorf("operation error IAM: GetUser: %w", apiErr("AccessDenied")), awsapi.AccessDenied},
		{"access denied exception", apiErr("AccessDeniedException"), awsapi.AccessDenied},
		{"throttling", apiErr("Throttling"), awsapi.Throttled},
		{"throttling after retries", &retry.MaxAttemptsError{Attempt: 8, Err: apiErr("Throttling")}, awsapi.Throttled},
		{"expired token", apiErr("ExpiredToken"), awsapi.ExpiredCredentials},
		{"expired sso session", fmt.Errorf("get identity: %w", &ssocreds.InvalidTokenError{Err: errors.New("token expired")}), awsapi.ExpiredCredentials},
		{"unknown key", apiErr("InvalidClientTokenId"), awsapi.InvalidCredentials},
		{"bad signature", apiErr("SignatureDoesNotMatch"), awsapi.InvalidCredentials},
		{"typed no such entity", &types.NoSuchEntityException{Message: new(string)}, awsapi.NoSuchEntity},
		{"coded no such entity", apiErr("NoSuchEntity"), awsapi.NoSuchEntity},
		{"service failure", apiErr("ServiceFailure"), awsapi.Other},
		{"message text is ignored", errors.New("AccessDenied: not authorized"), awsapi.Other},
		{"connection refused", sendErr(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}), awsapi.ConnectionRefused},
		{"connection refused after retries", &retry.MaxAttemptsError{Attempt: 8, Err: sendErr(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)})}, awsapi.ConnectionRefused},
		{"unknown host", sendErr(&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "iam.example.invalid", IsNotFound: true}}), awsapi.HostNotFound},
		{"dial timeout", sendErr(&net.OpError{Op: "dial", Net: "tcp", Err: timeoutErr{}}), awsapi.Timeout},
		{"response timeout", sendErr(timeoutErr{}), awsapi.Timeout},
		{"refused message text is ignored", errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), awsapi.Other},
		{"no credentials", fmt.Errorf("get identity: %w", &awsapi.CredentialsError{Err: errors.New("no EC2 IMDS role found")}), awsapi.NoCredentials},
		{"expired sso session in the chain", &awsapi.CredentialsError{Err: &ssocreds.InvalidTokenError{Err: errors.New("token expired")}}, awsapi.ExpiredCredentials},
		{"unreachable credential source", &awsapi.CredentialsError{Err: sendErr(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)})}, awsapi.NoCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := awsapi.ClassifyError(tt.err); got != tt.want {
				t.Errorf("ClassifyError = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestHint(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string // substring; empty means no hint
	}{
		{"expired", apiErr("ExpiredToken"), "aws sso login"},
		{"access denied", apiErr("AccessDenied"), "permissions"},
		{"throttled", apiErr("Throttling"), "later"},
		{"invalid", apiErr("InvalidClientTokenId"), "get-caller-identity"},
		{"no such entity", apiErr("NoSuchEntity"), ""},
		{"refused", sendErr(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}), "AWS_ENDPOINT_URL"},
		{"unknown host", sendErr(&net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}), "DNS"},
		{"timeout", sendErr(timeoutErr{}), "HTTPS_PROXY"},
		{"no credentials", &awsapi.CredentialsError{Err: errors.New("none")}, "aws sso login"},
		{"other", errors.New("boom"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := awsapi.Hint(tt.err)
			if tt.want == "" && got != "" {
				t.Errorf("Hint = %q, want none", got)
			}
			if tt.want != "" && (!strings.Contains(got, tt.want) || !strings.HasPrefix(got, "try: ")) {
				t.Errorf("Hint = %q, want a \"try: \" hint mentioning %q", got, tt.want)
			}
		})
	}
}
