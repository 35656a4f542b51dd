package inventory

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// whereAuthorization names the source of the authorization details in problems.
func whereAuthorization(src Source) string {
	if src == SourceExport {
		return FileAuthorizationDetails
	}
	return "iam:GetAccountAuthorizationDetails"
}

// Assemble interprets the API answers in raw as a Snapshot. It is the only place where the
// credential report, the authorization details and the MFA device list are joined, for live scans
// and exports alike.
//
// The credential report is required; without it, or when it cannot be read, Assemble fails. Users
// the report and the authorization details disagree about (a user created or deleted between the
// two reads) are kept with what is known, marked Incomplete, and listed as Problems.
func Assemble(raw Raw) (*Snapshot, error) {
	name := raw.ReportName
	if name == "" {
		name = "credential report"
	}
	if len(raw.CredentialReport) == 0 {
		return nil, fmt.Errorf("%s: no credential report", name)
	}
	root, users, probs, err := ParseCredentialReport(raw.CredentialReport, name)
	if err != nil {
		return nil, err
	}

	s := &Snapshot{
		AccountID:         raw.AccountID,
		Source:            raw.Source,
		ReadAt:            utc(raw.ReadAt),
		ReportGeneratedAt: utc(raw.ReportGeneratedAt),
		Root:              root,
		Users:             users,
		Groups:            map[string]Group{},
		Policies:          map[string]ManagedPolicy{},
		Summary:           maps.Clone(raw.Summary),
		Problems:          slices.Clone(raw.Problems),
	}
	if len(raw.Aliases) > 0 {
		s.AccountAlias = raw.Aliases[0]
	}
	switch {
	case raw.SCPs != nil:
		scps := *raw.SCPs
		s.SCPs = &scps
	case raw.Source == SourceExport:
		s.SCPs = &SCPs{State: SCPsNotRead, Reason: "the export has no " + FileSCPs}
	default:
		s.SCPs = &SCPs{State: SCPsNotRead, Reason: "not read"}
	}
	if raw.PasswordPolicy != nil {
		pp := *raw.PasswordPolicy
		s.PasswordPolicy = &pp
	}
	s.Problems = append(s.Problems, probs...)

	where := whereAuthorization(raw.Source)
	if raw.Authorization == nil {
		if !slices.ContainsFunc(s.Problems, func(p Problem) bool { return p.Where == where }) {
			s.Problems = append(s.Problems, Problem{Where: where, Message: "authorization details not read: groups, policies and tags (exemptions) unknown"})
		}
		// The credentials come from the report and are still judged; the result is partial
		// because tags (exemptions), groups and policies are unknown.
	} else {
		s.Problems = append(s.Problems, joinDetails(s, raw.Authorization, where, name)...)
	}
	if err := setAccountID(s, raw.Authorization); err != nil {
		return nil, err
	}
	if s.Root == nil {
		s.Root = rootFromSummary(s.AccountID, s.Summary)
	}
	attachVirtualMFA(s, raw.VirtualMFADevices)
	s.Recorded = newRecorded(raw.AccessKeys, raw.LoginProfiles, raw.KeyLastUses)
	if len(s.Problems) == 0 {
		s.Problems = nil
	}
	return s, nil
}

