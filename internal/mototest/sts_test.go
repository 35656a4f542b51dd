package mototest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/iamwarden/iamwarden/internal/mototest"
)

// AssumeRole is refused, as in AWS, for a role that does not exist or whose trust policy wants
// another ExternalId; moto alone lets any ARN be assumed.
func TestAssumeRoleNeedsTheRoleAndItsExternalID(t *testing.T) {
	srv := mototest.Shared(t)
	ctx := context.Background()
	cfg := srv.Config(ctx)
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole",` +
		`"Condition":{"StringEquals":{"sts:ExternalId":"s3cret"}}}]}`
	role, err := iam.NewFromConfig(cfg).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("member"), AssumeRolePolicyDocument: aws.String(trust)})
	if err != nil {
		t.Fatal(err)
	}
	c := sts.NewFromConfig(cfg)
	assume := func(arn, externalID string) error {
		in := &sts.AssumeRoleInput{RoleArn: aws.String(arn), RoleSessionName: aws.String("iamwarden-test")}
		if externalID != "" {
			in.ExternalId = aws.String(externalID)
		}
		_, err := c.AssumeRole(ctx, in)
		return err
	}
	if err := assume(aws.ToString(role.Role.Arn), "s3cret"); err != nil {
		t.Fatalf("the role with its ExternalId: %v", err)
	}
	for name, tc := range map[string]struct{ arn, externalID string }{
		"missing role":      {"arn:aws:iam::" + srv.AccountID + ":role/absent", ""},
		"wrong external ID": {aws.ToString(role.Role.Arn), "guess"},
		"no external ID":    {aws.ToString(role.Role.Arn), ""},
	} {
		var api smithy.APIError
		if err := assume(tc.arn, tc.externalID); !errors.As(err, &api) || api.ErrorCode() != "AccessDenied" {
			t.Errorf("%s: %v, want AccessDenied", name, err)
		}
	}
}
