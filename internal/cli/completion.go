package cli

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/iamwarden/iamwarden/internal/policy/generate"
	"github.com/iamwarden/iamwarden/internal/policy/lint"
	"github.com/iamwarden/iamwarden/internal/rules"
)

// Shell completion (cobra's 'iamwarden completion bash|zsh|fish|powershell') completes rule IDs,
// policy kinds and the output formats each command prints, from the same registries the commands
// read.

// completeRuleIDs completes scan and enforce --rule and --skip-rule with the rule registry.
func completeRuleIDs(_ *cobra.Command, _ []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
	var out []cobra.Completion
	for _, r := range rules.Registry() {
		if strings.HasPrefix(r.ID, prefix) {
			out = append(out, cobra.CompletionWithDesc(r.ID, r.Title))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeLintRules completes policy lint --rule with the lint registry.
func completeLintRules(_ *cobra.Command, _ []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
	var out []cobra.Completion
	for _, r := range lint.Registry() {
		if strings.HasPrefix(r.ID, prefix) {
			out = append(out, cobra.CompletionWithDesc(r.ID, r.Title))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completePolicyKinds completes the KIND of policy render.
func completePolicyKinds(_ *cobra.Command, args []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, k := range generate.Kinds() {
		if strings.HasPrefix(string(k.Kind), prefix) {
			out = append(out, cobra.CompletionWithDesc(string(k.Kind), k.Title))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeOutput completes --output with the formats of the command being completed.
func completeOutput(cmd *cobra.Command, _ []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
	name := strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
	var out []cobra.Completion
	for _, f := range outputs[name] {
		if strings.HasPrefix(string(f), prefix) {
			out = append(out, cobra.Completion(f))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

func fixedCompletion(values ...string) cobra.CompletionFunc {
	return cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp)
}
