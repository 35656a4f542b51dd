package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/iamwarden/iamwarden/internal/mfasession"
	"github.com/iamwarden/iamwarden/internal/report"
)

// MFASessionInput is what 'mfa session' was asked to do.
type MFASessionInput struct {
	Device            string
	Code              string
	Duration          time.Duration
	ProfileName       string
	Export            bool
	CredentialProcess bool
}

func newMFACmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mfa",
		Short: "MFA on the command line for IAM users the enforce-MFA policy covers",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newMFAStatusCmd(g), newMFASessionCmd(g))
	return cmd
}

func newMFAStatusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Who the credentials are, their MFA devices, whether they are MFA-authenticated, what works without MFA",
		Long: `Show the caller (sts:GetCallerIdentity), the kind of credentials, the caller's own MFA devices
(iam:ListMFADevices) with their kind (virtual, hardware TOTP, FIDO security key or passkey),
whether the credentials are MFA-authenticated as far as can be known (a long-term access key never
is; a session's credentials do not say), and what the enforce-MFA policy lets the caller do
without MFA, for a few representative actions. See docs/mfa.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := g.format("mfa status")
			if err != nil {
				return err
			}
			c, err := g.mfaClients(cmd.Context())
			if err != nil {
				return err
			}
			r, err := mfasession.Status(cmd.Context(), c)
			if err != nil {
				return mfaFailure(err)
			}
			if format == report.FormatJSON {
				return encodeJSON(g.stdout, r)
			}
			return writeMFAStatus(g.stdout, r)
		},
	}
}

func newMFASessionCmd(g *globals) *cobra.Command {
	in := &MFASessionInput{}
	cmd := &cobra.Command{
		Use:   "session (--profile-name NAME | --export | --credential-process)",
		Short: "Get MFA session credentials with the code of a registered MFA device",
		Long: `Get temporary credentials from sts:GetSessionToken with the code of one of the caller's registered
MFA devices (its serial as IAM lists it). With one device it is used; with several, --device
names one (by name or serial), else a prompt lists them. FIDO security keys and passkeys give no
code and cannot be used. Without --code the code is asked for on the terminal, not echoed.

The credentials go to one place:
  --profile-name NAME     a profile of the shared credentials file (AWS_SHARED_CREDENTIALS_FILE
                          or ~/.aws/credentials), rewritten atomically, other profiles untouched
  --export                export lines for sh: eval "$(iamwarden mfa session --export)"
  --credential-process    the JSON of the AWS CLI's credential_process, cached in
                          $XDG_CACHE_HOME/iamwarden (or ~/.cache/iamwarden) until 5 minutes
                          before expiry; the code is asked for on /dev/tty when needed
