package remediate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamwarden/iamwarden/internal/config"
	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/journal/sqlite"
	"github.com/iamwarden/iamwarden/internal/mototest"
	"github.com/iamwarden/iamwarden/internal/remediate"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/rules"
)

// sameSecondAccount is a moto account whose users hold two access keys created in the same
// second, which the credential report (keys by slot, creation to the second) cannot tell apart
// by creation time.
type sameSecondAccount struct {
	t   *testing.T
	srv *mototest.Server
	cfg aws.Config
	iam *iam.Client
	now time.Time
}

func newSameSecondAccount(t *testing.T) *sameSecondAccount {
	srv := mototest.Shared(t)
	cfg := srv.Config(context.Background())
	return &sameSecondAccount{t: t, srv: srv, cfg: cfg, iam: iam.NewFromConfig(cfg), now: time.Now().UTC().Truncate(time.Second)}
}

// user creates a user with two access keys created at created, each with its last use (zero:
// never), and returns the key IDs in the order IAM lists them.
func (a *sameSecondAccount) user(name string, created time.Time, lastUsed [2]time.Time) [2]string {
	a.t.Helper()
	ctx := context.Background()
	if _, err := a.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)}); err != nil {
		a.t.Fatal(err)
	}
	a.srv.BackdateUser(name, a.now.Add(-400*day))
	var ids [2]string
	for i := range ids {
		out, err := a.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
		if err != nil {
			a.t.Fatal(err)
		}
		ids[i] = a.srv.SetAccessKey(name, aws.ToString(out.AccessKey.AccessKeyId), created, lastUsed[i], "s3", "us-east-1")
	}
	listed, err := a.iam.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(name)})
	if err != nil {
		a.t.Fatal(err)
	}
	if len(listed.AccessKeyMetadata) != 2 || aws.ToString(listed.AccessKeyMetadata[0].AccessKeyId) != ids[0] {
		a.t.Fatalf("keys listed %+v, want %v in creation order", listed.AccessKeyMetadata, ids)
	}
	return ids
}

// scan reads the account live and judges it as enforce does, and builds the default plan.
func (a *sameSecondAccount) scan() (*report.Result, remediate.Plan) {
	a.t.Helper()
	return scanAndPlan(a.t, a.iam, a.cfg, config.Default(), nil)
}

// enforce runs the plan as enforce does: dry (checked against live state, nothing changed) or
// applied.
func (a *sameSecondAccount) enforce(p remediate.Plan, dry bool) *remediate.Outcome {
	a.t.Helper()
	ctx := context.Background()
	j, err := sqlite.Open(ctx, filepath.Join(a.t.TempDir(), "journal.db"))
	if err != nil {
		a.t.Fatal(err)
	}
	defer j.Close()
	cfg := config.Default()
	e := &remediate.Executor{IAM: a.iam, Journal: j, Rules: cfg.EnabledRules(), Thresholds: cfg.Thresholds(),
		MaxActions: 25, DryRun: dry, Now: time.Now, IDs: journal.NewIDGenerator(time.Now, nil)}
	out, err := e.Run(ctx, p)
	if err != nil {
		a.t.Fatal(err)
	}
	return out
}

// keyStatuses are the user's keys' statuses by ID.
func (a *sameSecondAccount) keyStatuses(user string) map[string]string {
	a.t.Helper()
	out, err := a.iam.ListAccessKeys(context.Background(), &iam.ListAccessKeysInput{UserName: aws.String(user)})
	if err != nil {
		a.t.Fatal(err)
	}
	st := map[string]string{}
	for _, k := range out.AccessKeyMetadata {
		st[aws.ToString(k.AccessKeyId)] = string(k.Status)
	}
	return st
}

func findingsOf(res *report.Result, user, rule string) []rules.Finding {
	var out []rules.Finding
	for _, f := range res.Findings {
		if f.Principal == user && f.Rule == rule {
			out = append(out, f)
		}
	}
	return out
}

