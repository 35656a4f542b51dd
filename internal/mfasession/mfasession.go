// Package mfasession is the command-line side of MFA enforcement for IAM users: what the caller's
// credentials and MFA devices are (Status), and MFA session credentials from sts:GetSessionToken
// with the code of a registered device (Session), written to a credentials profile, printed as
// shell exports, or served to the AWS CLI and SDKs as a credential_process with a cache.
package mfasession

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/iamwarden/iamwarden/internal/awsapi"
	"github.com/iamwarden/iamwarden/internal/policy"
)

// STSAPI is the part of the STS client the use cases call.
type STSAPI interface {
	GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, optFns ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
	GetSessionToken(ctx context.Context, in *sts.GetSessionTokenInput, optFns ...func(*sts.Options)) (*sts.GetSessionTokenOutput, error)
}

// Clients are the AWS clients of Status and Session.
type Clients struct {
	STS STSAPI
	IAM iam.ListMFADevicesAPIClient
	// Credentials are the caller's credentials, read to tell a long-term access key from
	// temporary credentials; nil: the kind is reported unknown.
	Credentials aws.CredentialsProvider
}

// DeviceKind is the kind of an MFA device, told from its serial number.
type DeviceKind string

// Device kinds.
const (
	// Virtual: an authenticator app; serial arn:aws:iam::ACCOUNT:mfa/NAME.
	Virtual DeviceKind = "virtual"
	// HardwareTOTP: a hardware token showing codes; serial such as GAHT12345678.
	HardwareTOTP DeviceKind = "hardware-totp"
	// FIDO: a FIDO2 security key or passkey; serial arn:aws:iam::ACCOUNT:u2f/...
	FIDO DeviceKind = "fido"
)

// Device is one MFA device of the caller.
type Device struct {
	Serial  string     `json:"serial_number"`
	Name    string     `json:"name"`
	Kind    DeviceKind `json:"kind"`
	Enabled time.Time  `json:"enable_date,omitzero"`
	// Session: the device's codes work with sts:GetSessionToken (virtual and hardware TOTP;
	// FIDO keys give no code).
	Session bool `json:"usable_for_session"`
}

// NewDevice describes the device with serial number serial.
func NewDevice(serial string) Device {
	d := Device{Serial: serial, Name: serial, Kind: HardwareTOTP, Session: true}
	parts := strings.SplitN(serial, ":", 6)
	if len(parts) == 6 && parts[0] == "arn" && parts[2] == "iam" {
		typ, rest, _ := strings.Cut(parts[5], "/")
		d.Name = rest[strings.LastIndexByte(rest, '/')+1:]
		if typ == "u2f" {
			d.Kind, d.Session = FIDO, false
		} else {
			d.Kind = Virtual
		}
	}
	return d
}

// Error is a failure the person running the command can act on; Hint says how.
type Error struct {
	Err  error
	Hint string
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Sentinel errors callers branch on.
var (
	ErrWrongCode        = errors.New("the MFA code was refused")
	ErrTemporaryCaller  = errors.New("sts:GetSessionToken needs long-term credentials")
	ErrNoDevice         = errors.New("no MFA device")
	ErrFIDOOnly         = errors.New("FIDO security keys and passkeys give no code for sts:GetSessionToken")
	ErrBadDuration      = errors.New("session duration out of range")
	ErrBadCode          = errors.New("an MFA code is six digits")
	ErrExpiredOrInvalid = errors.New("the access key was refused")
	ErrAccessDenied     = errors.New("access denied")
)

// Identity is who the credentials belong to.
type Identity struct {
	Account string `json:"account"`
	ARN     string `json:"arn"`
	UserID  string `json:"user_id"`
	// Type: User, Account (root), AssumedRole or FederatedUser.
	Type string `json:"principal_type"`
	Name string `json:"name,omitempty"`
}

func callerIdentity(ctx context.Context, c STSAPI) (Identity, error) {
	out, err := c.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return Identity{}, explainCaller(fmt.Errorf("sts:GetCallerIdentity: %w", err))
	}
	id := Identity{Account: aws.ToString(out.Account), ARN: aws.ToString(out.Arn), UserID: aws.ToString(out.UserId)}
	if pi, err := policy.ParsePrincipal(id.ARN); err == nil {
		id.Type, id.Name = pi.Type, pi.Name
	}
	return id, nil
}

// listDevices lists the caller's own MFA devices. For an IAM user the request names the user
// from GetCallerIdentity: it is the same request (the user's own ARN is the resource) however the
// endpoint would infer the caller; the root user's devices are listed without a name.
func listDevices(ctx context.Context, c iam.ListMFADevicesAPIClient, id Identity) ([]Device, error) {
	in := &iam.ListMFADevicesInput{}
	if id.Type == "User" {
		in.UserName = aws.String(id.Name)
	}
	var devs []Device
	p := iam.NewListMFADevicesPaginator(c, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, explainCaller(fmt.Errorf("iam:ListMFADevices: %w", err))
		}
		for _, d := range page.MFADevices {
			dev := NewDevice(aws.ToString(d.SerialNumber))
			dev.Enabled = aws.ToTime(d.EnableDate)
			devs = append(devs, dev)
		}
	}
	return devs, nil
}

// explainCaller adds what to do to the errors of the caller's own credentials.
func explainCaller(err error) error {
	switch awsapi.ClassifyError(err) {
	case awsapi.ExpiredCredentials, awsapi.InvalidCredentials:
		return &Error{Err: fmt.Errorf("%w: %w", ErrExpiredOrInvalid, err),
			Hint: "the access key is unknown, deactivated, deleted or its session expired: create a new access key (in the console, signed in with MFA, or by an administrator) and configure it"}
	}
	if h := awsapi.Hint(err); h != "" {
		return &Error{Err: err, Hint: h}
	}
	return err
}