See docs/mfa.md.`,
		Example: `  iamwarden mfa session --profile-name mfa
  eval "$(iamwarden mfa session --export --device phone --duration 8h)"
  iamwarden --profile work mfa session --credential-process --device phone`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runMFASession(cmd.Context(), g, in)
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Device, "device", "", "MFA device to use, NAME or SERIAL (default: the only one, else a prompt)")
	f.StringVar(&in.Code, "code", "", "the device's current six-digit code (default: asked for on the terminal)")
	f.DurationVar(&in.Duration, "duration", mfasession.DefaultDuration, "session duration, 15m to 36h (1h at most for the root user)")
	f.StringVar(&in.ProfileName, "profile-name", "", "write the credentials as this profile of the shared credentials file")
	f.BoolVar(&in.Export, "export", false, "print export lines for sh")
	f.BoolVar(&in.CredentialProcess, "credential-process", false, "print credential_process JSON, cached until 5 minutes before expiry")
	return cmd
}

func runMFASession(ctx context.Context, g *globals, in *MFASessionInput) error {
	if _, err := g.format("mfa session"); err != nil {
		return err
	}
	n := 0
	for _, set := range []bool{in.ProfileName != "", in.Export, in.CredentialProcess} {
		if set {
			n++
		}
	}
	if n != 1 {
		return usageError{err: errors.New("mfa session needs exactly one of --profile-name, --export, --credential-process"), hint: "--profile-name mfa"}
	}
	if err := mfasession.ValidateDuration(in.Duration, false); err != nil {
		return mfaFailure(err)
	}
	c, err := g.mfaClients(ctx)
	if err != nil {
		return err
	}
	var tty *os.File // opened only when a prompt is needed
	defer func() {
		if tty != nil {
			tty.Close()
		}
	}()
	terminal := func() (*os.File, io.Writer, error) {
		if f, ok := g.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) && !in.CredentialProcess {
			return f, g.stderr, nil
		}
		if tty == nil {
			f, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
			if err != nil {
				return nil, nil, usageError{err: errors.New("no terminal to ask for the MFA code"), hint: "--code 123456"}
			}
			tty = f
		}
		return tty, tty, nil
	}
	opts := mfasession.SessionOptions{Device: in.Device, Code: in.Code, Duration: in.Duration,
		Prompt: func(devs []mfasession.Device) (mfasession.Device, error) {
			f, w, err := terminal()
			if err != nil {
				return mfasession.Device{}, usageError{err: errors.New("several MFA devices and no terminal to choose one"), hint: "--device NAME|SERIAL"}
			}
			return promptDevice(f, w, devs)
		},
		ReadCode: func(d mfasession.Device) (string, error) {
			f, w, err := terminal()
			if err != nil {
				return "", err
			}
			fmt.Fprintf(w, "MFA code for %s (%s): ", report.SafeText(d.Name), report.SafeText(d.Serial))
			code, err := term.ReadPassword(int(f.Fd())) // echo off while typing
			fmt.Fprintln(w)
			return string(code), err
		},
	}
	get := func(ctx context.Context) (mfasession.Credentials, error) { return mfasession.Session(ctx, c, opts) }
	switch {
	case in.CredentialProcess:
		dir, err := mfasession.CacheDir(g.getenv)
		if err != nil {
			return err
		}
		profile := g.profile
		if profile == "" {
			profile = g.getenv("AWS_PROFILE")
		}
		creds, err := mfasession.Cache{Dir: dir, Now: g.now}.Get(ctx, mfasession.CacheKey(profile, in.Device), get)
		if err != nil {
			return mfaFailure(err)
		}
		return mfasession.WriteProcess(g.stdout, creds)
	case in.Export:
		creds, err := get(ctx)
		if err != nil {
			return mfaFailure(err)
		}
		return mfasession.WriteExports(g.stdout, creds)
	}
	path, err := mfasession.CredentialsFile(g.getenv)
	if err != nil {
		return err
	}
	creds, err := get(ctx)
	if err != nil {
		return mfaFailure(err)
	}
	if err := mfasession.WriteProfile(path, in.ProfileName, creds); err != nil {
		return mfaFailure(err)
	}
	fmt.Fprintf(g.stdout, "wrote profile %s to %s: MFA session with %s until %s\nuse it: AWS_PROFILE=%s or --profile %s\n",
		report.SafeText(in.ProfileName), report.SafeText(path), report.SafeText(creds.Serial), creds.Expiration.UTC().Format(time.RFC3339),
		report.SafeText(in.ProfileName), report.SafeText(in.ProfileName))
	return nil
}

// promptDevice lists devs on w and reads the number of the one chosen from f.
func promptDevice(f *os.File, w io.Writer, devs []mfasession.Device) (mfasession.Device, error) {
	fmt.Fprintln(w, "MFA devices:")
	for i, d := range devs {
		fmt.Fprintf(w, "  %d) %s (%s, %s)\n", i+1, report.SafeText(d.Name), d.Kind, report.SafeText(d.Serial))
	}
	fmt.Fprintf(w, "Device [1-%d]: ", len(devs))
	line, err := bufio.NewReaderSize(f, 16).ReadString('\n')
	if err != nil && line == "" {
		return mfasession.Device{}, fmt.Errorf("read the device choice: %w", err)
	}
	i, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || i < 1 || i > len(devs) {
		return mfasession.Device{}, usageError{err: fmt.Errorf("%q is not a device number", strings.TrimSpace(line)), hint: "--device NAME|SERIAL"}
	}
	return devs[i-1], nil
}

func (g *globals) mfaClients(ctx context.Context) (mfasession.Clients, error) {
	cfg, err := g.awsCfg(ctx, g.profile, g.region)
	if err != nil {
		return mfasession.Clients{}, awsFailure(err)
	}
	return mfasession.Clients{STS: sts.NewFromConfig(cfg), IAM: iam.NewFromConfig(cfg), Credentials: cfg.Credentials}, nil
}

// mfaFailure turns the domain's explained errors into usage errors with their hint.
func mfaFailure(err error) error {
	var me *mfasession.Error
	if errors.As(err, &me) {
		return usageError{err: err, hint: me.Hint}
	}
	return awsFailure(err)
}

func writeMFAStatus(w io.Writer, r mfasession.StatusReport) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "account:\t%s\n", report.SafeText(r.Identity.Account))
	fmt.Fprintf(tw, "caller:\t%s (%s)\n", report.SafeText(r.Identity.ARN), report.SafeText(dash(r.Identity.Type)))
	cred := string(r.Credentials)
	if r.KeyID != "" {
		cred += " " + r.KeyID
	}
	fmt.Fprintf(tw, "credentials:\t%s\n", report.SafeText(cred))
	fmt.Fprintf(tw, "MFA-authenticated:\t%s: %s\n", r.MFA, report.SafeText(r.MFAReason))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if r.DevicesNote != "" {
		fmt.Fprintf(w, "%s\n", report.SafeText(r.DevicesNote))
	}
	if len(r.Devices) > 0 {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "DEVICE\tKIND\tSESSION\tSERIAL\tENABLED")
		for _, d := range r.Devices {
			use := "yes"
			if !d.Session {
				use = "no (no code)"
			}
			enabled := "-"
			if !d.Enabled.IsZero() {
				enabled = d.Enabled.UTC().Format(time.DateOnly)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", report.SafeText(d.Name), d.Kind, use, report.SafeText(d.Serial), enabled)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(r.WithoutMFA) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nWithout MFA, the enforce-MFA policy (iamwarden policy render enforce-mfa) decides:")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACTION\tRESOURCE\tWITHOUT MFA\tWHY")
	for _, a := range r.WithoutMFA {
		verdict := "denied"
		if a.Allowed {
			verdict = "allowed"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.Action, report.SafeText(a.Resource), verdict, report.SafeText(a.Reason))
	}
	return tw.Flush()
}
