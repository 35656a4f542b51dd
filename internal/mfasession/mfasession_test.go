package mfasession_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"

	"github.com/iamwarden/iamwarden/internal/mfasession"
)

type fakeSTS struct {
	identity func() (*sts.GetCallerIdentityOutput, error)
	session  func(*sts.GetSessionTokenInput) (*sts.GetSessionTokenOutput, error)
}

var _ mfasession.STSAPI = (*fakeSTS)(nil)

func (f *fakeSTS) GetCallerIdentity(context.Context, *sts.GetCallerIdentityInput, ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error) {
	return f.identity()
}

func (f *fakeSTS) GetSessionToken(_ context.Context, in *sts.GetSessionTokenInput, _ ...func(*sts.Options)) (*sts.GetSessionTokenOutput, error) {
	return f.session(in)
}

type fakeIAM struct {
	list func(*iam.ListMFADevicesInput) (*iam.ListMFADevicesOutput, error)
}

var _ iam.ListMFADevicesAPIClient = (*fakeIAM)(nil)

func (f *fakeIAM) ListMFADevices(_ context.Context, in *iam.ListMFADevicesInput, _ ...func(*iam.Options)) (*iam.ListMFADevicesOutput, error) {
	return f.list(in)
}

const (
	account = "123456789012"
	userARN = "arn:aws:iam::123456789012:user/alice"
	phone   = "arn:aws:iam::123456789012:mfa/phone"
	tablet  = "arn:aws:iam::123456789012:mfa/tablet"
	token   = "GAHT12345678"
	yubikey = "arn:aws:iam::123456789012:u2f/user/alice/yubikey-ABCDEFGHIJKL"
)

var expiry = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// clients answers as alice with a long-term key and the given devices; session records its input.
func clients(arn, keyID string, serials []string, session func(*sts.GetSessionTokenInput) (*sts.GetSessionTokenOutput, error)) mfasession.Clients {
	if session == nil {
		session = func(in *sts.GetSessionTokenInput) (*sts.GetSessionTokenOutput, error) {
			return &sts.GetSessionTokenOutput{Credentials: &ststypes.Credentials{AccessKeyId: aws.String("ASIAEXAMPLESESSION1"),
				SecretAccessKey: aws.String("secret"), SessionToken: aws.String("token"), Expiration: aws.Time(expiry)}}, nil
		}
	}
	return mfasession.Clients{
		STS: &fakeSTS{
			identity: func() (*sts.GetCallerIdentityOutput, error) {
				return &sts.GetCallerIdentityOutput{Account: aws.String(account), Arn: aws.String(arn), UserId: aws.String("AIDAEXAMPLE")}, nil
			},
			session: session,
		},
		IAM: &fakeIAM{list: func(*iam.ListMFADevicesInput) (*iam.ListMFADevicesOutput, error) {
			out := &iam.ListMFADevicesOutput{}
			for _, s := range serials {
				out.MFADevices = append(out.MFADevices, iamtypes.MFADevice{SerialNumber: aws.String(s), UserName: aws.String("alice"), EnableDate: aws.Time(expiry)})
			}
			return out, nil
		}},
		Credentials: credentials.NewStaticCredentialsProvider(keyID, "long-term-secret", ""),
	}
}

func TestNewDevice(t *testing.T) {
	for serial, want := range map[string]struct {
		name    string
		kind    mfasession.DeviceKind
		session bool
	}{
		phone: {"phone", mfasession.Virtual, true},
		"arn:aws:iam::123456789012:mfa/team/phone": {"phone", mfasession.Virtual, true},
		token:   {token, mfasession.HardwareTOTP, true},
		yubikey: {"yubikey-ABCDEFGHIJKL", mfasession.FIDO, false},
	} {
		d := mfasession.NewDevice(serial)
		if d.Name != want.name || d.Kind != want.kind || d.Session != want.session {
			t.Errorf("%s: %+v, want %+v", serial, d, want)
		}
	}
}

