package mototest

import (
	"context"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// Account returns a handle on the same server for another account, e.g. a member account an
// organization created.
func (s *Server) Account(id string) *Server {
	c := *s
	c.AccountID = id
	return &c
}

// UserConfig creates an IAM user with an access key in the handle's account and returns an SDK
// configuration signed with that key and without the account header: moto finds the account
// from the key, as AWS does, so credentials this configuration gets from sts:AssumeRole reach
// the role's account (the header would pin every call to this one).
func (s *Server) UserConfig(ctx context.Context, user string) aws.Config {
	s.t.Helper()
	c := iam.NewFromConfig(s.Config(ctx))
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user)}); err != nil {
		s.t.Fatalf("mototest: create user %s: %v", user, err)
	}
	key, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)})
	if err != nil {
		s.t.Fatalf("mototest: access key of %s: %v", user, err)
	}
	cfg := aws.NewConfig()
	cfg.Region = Region
	cfg.Credentials = aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(
		aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey), ""))
	cfg.BaseEndpoint = aws.String(s.Endpoint)
	cfg.HTTPClient = &http.Client{}
	return *cfg
}
