package htmlreport

import (
	"cmp"
	"encoding/json"
	"html/template"
	"slices"
)

// The findings of a page past its InlineFindings are data for its script, which shows a user's
// findings when asked: one JSON document in a <script type="application/json"> block, which the
// browser does not run. Its strings are the page's, masked and made safe as the HTML's are.
// A large account's findings repeat the same rules, states, evidence keys and often the same
// evidence (the same policies grant the same actions to thousands of users): every string met
// more than once is written once, in Strings, and elsewhere as its index there.
type findingsData struct {
	// Strings are the repeated strings, the most frequent first.
	Strings []string `json:"s"`
	// Rules holds, by rule ID, what every finding of the rule shares.
	Rules map[string]ruleData `json:"rules"`
	// Users are in the page's order: a user's row gives its index.
	Users []userData `json:"users"`
}

type ruleData struct {
	Doc      string `json:"doc,omitempty"`
	Controls string `json:"controls,omitempty"`
}

type userData struct {
	ARN      string        `json:"a,omitempty"`
	Findings []findingData `json:"f"`
}

// A finding's strings are each a string or an index in Strings.
type findingData struct {
	ID       any `json:"i,omitempty"`
	Severity any `json:"s"`
	State    any `json:"t"`
	Rule     any `json:"r"`
	Resource any `json:"k,omitempty"`
	Detail   any `json:"d,omitempty"`
	KeyNote  any `json:"n,omitempty"`
	// Deadline is the deadline's timestamp and its text.
	Deadline []any `json:"w,omitempty"`
	// Controls are the finding's own when they are not its rule's.
	Controls  any            `json:"c,omitempty"`
	Exemption *exemptionData `json:"x,omitempty"`
	// Evidence is key, value, key, value...
	Evidence []any `json:"e,omitempty"`
}

type exemptionData struct {
	Expired bool `json:"expired,omitempty"`
	Reason  any  `json:"reason"`
	Source  any  `json:"source"`
	Until   any  `json:"until,omitempty"`
}

// findingsJSON is the data of the page's findings by user, fit for a script data block.
// json.Marshal writes <, > and & as \u003c, \u003e and \u0026, and U+2028 and U+2029 as
// \u2028 and \u2029: no string can end the block or open a comment in it, whatever it holds.
func findingsJSON(p page) (template.JS, error) {
	// Count the strings, then write each repeated one once.
	count := map[string]int{}
	each := func(f findingView, do func(string)) {
		for _, s := range []string{f.ID, f.Severity, f.State, f.Rule, f.Resource, f.Detail, f.KeyNote, f.DeadlineText} {
			do(s)
		}
		if x := f.Exemption; x != nil {
			do(x.Reason)
			do(x.Source)
			do(x.Until)
		}
		for _, e := range f.Evidence {
			do(e.Key)
			do(e.Value)
		}
	}
	for _, u := range p.Users {
		for _, f := range u.Findings {
			each(f, func(s string) { count[s]++ })
		}
	}
	var d findingsData
	for s, n := range count {
		if n > 1 && len(s) > 1 {
			d.Strings = append(d.Strings, s)
		}
	}
	slices.SortFunc(d.Strings, func(a, b string) int { return cmp.Or(count[b]-count[a], cmp.Compare(a, b)) })
	index := make(map[string]int, len(d.Strings))
	for i, s := range d.Strings {
		index[s] = i
	}
	ref := func(s string) any {
		if i, ok := index[s]; ok {
			return i
		}
		return s
	}
	opt := func(s string) any { // left out when empty
		if s == "" {
			return nil
		}
		return ref(s)
	}

	d.Rules, d.Users = map[string]ruleData{}, make([]userData, 0, len(p.Users))
	for _, u := range p.Users {
		ud := userData{ARN: u.ARN, Findings: make([]findingData, 0, len(u.Findings))}
		for _, f := range u.Findings {
			r, ok := d.Rules[f.Rule]
			if !ok {
				r = ruleData{Doc: f.Doc, Controls: f.Controls}
				d.Rules[f.Rule] = r
			}
			fd := findingData{ID: opt(f.ID), Severity: ref(f.Severity), State: ref(f.State), Rule: ref(f.Rule), Resource: opt(f.Resource),
				Detail: opt(f.Detail), KeyNote: opt(f.KeyNote)}
			if f.Controls != r.Controls {
				fd.Controls = f.Controls // kept when empty: not nil
			}
			if f.Deadline != "" {
				fd.Deadline = []any{f.Deadline, ref(f.DeadlineText)}
			}
			if x := f.Exemption; x != nil {
				fd.Exemption = &exemptionData{Expired: x.Expired, Reason: ref(x.Reason), Source: ref(x.Source), Until: opt(x.Until)}
			}
			for _, e := range f.Evidence {
				fd.Evidence = append(fd.Evidence, ref(e.Key), ref(e.Value))
			}
			ud.Findings = append(ud.Findings, fd)
		}
		d.Users = append(d.Users, ud)
	}
	b, err := json.Marshal(d)
	if err != nil {
		return "", err
	}
	// The data is JSON with every character that could end the block escaped (see above).
	return template.JS(b), nil
}
