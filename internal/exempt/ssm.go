package exempt

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/iamwarden/iamwarden/internal/config"
)

// ParameterAPI is the part of the SSM client the exemption list needs.
type ParameterAPI interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// ErrParameterNotFound is returned (wrapped) when the exemption parameter does not exist. Callers
// treat it as "no exemptions" but report it: a typo in the parameter name must not go unnoticed.
var ErrParameterNotFound = errors.New("exemption parameter not found")

// LoadParameter reads a StringList (or String) parameter of comma-separated user names.
func LoadParameter(ctx context.Context, api ParameterAPI, name string) ([]string, error) {
	out, err := api.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
	if err != nil {
		var nf *ssmtypes.ParameterNotFound
		if errors.As(err, &nf) {
			return nil, fmt.Errorf("ssm:GetParameter %s: %w", name, ErrParameterNotFound)
		}
		return nil, fmt.Errorf("ssm:GetParameter %s: %w", name, err)
	}
	if out.Parameter == nil || out.Parameter.Value == nil {
		return nil, nil
	}
	return ParseUserList(*out.Parameter.Value), nil
}

// ParseUserList splits a StringList value into user names, dropping blanks.
func ParseUserList(v string) []string {
	var users []string
	for _, u := range strings.Split(v, ",") {
		if u = strings.TrimSpace(u); u != "" {
			users = append(users, u)
		}
	}
	return users
}

// Load builds the exemptions every command that acts applies: tags, the configuration file and,
// when the configuration names one, the SSM list. A list that exists but cannot be read is an
// error: acting without it could act on an excluded user. A list that does not exist is empty.
func Load(ctx context.Context, api ParameterAPI, cfg *config.Config) (*Set, error) {
	var params []string
	if p := cfg.ExemptionParameter; p != "" {
		var err error
		params, err = LoadParameter(ctx, api, p)
		if err != nil && !errors.Is(err, ErrParameterNotFound) {
			return nil, fmt.Errorf("exemption list unreadable, refusing to act: %w", err)
		}
	}
	return New(cfg, params), nil
}
