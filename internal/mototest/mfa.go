package mototest

import (
	"context"
	"errors"

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