// joinDetails fills the report's users with their authorization details and the snapshot's
// groups and policies. It returns the disagreements between the two sources.
func joinDetails(s *Snapshot, ad *AuthorizationDetails, where, reportName string) []Problem {
	var probs []Problem
	byName := make(map[string]int, len(ad.UserDetailList))
	for i, d := range ad.UserDetailList {
		if _, dup := byName[d.UserName]; dup {
			probs = append(probs, Problem{Where: where, Principal: d.UserName, Message: fmt.Sprintf("user %q listed twice; the first entry is used", d.UserName)})
			continue
		}
		byName[d.UserName] = i
	}
	inReport := make(map[string]bool, len(s.Users))
	for i := range s.Users {
		u := &s.Users[i]
		inReport[u.Name] = true
		j, ok := byName[u.Name]
		if !ok {
			// Credentials are known from the report; only tags, groups and policies are not.
			probs = append(probs, Problem{Where: where, Principal: u.Name, Message: fmt.Sprintf(
				"user %q is in the credential report but not in the authorization details (deleted after the report was generated?): groups, policies and tags unknown", u.Name)})
			continue
		}
		d := ad.UserDetailList[j]
		if !u.Created.IsZero() && !d.CreateDate.IsZero() && !sameSecond(u.Created, d.CreateDate) {
			// The same name, two different users: deleted and re-created between the reads.
			u.Incomplete = true
			probs = append(probs, Problem{Where: where, Principal: u.Name, Message: fmt.Sprintf(
				"user %q was created at %s according to %s but at %s according to the authorization details: it was re-created between the two reads; the report's credentials are kept",
				u.Name, stamp(u.Created), reportName, stamp(d.CreateDate))})
		}
		probs = append(probs, applyDetail(u, d, where)...)
	}
	for _, d := range ad.UserDetailList {
		if inReport[d.UserName] || byName[d.UserName] < 0 {
			continue
		}
		u := User{Name: d.UserName, Created: utc(d.CreateDate), Incomplete: true}
		probs = append(probs, Problem{Where: where, Principal: d.UserName, Message: fmt.Sprintf(
			"user %q is in the authorization details but not in the credential report (created after the report was generated?): password, MFA and access keys unknown", d.UserName)})
		probs = append(probs, applyDetail(&u, d, where)...)
		s.Users = append(s.Users, u)
		byName[d.UserName] = -1 // a duplicate entry must not add the user twice
	}

	for _, g := range ad.GroupDetailList {
		grp := Group{Name: g.GroupName, ARN: g.Arn, AttachedPolicies: policyARNs(g.AttachedManagedPolicies)}
		var err error
		if grp.InlinePolicies, err = inlinePolicies(g.GroupPolicyList); err != nil {
			probs = append(probs, Problem{Where: where, Message: fmt.Sprintf("group %s: %v", g.GroupName, err)})
		}
		s.Groups[g.GroupName] = grp
	}
	for _, m := range ad.Policies {
		mp := ManagedPolicy{Name: m.PolicyName, ARN: m.Arn}
		if mp.Name == "" {
			// moto leaves PolicyName out of the Policies list; the ARN ends with the name.
			mp.Name = m.Arn[strings.LastIndex(m.Arn, "/")+1:]
		}
		if v, ok := defaultVersion(m); ok {
			doc, err := decodeDocument(v.Document)
			if err != nil {
				probs = append(probs, Problem{Where: where, Message: fmt.Sprintf("policy %s version %s: %v", m.Arn, v.VersionId, err)})
			}
			mp.Document = doc
		}
		s.Policies[m.Arn] = mp
	}
	return probs
}

// applyDetail copies a user's authorization details onto u.
func applyDetail(u *User, d UserDetail, where string) []Problem {
	if d.Arn != "" {
		u.ARN = d.Arn
	}
	u.ID = d.UserId
	u.Path = d.Path
	if len(d.Tags) > 0 {
		u.Tags = make(map[string]string, len(d.Tags))
		for _, t := range d.Tags {
			u.Tags[t.Key] = t.Value
		}
	}
	u.Groups = slices.Clone(d.GroupList)
	u.AttachedPolicies = policyARNs(d.AttachedManagedPolicies)
	if d.PermissionsBoundary != nil {
		u.PermissionsBoundary = d.PermissionsBoundary.PermissionsBoundaryArn
	}
	var err error
	if u.InlinePolicies, err = inlinePolicies(d.UserPolicyList); err != nil {
		return []Problem{{Where: where, Message: fmt.Sprintf("user %s: %v", d.UserName, err)}}
	}
	return nil
}

func policyARNs(ps []AttachedPolicy) []string {
	if len(ps) == 0 {
		return nil
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.PolicyArn
	}
	return out
}

// inlinePolicies decodes inline policy documents; the live API hands them over URL-encoded.
func inlinePolicies(ps []PolicyDetail) ([]InlinePolicy, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	out := make([]InlinePolicy, len(ps))
	var errs []error
	for i, p := range ps {
		doc, err := decodeDocument(p.PolicyDocument)
		if err != nil {
			errs = append(errs, fmt.Errorf("inline policy %s: %w", p.PolicyName, err))
		}
		out[i] = InlinePolicy{Name: p.PolicyName, Document: doc}
	}
	return out, errors.Join(errs...)
}

