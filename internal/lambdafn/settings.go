package lambdafn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/iamwarden/iamwarden/internal/config"
	"github.com/iamwarden/iamwarden/internal/org"
	"github.com/iamwarden/iamwarden/internal/warden"
)

// Mode says whether the function acts.
type Mode string

const (
	// ModeReport judges, notifies and reports; it changes nothing in IAM.
	ModeReport Mode = "report"
	// ModeEnforce also remediates, through the same executor and guards as the CLI.
	ModeEnforce Mode = "enforce"
)

// The environment variables the function reads; the event never configures it.
const (
	EnvMode                = "IAMWARDEN_MODE"
	EnvConfig              = "IAMWARDEN_CONFIG"
	EnvConfigParameter     = "IAMWARDEN_CONFIG_PARAMETER"
	EnvExemptionParameter  = "IAMWARDEN_EXEMPTION_PARAMETER"
	EnvSNSTopicARN         = "IAMWARDEN_SNS_TOPIC_ARN"
	EnvJournalTable        = "IAMWARDEN_JOURNAL_TABLE"
	EnvMaxActions          = "IAMWARDEN_MAX_ACTIONS"
	EnvScheduleGroup       = "IAMWARDEN_SCHEDULE_GROUP"
	EnvSchedulerRoleARN    = "IAMWARDEN_SCHEDULER_ROLE_ARN"
	EnvScheduleDLQARN      = "IAMWARDEN_SCHEDULE_DLQ_ARN"
	EnvGrace               = "IAMWARDEN_GRACE"
	EnvUnusedDays          = "IAMWARDEN_UNUSED_DAYS"
	EnvMFARemovedGrace     = "IAMWARDEN_MFA_REMOVED_GRACE"
	EnvHistoryDays         = "IAMWARDEN_HISTORY_DAYS"
	defaultLambdaMaxAction = 25
	// DefaultHistoryDays is how long the journal table keeps a sweep's history record.
	DefaultHistoryDays = 90
)

// The environment variables of organization mode (the function as the organization's hub).
const (
	EnvOrganization    = "IAMWARDEN_ORGANIZATION"
	EnvAccountQueueURL = "IAMWARDEN_ACCOUNT_QUEUE_URL"
	EnvMemberRoleName  = "IAMWARDEN_MEMBER_ROLE_NAME"
	EnvEnforceRoleName = "IAMWARDEN_ENFORCE_ROLE_NAME"
	EnvExternalID      = "IAMWARDEN_EXTERNAL_ID"
	EnvSecurityHub     = "IAMWARDEN_SECURITY_HUB"
)

// Env lists every variable the function reads, for the deployment's tests and docs.
func Env() []string {
	return []string{EnvMode, EnvConfig, EnvConfigParameter, EnvExemptionParameter, EnvSNSTopicARN, EnvJournalTable,
		EnvMaxActions, EnvScheduleGroup, EnvSchedulerRoleARN, EnvScheduleDLQARN, EnvGrace, EnvUnusedDays, EnvMFARemovedGrace,
		EnvHistoryDays, EnvOrganization, EnvAccountQueueURL, EnvMemberRoleName, EnvEnforceRoleName, EnvExternalID, EnvSecurityHub}
}

// Settings are the function's settings, read from its environment at each invocation.
type Settings struct {
	Mode     Mode
	Warden   *warden.Settings
	Journal  string // DynamoDB table; "" when none
	Schedule Scheduling
	// Organization is set when the function is the organization's hub.
	Organization *Organization
	// SecurityHub imports each audited account's findings into its Security Hub.
	SecurityHub bool
	// HistoryRetention is how long the journal table keeps each sweep's history record before
	// DynamoDB's TTL deletes it; 0 keeps records.
	HistoryRetention time.Duration
}

// Organization is how the hub reaches the organization's accounts.
type Organization struct {
	// QueueURL is the SQS queue an organization sweep fans out to, one message per account.
	QueueURL string
	// RoleName is the member role of the mode: the audit role in report mode, the enforce role
	// in enforce mode.
	RoleName   string
	ExternalID string
}

// Scheduling names where one-shot deadline schedules go; zero when not configured.
type Scheduling struct {
	Group, RoleARN, DeadLetterARN string
}

// On reports whether deadline schedules are configured.
func (s Scheduling) On() bool { return s.Group != "" }

// ErrSettings marks an invalid or missing setting: the invocation fails and changes nothing.
var ErrSettings = errors.New("invalid function settings")

func settingsError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrSettings, fmt.Sprintf(format, args...))
}