func TestChooseDevice(t *testing.T) {
	devs := func(serials ...string) []mfasession.Device {
		var d []mfasession.Device
		for _, s := range serials {
			d = append(d, mfasession.NewDevice(s))
		}
		return d
	}
	picked := func(ds []mfasession.Device) (mfasession.Device, error) { return ds[len(ds)-1], nil }
	for _, tc := range []struct {
		name    string
		devs    []mfasession.Device
		want    string
		prompt  func([]mfasession.Device) (mfasession.Device, error)
		serial  string
		err     error
		mention string
	}{
		{name: "only one", devs: devs(phone), serial: phone},
		{name: "only usable one beside a key", devs: devs(yubikey, token), serial: token},
		{name: "by name", devs: devs(phone, tablet), want: "tablet", serial: tablet},
		{name: "by serial", devs: devs(phone, token), want: token, serial: token},
		{name: "prompt", devs: devs(phone, tablet, yubikey), prompt: picked, serial: tablet},
		{name: "several without prompt", devs: devs(phone, tablet), mention: "phone|tablet"},
		{name: "unknown name", devs: devs(phone), want: "laptop", err: mfasession.ErrNoDevice},
		{name: "none", err: mfasession.ErrNoDevice},
		{name: "FIDO only", devs: devs(yubikey), err: mfasession.ErrFIDOOnly},
		{name: "FIDO named", devs: devs(yubikey, phone), want: "yubikey-ABCDEFGHIJKL", err: mfasession.ErrFIDOOnly, mention: "phone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := mfasession.ChooseDevice(tc.devs, tc.want, tc.prompt)
			if tc.serial != "" {
				if err != nil || d.Serial != tc.serial {
					t.Fatalf("got %v, %v; want %s", d.Serial, err, tc.serial)
				}
				return
			}
			if err == nil || (tc.err != nil && !errors.Is(err, tc.err)) {
				t.Fatalf("got %v, want %v", err, tc.err)
			}
			var me *mfasession.Error
			if !errors.As(err, &me) || !strings.Contains(me.Error()+me.Hint, tc.mention) {
				t.Errorf("error %v (hint %q) does not mention %q", err, me.Hint, tc.mention)
			}
		})
	}
}

func TestDurationBounds(t *testing.T) {
	for d, ok := range map[time.Duration]bool{
		899 * time.Second: false, 15 * time.Minute: true, 36 * time.Hour: true, 36*time.Hour + time.Second: false, 1500 * time.Millisecond: false,
	} {
		if err := mfasession.ValidateDuration(d, false); (err == nil) != ok {
			t.Errorf("%s: %v", d, err)
		}
	}
	if err := mfasession.ValidateDuration(2*time.Hour, true); !errors.Is(err, mfasession.ErrBadDuration) {
		t.Errorf("root for 2h: %v", err)
	}
	_, err := mfasession.Session(context.Background(), clients(userARN, "AKIAEXAMPLEKEY123456", []string{phone}, nil), mfasession.SessionOptions{Code: "123456", Duration: 37 * time.Hour})
	if !errors.Is(err, mfasession.ErrBadDuration) {
		t.Errorf("Session with 37h: %v", err)
	}
}

