package rules

import (
	"fmt"

	"github.com/iamwarden/iamwarden/internal/inventory"
)

func consoleMFAMissing() Rule {
	return Rule{
		ID:       "console-mfa-missing",
		Title:    "Console user without MFA",
		Severity: SeverityHigh,
		Controls: []string{"FSBP IAM.5", "CIS v5.0.0 1.9", "CIS v3.0.0 1.10"},
		Doc:      "docs/rules/console-mfa-missing.md",
		Check:    checkConsoleMFAMissing,
	}
}

// checkConsoleMFAMissing: an IAM user with a console password and no MFA device. The user has
// Thresholds.ConsoleMFAGrace after the password was set to register a device; until then the
// verdict is pending.
func checkConsoleMFAMissing(env Env, p *inventory.User) []Verdict {
	if p.IsRoot || !p.Password.Enabled || p.MFA.Active {
		return nil
	}
	if p.Incomplete {
		// "No MFA" or the time the password was set may be what could not be read.
		return nil
	}
	if pc := p.Password.ProfileCreated; !pc.IsZero() && pc.After(env.AsOf) {
		return nil // judged as of a time before console access was granted
	}
	grace := env.Thresholds.ConsoleMFAGrace
	setAt := p.Password.SetAt()
	source := "password_last_changed"
	if !p.Password.ProfileCreated.IsZero() {
		source = "login_profile_created"
	}
	ev := map[string]any{
		"mfa_active":          false,
		"password_set_at":     stamp(setAt),
		"password_set_source": source,
		"grace":               formatGrace(grace),
		"grace_seconds":       int64(grace.Seconds()),
	}
	if setAt.IsZero() {
		ev["password_set_source"] = nil
		ev["deadline"] = nil
		return []Verdict{{
			State:    StateViolation,
			Detail:   fmt.Sprintf("console password is enabled without MFA and the time it was set is unknown, so the %s grace period cannot apply", formatGrace(grace)),
			Evidence: ev,
		}}
	}
	deadline := setAt.Add(grace)
	ev["deadline"] = stamp(deadline)
	if g, ok := env.GraceGrants[p.ID]; ok && g.Until.After(deadline) && !g.RemovedAt.After(env.AsOf) {
		deadline = g.Until
		ev["deadline"] = stamp(deadline)
		ev["mfa_removed_at"] = stamp(g.RemovedAt)
		if env.AsOf.Before(deadline) {
			return []Verdict{{
				State:    StatePending,
				Deadline: deadline,
				Detail: fmt.Sprintf("the last MFA device was removed %s; console access ends %s unless another is registered",
					instant(g.RemovedAt), instant(deadline)),
				Evidence: ev,
			}}
		}
		return []Verdict{{
			State: StateViolation,
			Detail: fmt.Sprintf("the last MFA device was removed %s and none was registered in the grace period that ended %s",
				instant(g.RemovedAt), instant(deadline)),
			Evidence: ev,
		}}
	}
	if env.AsOf.Before(deadline) {
		return []Verdict{{
			State:    StatePending,
			Deadline: deadline,
			Detail: fmt.Sprintf("console password set %s has no MFA device yet; the %s grace period ends %s",
				instant(setAt), formatGrace(grace), instant(deadline)),
			Evidence: ev,
		}}
	}
	ev["age_days"] = ageDays(env.AsOf, setAt)
	return []Verdict{{
		State: StateViolation,
		Detail: fmt.Sprintf("console password set %s (%s ago) has no MFA device; the %s grace period ended %s",
			date(setAt), plural(ageDays(env.AsOf, setAt), "day"), formatGrace(grace), instant(deadline)),
		Evidence: ev,
	}}
}
