package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/iamwarden/iamwarden/internal/report"
)

// RunPolicy is Run with the policy command and its render, lint and apply subcommands wired in,
// whether or not the root command registers them.
func RunPolicy(ctx context.Context, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	g := &globals{stdin: env.Stdin, stdout: env.Stdout, stderr: env.Stderr, getenv: env.Getenv, now: env.Now, awsCfg: env.AWSConfig}
	root := newRoot(g)
	pc := subcommand(root, "policy")
	if pc == nil {
		pc = newPolicyCmd(g)
		root.AddCommand(pc)
	}
	for name, mk := range map[string]func(*globals) *cobra.Command{"render": newPolicyRenderCmd, "lint": newPolicyLintCmd, "apply": newPolicyApplyCmd} {
		if subcommand(pc, name) == nil {
			pc.AddCommand(mk(g))
		}
	}
	root.SetArgs(args)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintf(env.Stderr, "iamwarden: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) && ue.hint != "" {
		fmt.Fprintf(env.Stderr, "try: %s\n", ue.hint)
	}
	return report.ExitError
}

func subcommand(c *cobra.Command, name string) *cobra.Command {
	for _, s := range c.Commands() {
		if s.Name() == name {
			return s
		}
	}
	return nil
}
