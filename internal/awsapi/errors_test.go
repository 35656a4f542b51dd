package awsapi_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"github.com/iamwarden/iamwarden/internal/awsapi"
)

func apiErr(code string) error {
	return &smithy.GenericAPIError{Code: code, Message: "message is not looked at"}
}

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
