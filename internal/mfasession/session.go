package mfasession

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/iamwarden/iamwarden/internal/awsapi"
)

// Bounds of sts:GetSessionToken's DurationSeconds; the root user's sessions last an hour at most.
const (
	MinDuration     = 900 * time.Second
	MaxDuration     = 129600 * time.Second
	MaxRootDuration = time.Hour
	DefaultDuration = 12 * time.Hour
)

// SessionOptions are the choices of Session.
type SessionOptions struct {
	// Device is the MFA device to use, by name or serial number; empty: the only device
	// that gives codes, else the one Prompt picks.
	Device string
	// Code is the device's current code; empty: ReadCode asks for it.
	Code string
	// Duration of the session; zero: DefaultDuration.
	Duration time.Duration
	// Prompt picks one of several usable devices; nil: several devices need Device.
	Prompt func(devices []Device) (Device, error)
	// ReadCode asks for the code of device; nil: Code is required.
	ReadCode func(device Device) (string, error)
}

// Credentials are MFA session credentials. The secret and the token are never logged.
type Credentials struct {
	AccessKeyID     string    `json:"AccessKeyId"`
	SecretAccessKey string    `json:"SecretAccessKey"`
	SessionToken    string    `json:"SessionToken"`
	Expiration      time.Time `json:"Expiration"`
	// Serial is the MFA device the session was created with.
	Serial string `json:"MFASerial,omitempty"`
}

// String hides the secrets, should Credentials reach a log.
func (c Credentials) String() string {
	return fmt.Sprintf("session %s expiring %s", maskKeyID(c.AccessKeyID), c.Expiration.UTC().Format(time.RFC3339))
}

// ValidateDuration checks d against GetSessionToken's bounds.
func ValidateDuration(d time.Duration, root bool) error {
	maxD := MaxDuration
	if root {
		maxD = MaxRootDuration
	}
	if d < MinDuration || d > maxD || d%time.Second != 0 {
		return &Error{Err: fmt.Errorf("%w: %s is not between %s and %s in whole seconds", ErrBadDuration, d, MinDuration, maxD),
			Hint: "--duration 12h (15m to 36h; 1h at most for the root user)"}
	}
	return nil
}

// Session gets MFA session credentials from sts:GetSessionToken with the code of one of the
// caller's registered MFA devices, its serial number as IAM lists it.
func Session(ctx context.Context, c Clients, opts SessionOptions) (Credentials, error) {
	if opts.Duration == 0 {
		opts.Duration = DefaultDuration
	}
	if err := ValidateDuration(opts.Duration, false); err != nil {
		return Credentials{}, err
	}
	id, err := callerIdentity(ctx, c.STS)
	if err != nil {
		return Credentials{}, err
	}
	if err := longTermCaller(ctx, c, id); err != nil {
		return Credentials{}, err
	}
	if id.Type == "Account" {
		if err := ValidateDuration(opts.Duration, true); err != nil {
			return Credentials{}, err
		}
	}
	devs, err := listDevices(ctx, c.IAM, id)
	if err != nil {
		return Credentials{}, err
	}
	dev, err := ChooseDevice(devs, opts.Device, opts.Prompt)
	if err != nil {
		return Credentials{}, err
	}
	code := opts.Code
	if code == "" {
		if opts.ReadCode == nil {
			return Credentials{}, &Error{Err: errors.New("no MFA code given"), Hint: "--code 123456"}
		}
		if code, err = opts.ReadCode(dev); err != nil {
			return Credentials{}, fmt.Errorf("read the MFA code: %w", err)
		}
		code = strings.TrimSpace(code)
	}
	if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
		return Credentials{}, &Error{Err: ErrBadCode, Hint: "type the six digits the device " + dev.Name + " shows now"}
	}
	out, err := c.STS.GetSessionToken(ctx, &sts.GetSessionTokenInput{
		SerialNumber:    aws.String(dev.Serial),
		TokenCode:       aws.String(code),
		DurationSeconds: aws.Int32(int32(opts.Duration / time.Second)),
	})
	if err != nil {
		return Credentials{}, explainSession(err, dev)
	}
	cr := out.Credentials
	if cr == nil {
		return Credentials{}, errors.New("sts:GetSessionToken answered no credentials")
	}
	return Credentials{AccessKeyID: aws.ToString(cr.AccessKeyId), SecretAccessKey: aws.ToString(cr.SecretAccessKey),
		SessionToken: aws.ToString(cr.SessionToken), Expiration: aws.ToTime(cr.Expiration), Serial: dev.Serial}, nil
}

