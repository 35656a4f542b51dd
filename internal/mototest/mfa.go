package mototest

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// EnableVirtualMFA creates a virtual MFA device named device and enables it for user, and
// returns its serial number. Under load the SDK may retry an EnableMFADevice whose first answer
// was lost; moto then answers EntityAlreadyExists for the device it did enable, which counts as
// success here.
func (s *Server) EnableVirtualMFA(c *iam.Client, user, device string) string {
	s.t.Helper()
	ctx := context.Background()
	dev, err := c.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String(device)})
	if err != nil {
		s.t.Fatalf("mototest: create MFA device %s: %v", device, err)
	}
	serial := dev.VirtualMFADevice.SerialNumber
	_, err = c.EnableMFADevice(ctx, &iam.EnableMFADeviceInput{UserName: aws.String(user), SerialNumber: serial,
		AuthenticationCode1: aws.String("123456"), AuthenticationCode2: aws.String("654321")})
	var exists *types.EntityAlreadyExistsException
	if err != nil && !errors.As(err, &exists) {
		s.t.Fatalf("mototest: enable MFA device %s for %s: %v", device, user, err)
	}
	return aws.ToString(serial)
}

// ConsoleUser creates the user with a console password set at setAt and never used (the user
// itself is created an hour before), and returns its user ID.
func (s *Server) ConsoleUser(c *iam.Client, name string, setAt time.Time) string {
	s.t.Helper()
	out, err := c.CreateUser(context.Background(), &iam.CreateUserInput{UserName: aws.String(name)})
	if err != nil {
		s.t.Fatalf("mototest: create user %s: %v", name, err)
	}
	s.BackdateUser(name, setAt.Add(-time.Hour))
	s.SetPassword(name, setAt, time.Time{})
	return aws.ToString(out.User.UserId)
}