func TestSessionSendsTheRegisteredSerial(t *testing.T) {
	var got *sts.GetSessionTokenInput
	c := clients(userARN, "AKIAEXAMPLEKEY123456", []string{phone, tablet}, func(in *sts.GetSessionTokenInput) (*sts.GetSessionTokenOutput, error) {
		got = in
		return &sts.GetSessionTokenOutput{Credentials: &ststypes.Credentials{AccessKeyId: aws.String("ASIAEXAMPLESESSION1"),
			SecretAccessKey: aws.String("very-secret"), SessionToken: aws.String("session-token"), Expiration: aws.Time(expiry)}}, nil
	})
	var prompted []mfasession.Device
	creds, err := mfasession.Session(context.Background(), c, mfasession.SessionOptions{
		Duration: time.Hour,
		Prompt:   func(ds []mfasession.Device) (mfasession.Device, error) { prompted = ds; return ds[1], nil },
		ReadCode: func(mfasession.Device) (string, error) { return " 654321\n", nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(prompted) != 2 || aws.ToString(got.SerialNumber) != tablet || aws.ToString(got.TokenCode) != "654321" || aws.ToInt32(got.DurationSeconds) != 3600 {
		t.Errorf("prompted %v, sent %s %s %d", prompted, aws.ToString(got.SerialNumber), aws.ToString(got.TokenCode), aws.ToInt32(got.DurationSeconds))
	}
	if creds.Serial != tablet || creds.AccessKeyID != "ASIAEXAMPLESESSION1" || strings.Contains(creds.String(), "very-secret") || strings.Contains(creds.String(), "session-token") {
		t.Errorf("credentials %+v", creds)
	}
}

type apiErr struct{ code string }

func (e apiErr) Error() string     { return "api error " + e.code }
func (e apiErr) ErrorCode() string { return e.code }
func (e apiErr) ErrorMessage() string {
	return "MultiFactorAuthentication failed with invalid MFA one time pass code."
}
func (e apiErr) ErrorFault() smithy.ErrorFault { return smithy.FaultClient }

func TestSessionErrorsExplained(t *testing.T) {
	for _, tc := range []struct {
		name, arn, key, code string
		err                  error
		hint                 string
	}{
		{name: "wrong code", arn: userARN, key: "AKIAEXAMPLEKEY123456", code: "AccessDenied", err: mfasession.ErrWrongCode, hint: "already used"},
		{name: "expired key", arn: userARN, key: "AKIAEXAMPLEKEY123456", code: "ExpiredToken", err: mfasession.ErrExpiredOrInvalid, hint: "access key"},
		{name: "invalid key", arn: userARN, key: "AKIAEXAMPLEKEY123456", code: "InvalidClientTokenId", err: mfasession.ErrExpiredOrInvalid, hint: "access key"},
		{name: "role session", arn: "arn:aws:sts::123456789012:assumed-role/Dev/alice", key: "ASIAEXAMPLEKEY123456", err: mfasession.ErrTemporaryCaller, hint: "long-term"},
		{name: "user session", arn: userARN, key: "ASIAEXAMPLEKEY123456", err: mfasession.ErrTemporaryCaller, hint: "long-term"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := clients(tc.arn, tc.key, []string{phone}, func(*sts.GetSessionTokenInput) (*sts.GetSessionTokenOutput, error) {
				return nil, &smithy.OperationError{ServiceID: "STS", OperationName: "GetSessionToken", Err: apiErr{tc.code}}
			})
			_, err := mfasession.Session(context.Background(), c, mfasession.SessionOptions{Code: "123456"})
			var me *mfasession.Error
			if !errors.Is(err, tc.err) || !errors.As(err, &me) || !strings.Contains(me.Hint, tc.hint) {
				t.Fatalf("got %v (hint %q), want %v with %q", err, me, tc.err, tc.hint)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	r, err := mfasession.Status(context.Background(), clients(userARN, "AKIAEXAMPLEKEY123456", []string{phone, yubikey}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if r.Credentials != mfasession.LongTermKey || r.MFA != mfasession.MFANo || r.KeyID != "AKIA…3456" || len(r.Devices) != 2 || r.Devices[1].Kind != mfasession.FIDO {
		t.Errorf("report %+v", r)
	}
	allowed := map[string]bool{}
	for _, a := range r.WithoutMFA {
		allowed[a.Action] = a.Allowed
	}
	for action, want := range map[string]bool{"iam:ListMFADevices": true, "iam:EnableMFADevice": true, "iam:ChangePassword": true,
		"sts:GetSessionToken": true, "iam:CreateVirtualMFADevice": true, "ec2:DescribeInstances": false, "s3:ListAllMyBuckets": false} {
		if got, ok := allowed[action]; !ok || got != want {
			t.Errorf("%s allowed without MFA: %v (listed %v), want %v", action, got, ok, want)
		}
	}
	r, err = mfasession.Status(context.Background(), clients(userARN, "ASIAEXAMPLEKEY123456", nil, nil))
	if err != nil || r.MFA != mfasession.MFAUnknown || r.Credentials != mfasession.Temporary || r.DevicesNote == "" {
		t.Errorf("session: %+v, %v", r, err)
	}
}

func TestWriteProfileKeepsOtherProfiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "credentials")
	before := "# my keys\n[default]\naws_access_key_id = AKIAEXAMPLEKEY123456\naws_secret_access_key = x\n\n" +
		"[mfa]\n; note kept\naws_access_key_id = ASIAOLD\naws_secret_access_key = old\naws_session_token = old\nregion = eu-west-1\n" +
		"[other]  \r\naws_access_key_id=AKIAOTHER\r\n"
	if err := os.WriteFile(path, []byte(before), 0o644); err != nil {
		t.Fatal(err)
	}
	c := mfasession.Credentials{AccessKeyID: "ASIANEW", SecretAccessKey: "new-secret", SessionToken: "new-token", Expiration: expiry}
	if err := mfasession.WriteProfile(path, "mfa", c); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := "# my keys\n[default]\naws_access_key_id = AKIAEXAMPLEKEY123456\naws_secret_access_key = x\n\n" +
		"[mfa]\naws_access_key_id = ASIANEW\naws_secret_access_key = new-secret\naws_session_token = new-token\n" +
		"x_security_token_expiration = 2026-12-01T12:00:00Z\n; note kept\nregion = eu-west-1\n" +
		"[other]  \r\naws_access_key_id=AKIAOTHER\r\n"
	if string(got) != want {
		t.Errorf("rewritten:\n%q\nwant\n%q", got, want)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	// A new profile is appended; the default profile's long-term key is never replaced.
	if err := mfasession.WriteProfile(path, "new", c); err != nil {
		t.Fatal(err)
	}
	got2, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(got2), want) || !strings.HasSuffix(string(got2), "\n\n[new]\naws_access_key_id = ASIANEW\naws_secret_access_key = new-secret\naws_session_token = new-token\nx_security_token_expiration = 2026-12-01T12:00:00Z\n") {
		t.Errorf("appended:\n%s", got2)
	}
	if err := mfasession.WriteProfile(path, "default", c); err == nil {
		t.Error("the long-term key of [default] was replaced")
	}
	// A missing file and directory are created.
	fresh := filepath.Join(dir, "aws", "credentials")
	if err := mfasession.WriteProfile(fresh, "mfa", c); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(fresh); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("fresh file: %v %v", st, err)
	}
}

func TestExportsAndProcess(t *testing.T) {
	c := mfasession.Credentials{AccessKeyID: "ASIANEW", SecretAccessKey: "a'b", SessionToken: "tok", Expiration: expiry, Serial: phone}
	var b strings.Builder
	if err := mfasession.WriteExports(&b, c); err != nil {
		t.Fatal(err)
	}
	want := "export AWS_ACCESS_KEY_ID='ASIANEW'\nexport AWS_SECRET_ACCESS_KEY='a'\\''b'\nexport AWS_SESSION_TOKEN='tok'\n# MFA session (" + phone + ") expires 2026-12-01T12:00:00Z\n"
	if b.String() != want {
		t.Errorf("exports:\n%s", b.String())
	}
	b.Reset()
	if err := mfasession.WriteProcess(&b, c); err != nil {
		t.Fatal(err)
	}
	if b.String() != `{"Version":1,"AccessKeyId":"ASIANEW","SecretAccessKey":"a'b","SessionToken":"tok","Expiration":"2026-12-01T12:00:00Z"}`+"\n" {
		t.Errorf("process: %s", b.String())
	}
}

func TestCacheReuseAndRefresh(t *testing.T) {
	now := expiry.Add(-time.Hour)
	cache := mfasession.Cache{Dir: filepath.Join(t.TempDir(), "iamwarden"), Now: func() time.Time { return now }}
	calls := 0
	fetch := func(context.Context) (mfasession.Credentials, error) {
		calls++
		return mfasession.Credentials{AccessKeyID: "ASIA" + string(rune('0'+calls)), Expiration: now.Add(time.Hour)}, nil
	}
	ctx := context.Background()
	key := mfasession.CacheKey("work", "phone")
	first, _ := cache.Get(ctx, key, fetch)
	now = now.Add(54 * time.Minute) // 6 minutes left: reused
	second, _ := cache.Get(ctx, key, fetch)
	now = now.Add(2 * time.Minute) // 4 minutes left: refreshed
	third, err := cache.Get(ctx, key, fetch)
	if err != nil || calls != 2 || first.AccessKeyID != second.AccessKeyID || third.AccessKeyID == second.AccessKeyID {
		t.Errorf("calls %d: %v %v %v %v", calls, first, second, third, err)
	}
	st, err := os.Stat(filepath.Join(cache.Dir, key+".json"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("cache file: %v %v", st, err)
	}
	if _, err := cache.Get(ctx, mfasession.CacheKey("work", "tablet"), fetch); err != nil || calls != 3 {
		t.Errorf("another device shares the entry: calls %d, %v", calls, err)
	}
}

func TestCacheConcurrentCallersFetchOnce(t *testing.T) {
	cache := mfasession.Cache{Dir: t.TempDir(), Now: func() time.Time { return expiry.Add(-time.Hour) }}
	var calls atomic.Int32
	fetch := func(context.Context) (mfasession.Credentials, error) {
		calls.Add(1)
		return mfasession.Credentials{AccessKeyID: "ASIAONE", Expiration: expiry}, nil
	}
	const n = 8
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	got := make([]string, n)
	for i := range n {
		go func() {
			defer done.Done()
			ready.Done()
			<-start // every caller released at once
			c, err := cache.Get(context.Background(), "shared", fetch)
			if err != nil {
				t.Error(err)
			}
			got[i] = c.AccessKeyID
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
	if calls.Load() != 1 {
		t.Errorf("fetched %d times, want once", calls.Load())
	}
	for i, g := range got {
		if g != "ASIAONE" {
			t.Errorf("caller %d got %q", i, g)
		}
	}
}