// LoadSettings reads the settings from getenv, and the configuration document from the SSM
// parameter when one is named.
func LoadSettings(ctx context.Context, getenv func(string) string, params ParameterAPI) (*Settings, error) {
	s := &Settings{Mode: ModeReport, Journal: strings.TrimSpace(getenv(EnvJournalTable))}
	switch m := Mode(strings.TrimSpace(getenv(EnvMode))); m {
	case "", ModeReport:
	case ModeEnforce:
		s.Mode = ModeEnforce
		if s.Journal == "" {
			return nil, settingsError("%s=enforce needs %s: every change is journaled before it is made", EnvMode, EnvJournalTable)
		}
	default:
		return nil, settingsError("%s=%q: want report or enforce", EnvMode, m)
	}
	cfg, source, err := loadConfig(ctx, getenv, params)
	if err != nil {
		return nil, err
	}
	var o warden.Overrides
	if v := getenv(EnvMaxActions); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, settingsError("%s=%q: want a whole number of at least 1", EnvMaxActions, v)
		}
		o.MaxActions = n
	} else if cfg.Enforce.MaxActions == 0 {
		o.MaxActions = defaultLambdaMaxAction
	}
	if v := getenv(EnvGrace); v != "" {
		d, err := config.ParseDuration(v)
		if err != nil || d < 0 {
			return nil, settingsError("%s=%q: want a duration such as 72h or 3d", EnvGrace, v)
		}
		o.Grace = &d
	}
	if v := getenv(EnvMFARemovedGrace); v != "" {
		d, err := config.ParseDuration(v)
		if err != nil || d < 0 {
			return nil, settingsError("%s=%q: want a duration such as 24h, or 0h for none", EnvMFARemovedGrace, v)
		}
		o.MFARemovedGrace = &d
	}
	if v := getenv(EnvUnusedDays); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, settingsError("%s=%q: want a whole number of days of at least 1", EnvUnusedDays, v)
		}
		o.PasswordUnusedDays, o.KeyUnusedDays = &n, &n
	}
	// The environment wins over the configuration's journal.history_days; neither: the default.
	s.HistoryRetention = DefaultHistoryDays * 24 * time.Hour
	if d, ok := cfg.Journal.HistoryRetention(); ok {
		s.HistoryRetention = d
	}
	if v := strings.TrimSpace(getenv(EnvHistoryDays)); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > config.MaxHistoryDays {
			return nil, settingsError("%s=%q: want a whole number of days, or 0 to keep the history forever", EnvHistoryDays, v)
		}
		s.HistoryRetention = time.Duration(n) * 24 * time.Hour
	}
	o.HistoryRetention = &s.HistoryRetention
	if s.Warden, err = warden.Resolve(cfg, source, o); err != nil {
		return nil, settingsError("%v", err)
	}
	if s.SecurityHub, err = flag(getenv, EnvSecurityHub); err != nil {
		return nil, err
	}
	if s.SecurityHub && s.Journal == "" {
		return nil, settingsError("%s=true needs %s: it remembers each account's last import there", EnvSecurityHub, EnvJournalTable)
	}
	orgMode, err := flag(getenv, EnvOrganization)
	if err != nil {
		return nil, err
	}
	if orgMode {
		o := &Organization{QueueURL: getenv(EnvAccountQueueURL), ExternalID: getenv(EnvExternalID), RoleName: getenv(EnvMemberRoleName)}
		if o.RoleName == "" {
			o.RoleName = org.DefaultAuditRole
		}
		if s.Mode == ModeEnforce {
			if o.RoleName = getenv(EnvEnforceRoleName); o.RoleName == "" {
				o.RoleName = org.DefaultEnforceRole
			}
		}
		switch {
		case o.QueueURL == "":
			return nil, settingsError("%s=true needs %s: the organization sweep fans out to it", EnvOrganization, EnvAccountQueueURL)
		case o.ExternalID == "":
			return nil, settingsError("%s=true needs %s: the member roles require it", EnvOrganization, EnvExternalID)
		}
		s.Organization = o
	}
	s.Schedule = Scheduling{Group: getenv(EnvScheduleGroup), RoleARN: getenv(EnvSchedulerRoleARN), DeadLetterARN: getenv(EnvScheduleDLQARN)}
	if (s.Schedule.Group == "") != (s.Schedule.RoleARN == "") {
		return nil, settingsError("%s and %s go together: set both to schedule deadlines, or neither", EnvScheduleGroup, EnvSchedulerRoleARN)
	}
	return s, nil
}

// flag reads a true/false setting; empty is false.
func flag(getenv func(string) string, name string) (bool, error) {
	switch v := strings.TrimSpace(getenv(name)); strings.ToLower(v) {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, settingsError("%s=%q: want true or false", name, v)
	}
}

// ParameterAPI reads the configuration parameter.
type ParameterAPI interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// loadConfig reads the configuration document: inline, from SSM, or the defaults. The
// environment's overrides (exemption parameter, topic, journal table) apply over it.
func loadConfig(ctx context.Context, getenv func(string) string, params ParameterAPI) (*config.Config, string, error) {
	inline, param := getenv(EnvConfig), getenv(EnvConfigParameter)
	var (
		doc    string
		source string
	)
	switch {
	case inline != "" && param != "":
		return nil, "", settingsError("set %s or %s, not both", EnvConfig, EnvConfigParameter)
	case inline != "":
		doc, source = inline, EnvConfig
	case param != "":
		out, err := params.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(param), WithDecryption: aws.Bool(true)})
		if err != nil {
			return nil, "", fmt.Errorf("%s: ssm:GetParameter %s: %w", EnvConfigParameter, param, err)
		}
		doc, source = aws.ToString(out.Parameter.Value), "ssm:"+param
	}
	var r io.Reader
	if doc != "" {
		r = strings.NewReader(doc)
	}
	cfg, err := config.LoadDocument(r, source, getenv)
	if err != nil {
		return nil, "", settingsError("%v", err)
	}
	return cfg, source, nil
}