// longTermCaller refuses callers GetSessionToken refuses: role and federated sessions, and
// credentials that are already a session.
func longTermCaller(ctx context.Context, c Clients, id Identity) error {
	hint := "run it with the IAM user's long-term access key (a profile with aws_access_key_id AKIA...), not a session"
	switch id.Type {
	case "AssumedRole", "FederatedUser":
		return &Error{Err: fmt.Errorf("%w: the caller %s is a %s session; AWS answers AccessDenied to GetSessionToken from temporary credentials", ErrTemporaryCaller, id.ARN, id.Type), Hint: hint}
	}
	if c.Credentials == nil {
		return nil
	}
	creds, err := c.Credentials.Retrieve(ctx)
	if err == nil && credentialKind(creds.AccessKeyID) == Temporary {
		return &Error{Err: fmt.Errorf("%w: the credentials (%s) are already a session; AWS refuses GetSessionToken with session credentials", ErrTemporaryCaller, maskKeyID(creds.AccessKeyID)), Hint: hint}
	}
	return nil
}

// explainSession says what a failed GetSessionToken with an MFA code means, from its error code.
func explainSession(err error, dev Device) error {
	err = fmt.Errorf("sts:GetSessionToken with %s: %w", dev.Serial, err)
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorCode() == "AccessDenied" {
		// With a code, AccessDenied is "MultiFactorAuthentication failed": no policy can deny
		// GetSessionToken to an IAM user.
		return &Error{Err: fmt.Errorf("%w: %w", ErrWrongCode, err),
			Hint: "the code was wrong or already used (each code works once), or the device's clock is off: wait for the next code and try again; if it keeps failing, resync the device (aws iam resync-mfa-device)"}
	}
	switch awsapi.ClassifyError(err) {
	case awsapi.ExpiredCredentials, awsapi.InvalidCredentials:
		return explainCaller(err)
	case awsapi.AccessDenied:
		return &Error{Err: fmt.Errorf("%w: %w", ErrAccessDenied, err), Hint: awsapi.Hint(err)}
	}
	return explainCaller(err)
}

// ChooseDevice picks the MFA device for a session: the one named (by name or serial), else the
// only one that gives codes, else the one prompt picks among them.
func ChooseDevice(devs []Device, want string, prompt func([]Device) (Device, error)) (Device, error) {
	var usable []Device
	for _, d := range devs {
		if d.Session {
			usable = append(usable, d)
		}
	}
	if len(devs) == 0 {
		return Device{}, &Error{Err: fmt.Errorf("%w is registered for the caller", ErrNoDevice),
			Hint: "register a virtual MFA device (IAM console: Security credentials, Assign MFA device)"}
	}
	if want != "" {
		var found []Device
		for _, d := range devs {
			if d.Serial == want || d.Name == want {
				found = append(found, d)
			}
		}
		switch {
		case len(found) == 0:
			return Device{}, &Error{Err: fmt.Errorf("%w named %q: the caller has %s", ErrNoDevice, want, names(devs)), Hint: "--device " + usableHint(usable)}
		case len(found) > 1:
			return Device{}, &Error{Err: fmt.Errorf("%q names several devices: %s", want, names(found)), Hint: "--device SERIAL"}
		case !found[0].Session:
			return Device{}, fidoError(found, usable)
		}
		return found[0], nil
	}
	switch len(usable) {
	case 0:
		return Device{}, fidoError(devs, nil)
	case 1:
		return usable[0], nil
	}
	if prompt == nil {
		return Device{}, &Error{Err: fmt.Errorf("several MFA devices: %s", names(usable)), Hint: "--device " + usableHint(usable)}
	}
	d, err := prompt(usable)
	if err != nil {
		return Device{}, err
	}
	return d, nil
}

func fidoError(fido, usable []Device) error {
	if len(usable) == 0 {
		return &Error{Err: fmt.Errorf("%w: %s", ErrFIDOOnly, names(fido)),
			Hint: "register a virtual MFA device or a hardware TOTP token for the command line"}
	}
	return &Error{Err: fmt.Errorf("%w: %s; devices that can be used: %s", ErrFIDOOnly, names(fido), names(usable)), Hint: "--device " + usableHint(usable)}
}

func names(devs []Device) string {
	s := make([]string, len(devs))
	for i, d := range devs {
		s[i] = fmt.Sprintf("%s (%s, %s)", d.Name, d.Kind, d.Serial)
	}
	return strings.Join(s, ", ")
}

func usableHint(usable []Device) string {
	s := make([]string, len(usable))
	for i, d := range usable {
		s[i] = d.Name
	}
	if len(s) == 0 {
		return "NAME|SERIAL"
	}
	return strings.Join(s, "|")
}