// jsonOf decodes v's JSON form, so that tests check the documented fields.
func jsonOf(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// Two keys created in the same second, one used yesterday and one unused for 150 days: their
// last use tells them apart, and the finding and the action name the unused key.
func TestKeysCreatedInTheSameSecondToldApartByLastUse(t *testing.T) {
	a := newSameSecondAccount(t)
	created := a.now.Add(-200 * day)
	ids := a.user("twins", created, [2]time.Time{a.now.Add(-day), a.now.Add(-150 * day)})
	used, stale := ids[0], ids[1]

	res, p := a.scan()
	unused := findingsOf(res, "twins", "access-key-unused")
	if len(unused) != 1 {
		t.Fatalf("access-key-unused findings %+v, want one", unused)
	}
	if unused[0].Resource != stale || unused[0].Key == nil || unused[0].Key.ID != stale {
		t.Errorf("access-key-unused names %s, want the stale key %s", unused[0].Resource, stale)
	}
	if !strings.Contains(unused[0].Detail, rules.MaskKeyID(stale)) || strings.Contains(unused[0].Detail, rules.MaskKeyID(used)) {
		t.Errorf("detail %q does not name the stale key %s alone", unused[0].Detail, rules.MaskKeyID(stale))
	}
	var rotated []string
	for _, f := range findingsOf(res, "twins", "access-key-not-rotated") {
		rotated = append(rotated, f.Resource)
	}
	slices.Sort(rotated)
	if want := []string{min(used, stale), max(used, stale)}; !slices.Equal(rotated, want) {
		t.Errorf("access-key-not-rotated names %v, want both keys %v", rotated, want)
	}
	multiple := findingsOf(res, "twins", "access-keys-multiple-active")
	if len(multiple) != 1 {
		t.Fatalf("access-keys-multiple-active findings %+v", multiple)
	}
	for _, id := range ids {
		if strings.Count(multiple[0].Detail, rules.MaskKeyID(id)) != 1 {
			t.Errorf("access-keys-multiple-active detail %q does not list %s once", multiple[0].Detail, rules.MaskKeyID(id))
		}
	}

	var acts []remediate.Action
	for _, act := range p.Actions {
		if act.Principal == "twins" {
			acts = append(acts, act)
		}
	}
	if len(acts) != 1 || acts[0].Kind != journal.KindDeactivateKey || acts[0].Resource != stale {
		t.Errorf("actions on twins %+v, want the stale key %s deactivated", acts, stale)
	}
	out := a.enforce(p, true)
	for _, r := range out.Results {
		if r.Action.Principal == "twins" && (r.Status != remediate.StatusWouldDo || r.Action.Resource != stale) {
			t.Errorf("dry run: %s %s on %s: %s", r.Status, r.Action.Kind, rules.MaskKeyID(r.Action.Resource), r.Detail)
		}
	}
	a.enforce(p, false)
	if st := a.keyStatuses("twins"); st[stale] != "Inactive" || st[used] != "Active" {
		t.Errorf("after enforce --apply, stale key %s, key in use %s; want Inactive, Active", st[stale], st[used])
	}
}

// Two keys alike in everything the credential report and the key APIs say: neither finding
// names a key, each says which two it could be, and enforcement refuses to act on them.
func TestKeysCreatedInTheSameSecondIndistinguishable(t *testing.T) {
	a := newSameSecondAccount(t)
	created, lastUsed := a.now.Add(-200*day), a.now.Add(-150*day)
	ids := a.user("clones", created, [2]time.Time{lastUsed, lastUsed})

	res, p := a.scan()
	unused := findingsOf(res, "clones", "access-key-unused")
	if len(unused) != 2 {
		t.Fatalf("access-key-unused findings %+v, want one per report slot", unused)
	}
	for i, f := range unused {
		slot := "access_key_" + string(rune('1'+i))
		if f.Resource != slot || f.Key == nil || f.Key.ID != "" {
			t.Errorf("finding %d names %q (key %+v), want the report slot %s", i, f.Resource, f.Key, slot)
		}
		for _, id := range ids {
			if !strings.Contains(f.Detail, rules.MaskKeyID(id)) || strings.Contains(f.Detail, id) {
				t.Errorf("detail %q does not name candidate %s masked", f.Detail, rules.MaskKeyID(id))
			}
		}
		if !strings.Contains(f.Detail, "undecided") {
			t.Errorf("detail %q does not say the key ID is undecided", f.Detail)
		}
		got, _ := jsonOf(t, f)["key_id_unknown"].(map[string]any)
		if got["reason"] != "indistinguishable" || !slices.Equal(anyStrings(got["candidates"]), ids[:]) {
			t.Errorf("finding %d key_id_unknown %v, want both candidates %v", i, got, ids)
		}
	}
	var table bytes.Buffer
	if err := report.WriteTable(&table, res); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if strings.Contains(table.String(), id) {
			t.Errorf("table shows the candidate %s unmasked:\n%s", id, table.String())
		}
	}

	var refused []remediate.Action
	for _, act := range p.Actions {
		if act.Principal == "clones" {
			refused = append(refused, act)
		}
	}
	if len(refused) != 2 {
		t.Fatalf("actions on clones %+v, want both deactivations refused", refused)
	}
	for i, act := range refused {
		if act.Kind != journal.KindDeactivateKey || act.Rule != "access-key-unused" || act.Resource != "" || act.FindingID != unused[i].ID {
			t.Errorf("refused action %+v", act)
		}
		for _, id := range ids {
			if !strings.Contains(act.Refusal, rules.MaskKeyID(id)) {
				t.Errorf("refusal %q does not name candidate %s", act.Refusal, rules.MaskKeyID(id))
			}
		}
		if !strings.Contains(act.Refusal, "undecided") {
			t.Errorf("refusal %q does not say why", act.Refusal)
		}
		if got, _ := jsonOf(t, act)["refusal"].(string); got != act.Refusal {
			t.Errorf("action JSON refusal %q", got)
		}
	}
	for _, dry := range []bool{true, false} {
		out := a.enforce(p, dry)
		var results []remediate.Result
		for _, r := range out.Results {
			if r.Action.Principal == "clones" {
				results = append(results, r)
			}
		}
		if len(results) != 2 {
			t.Fatalf("dry %v: results for clones %+v", dry, results)
		}
		for i, r := range results {
			if r.Status != remediate.StatusRefused || r.Detail != refused[i].Refusal {
				t.Errorf("dry %v: %s: %s, want refused: %s", dry, r.Status, r.Detail, refused[i].Refusal)
			}
		}
	}
	if st := a.keyStatuses("clones"); st[ids[0]] != "Active" || st[ids[1]] != "Active" {
		t.Errorf("after enforce --apply, clones' keys are %v", st)
	}
}

func anySlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func anyStrings(v any) []string {
	var out []string
	for _, e := range anySlice(v) {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}
