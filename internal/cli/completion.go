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
	return described(prefix, rules.Registry(), func(r rules.Rule) (string, string) { return r.ID, r.Title }),
		cobra.ShellCompDirectiveNoFileComp
}

// completeLintRules completes policy lint --rule with the lint registry.
func completeLintRules(_ *cobra.Command, _ []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return described(prefix, lint.Registry(), func(r lint.Rule) (string, string) { return r.ID, r.Title }),
		cobra.ShellCompDirectiveNoFileComp
}

// completePolicyKinds completes the KIND of policy render.
func completePolicyKinds(_ *cobra.Command, args []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return described(prefix, generate.Kinds(), func(k generate.KindInfo) (string, string) { return string(k.Kind), k.Title }),
		cobra.ShellCompDirectiveNoFileComp
}

// described is the items whose name starts with prefix, each with its description.
func described[T any](prefix string, items []T, name func(T) (string, string)) []cobra.Completion {
	var out []cobra.Completion
	for _, it := range items {
		if n, desc := name(it); strings.HasPrefix(n, prefix) {
			out = append(out, cobra.CompletionWithDesc(n, desc))
		}
	}
	return out
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
