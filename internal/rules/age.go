package rules

import (
	"fmt"
	"time"

	"github.com/iamwarden/iamwarden/internal/inventory"
)

const day = 24 * time.Hour

// days converts a day threshold to a duration.
func days(n int) time.Duration { return time.Duration(n) * day }

// atLeastDaysBefore reports whether t is known and lies n days or more before asOf. Exactly n days
// counts: a credential last used 90 days ago breaks a 90-day threshold.
func atLeastDaysBefore(asOf, t time.Time, n int) bool {
	return !t.IsZero() && asOf.Sub(t) >= days(n)
}

// ageDays is the whole number of days (floored) from t to asOf.
func ageDays(asOf, t time.Time) int {
	return int(asOf.Sub(t) / day)
}

// after reports whether t is known and later than asOf: the event had not happened yet at the
// instant judged.
func after(asOf, t time.Time) bool {
	return !t.IsZero() && t.After(asOf)
}

// stamp renders t for evidence: RFC 3339 in UTC, or nil (JSON null) when unknown.
func stamp(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

// date renders t as a calendar day in UTC, for details.
func date(t time.Time) string { return t.UTC().Format("2006-01-02") }

// instant renders t to the second in UTC, for details that need the time of day.
func instant(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// plural renders n with a singular or plural noun: "1 day", "2 days".
func plural(n int, noun string) string {
	if n == 1 || n == -1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// keyName names an access key in a detail: its masked ID, or its report slot.
func keyName(k inventory.AccessKey) string {
	if k.ID != "" {
		return "access key " + MaskKeyID(k.ID)
	}
	return k.Ref()
}

// keyVerdicts applies judge to each key that was active at env.AsOf and turns each violation it
// reports (detail, evidence, true) into a verdict naming that exact key; a key without a known ID
// gets the reason appended to the detail (KeyIDNote). Each verdict holds its own copy of the key.
func keyVerdicts(env Env, p *inventory.User, judge func(k inventory.AccessKey) (string, map[string]any, bool)) []Verdict {
	var out []Verdict
	for _, k := range p.AccessKeys {
		if !existedAt(env.AsOf, k) {
			continue
		}
		key := k
		detail, ev, ok := judge(key)
		if !ok {
			continue
		}
		if note := KeyIDNote(key); note != "" {
			detail += "; " + note
		}
		out = append(out, Verdict{Resource: key.Ref(), Key: &key, State: StateViolation, Detail: detail, Evidence: ev})
	}
	return out
}

// existedAt reports whether an active key counts at asOf: a key created after the instant judged
// did not exist then.
func existedAt(asOf time.Time, k inventory.AccessKey) bool {
	return k.Active && !after(asOf, k.Created)
}

// formatGrace renders a grace period the way the configuration accepts it: "24h", "3d", "1d12h",
// "90m".
func formatGrace(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	var s string
	if d >= 2*day || (d > day && d%day != 0) {
		s = fmt.Sprintf("%dd", d/day)
		d %= day
	}
	if h := d / time.Hour; h > 0 {
		s += fmt.Sprintf("%dh", h)
		d %= time.Hour
	}
	if m := d / time.Minute; m > 0 {
		s += fmt.Sprintf("%dm", m)
		d %= time.Minute
	}
	if d > 0 {
		s += fmt.Sprintf("%gs", d.Seconds())
	}
	return s
}