// decodeDocument turns a document as read (URL-encoded or not) into compact JSON, so that live
// reads and exports give the same text.
func decodeDocument(d PolicyDocument) (string, error) {
	if d == "" {
		return "", nil
	}
	doc, err := DecodePolicyDocument(string(d))
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(doc)); err != nil {
		return "", fmt.Errorf("policy document is not valid JSON: %w", err)
	}
	return buf.String(), nil
}

// defaultVersion finds a managed policy's default version: the one flagged IsDefaultVersion, or
// else the one named by DefaultVersionId.
func defaultVersion(m ManagedDetail) (PolicyVersion, bool) {
	for _, v := range m.PolicyVersionList {
		if v.IsDefaultVersion {
			return v, true
		}
	}
	for _, v := range m.PolicyVersionList {
		if v.VersionId != "" && v.VersionId == m.DefaultVersionId {
			return v, true
		}
	}
	return PolicyVersion{}, false
}

// attachVirtualMFA gives each principal its assigned virtual MFA devices. Devices are matched by
// the assigned user's ARN (root's is arn:aws:iam::ACCOUNT:root), or by user name when the ARN
// matches nobody. Unassigned devices are ignored.
func attachVirtualMFA(s *Snapshot, devs []VirtualMFADevice) {
	byARN := map[string]*User{}
	byName := map[string]*User{}
	for _, p := range s.Principals() {
		if p.ARN != "" {
			byARN[p.ARN] = p
		}
		if !p.IsRoot {
			byName[p.Name] = p
		}
	}
	for _, d := range devs {
		if d.User == nil || (d.User.Arn == "" && d.User.UserName == "") {
			continue
		}
		p := byARN[d.User.Arn]
		if p == nil && d.User.UserName != "" {
			p = byName[d.User.UserName]
		}
		if p == nil {
			// A user deleted or created between the reads: the report and the authorization
			// details already disagree about it, and that is reported.
			continue
		}
		dev := MFADevice{Serial: d.SerialNumber, Virtual: true}
		if d.EnableDate != nil {
			dev.EnabledAt = d.EnableDate.UTC()
		}
		p.MFA.Devices = append(p.MFA.Devices, dev)
	}
}

// setAccountID fills the account ID from the principals' ARNs when raw had none, and refuses data
// that mixes accounts.
func setAccountID(s *Snapshot, ad *AuthorizationDetails) error {
	seen := map[string]string{} // account -> an ARN naming it
	var order []string
	note := func(arn string) {
		if id := arnAccount(arn); id != "" {
			if _, ok := seen[id]; !ok {
				seen[id] = arn
				order = append(order, id)
			}
		}
	}
	for _, p := range s.Principals() {
		note(p.ARN)
	}
	if ad != nil {
		for _, g := range ad.GroupDetailList {
			note(g.Arn)
		}
	}
	if s.AccountID == "" && len(order) > 0 {
		s.AccountID = order[0]
	}
	for _, id := range order {
		if id != s.AccountID {
			return fmt.Errorf("data of two accounts mixed: account %s, but %s belongs to account %s", s.AccountID, seen[id], id)
		}
	}
	return nil
}

// arnAccount returns the account field of an IAM ARN (arn:PARTITION:iam::ACCOUNT:RESOURCE).
func arnAccount(arn string) string {
	f := strings.SplitN(arn, ":", 6)
	if len(f) != 6 || f[0] != "arn" || f[2] != "iam" {
		return ""
	}
	return f[4]
}

func sameSecond(a, b time.Time) bool {
	return a.Truncate(time.Second).Equal(b.Truncate(time.Second))
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// rootFromSummary is the root user as GetAccountSummary describes it, for a credential report
// without a root row; nil when the summary lacks AccountMFAEnabled or AccountAccessKeysPresent.
func rootFromSummary(accountID string, summary map[string]int32) *User {
	mfa, okMFA := summary[SummaryAccountMFAEnabled]
	keys, okKeys := summary[SummaryAccountAccessKeysPresent]
	if !okMFA || !okKeys {
		return nil
	}
	u := &User{Name: RootName, IsRoot: true, RootSummary: &RootSummary{MFAEnabled: mfa == 1, AccessKeysPresent: keys == 1}}
	if accountID != "" {
		u.ARN = "arn:aws:iam::" + accountID + ":root"
	}
	u.MFA.Active = mfa == 1
	return u
}
