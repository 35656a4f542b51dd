package cli_test

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/cli"
	"github.com/iamwarden/iamwarden/internal/history"
	"github.com/iamwarden/iamwarden/internal/report"
)

// demoCopy copies the demo export into a temporary directory and applies edits to its files.
func demoCopy(t *testing.T, edits map[string]func(t *testing.T, s string) string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "export")
	if err := os.CopyFS(dir, os.DirFS(demo)); err != nil {
		t.Fatal(err)
	}
	for name, edit := range edits {
		p := filepath.Join(dir, name)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(edit(t, string(b))), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// reportCell sets a column of a user's credential report row.
func reportCell(user, column, value string) func(*testing.T, string) string {
	return func(t *testing.T, s string) string {
		t.Helper()
		rows, err := csv.NewReader(strings.NewReader(s)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		col := slices.Index(rows[0], column)
		found := false
		for _, r := range rows[1:] {
			if r[0] == user {
				r[col], found = value, true
			}
		}
		if col < 0 || !found {
			t.Fatalf("credential report has no %s of %s", column, user)
		}
		var b strings.Builder
		w := csv.NewWriter(&b)
		_ = w.WriteAll(rows)
		return b.String()
	}
}

// replaceOnce replaces old, which must occur once.
func replaceOnce(old, new string) func(*testing.T, string) string {
	return func(t *testing.T, s string) string {
		t.Helper()
		if strings.Count(s, old) != 1 {
			t.Fatalf("%q occurs %d times", old, strings.Count(s, old))
		}
		return strings.Replace(s, old, new, 1)
	}
}

// edits chains the edits of one file.
func edits(fs ...func(*testing.T, string) string) func(*testing.T, string) string {
	return func(t *testing.T, s string) string {
		for _, f := range fs {
			s = f(t, s)
		}
		return s
	}
}

// laterDemo is the demo account a week on: emil.johansson registered MFA, alice.nakamura has
// stopped using her password, and the break-glass exemption has lapsed.
func laterDemo(t *testing.T) string {
	return demoCopy(t, map[string]func(*testing.T, string) string{
		"credential-report.csv": edits(
			reportCell("emil.johansson", "mfa_active", "true"),
			reportCell("alice.nakamura", "password_last_used", "2026-01-02T03:04:05+00:00"),
		),
		"authorization-details.json": replaceOnce(`"Value": "2027-06-30"`, `"Value": "2026-11-01"`),
	})
}

// clock returns an Env whose clock reads at.
func clock(at time.Time) cli.Env { return cli.Env{Now: func() time.Time { return at }} }

// recordScan records a scan of dir at the given time in the journal and returns its ID.
func recordScan(t *testing.T, journalFile, dir string, at time.Time, args ...string) string {
	t.Helper()
	code, _, stderr := run(t, clock(at), append([]string{"scan", "--from", dir, "--record", "--journal", journalFile, "-o", "json"}, args...)...)
	if code != 1 && code != 3 {
		t.Fatalf("scan --record: exit %d: %s", code, stderr)
	}
	id, _, ok := strings.Cut(strings.TrimPrefix(lastLine(stderr), "recorded "), ":")
	if !ok || !strings.HasPrefix(lastLine(stderr), "recorded ") {
		t.Fatalf("scan --record said %q", stderr)
	}
	return id
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// week is when the tests record the first scan, and a week later the second.
var week = []time.Time{fixedNow, fixedNow.Add(7 * 24 * time.Hour)}

// twoScans records the demo account and a week later its later state.
func twoScans(t *testing.T) (journalFile, first, second string) {
	t.Helper()
	journalFile = filepath.Join(t.TempDir(), "journal.db")
	first = recordScan(t, journalFile, demo, week[0])
	second = recordScan(t, journalFile, laterDemo(t), week[1])
	return journalFile, first, second
}

// wantChanges are the changes from the demo account to laterDemo, as kind finding-ID fields.
var wantChanges = []string{
	"new 123456789012/password-unused/alice.nakamura ",
	"changed 123456789012/console-mfa-missing/breakglass-admin state,exemption",
	"changed 123456789012/password-unused/breakglass-admin state,exemption",
	"changed 123456789012/user-mfa-missing/breakglass-admin state,exemption",
	"resolved 123456789012/console-mfa-missing/emil.johansson ",
	"resolved 123456789012/user-mfa-missing/emil.johansson ",
}

func changeLines(d history.Diff) []string {
	var out []string
	for _, c := range d.Changes {
		out = append(out, string(c.Kind)+" "+c.Finding.ID+" "+strings.Join(c.Fields, ","))
	}
	return out
}

func decodeDiff(t *testing.T, out string) history.Diff {
	t.Helper()
	var d history.Diff
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("not the diff JSON: %v\n%s", err, out)
	}
	return d
}

func TestHistoryListsRecordsNewestFirst(t *testing.T) {
	jf, first, second := twoScans(t)
	code, out, stderr := run(t, cli.Env{}, "history", "--journal", jf, "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var metas []history.Meta
	if err := json.Unmarshal([]byte(out), &metas); err != nil {
		t.Fatal(err)
	}
	if len(metas) != 2 || metas[0].ID != second || metas[1].ID != first {
		t.Fatalf("history = %+v, want %s then %s", metas, second, first)
	}
	m := metas[1]
	if m.AccountID != "123456789012" || m.AccountAlias != "acme-prod" || m.Kind != history.KindScan || m.Source != history.SourceCLI ||
		!m.RecordedAt.Equal(week[0]) || m.Summary.Violations != 32 || m.Summary.Pending != 1 || m.Summary.Exempt != 3 || m.Partial {
		t.Errorf("first record = %+v", m)
	}
	// laterDemo: two violations resolved, one new, three exempt findings now violations.
	if s := metas[0].Summary; s.Violations != 32-2+1+3 || s.Exempt != 0 {
		t.Errorf("second record summary = %+v", s)
	}

	_, table, _ := run(t, cli.Env{}, "history", "--journal", jf, "-o", "table")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID ") || !strings.HasPrefix(lines[1], second) ||
		!strings.Contains(lines[2], "123456789012 (acme-prod)") || !strings.Contains(lines[2], "scan") {
		t.Errorf("table:\n%s", table)
	}
	for _, f := range []string{"ID", "RECORDED", "ACCOUNT", "KIND", "SOURCE", "VIOLATIONS", "PENDING", "EXEMPT", "PARTIAL", "DONE"} {
		if !strings.Contains(lines[0], f) {
			t.Errorf("table header lacks %s: %s", f, lines[0])
		}
	}

	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--limit", "1"}, []string{second}},
		{[]string{"--since", week[1].Format(time.RFC3339)}, []string{second}},
		{[]string{"--since", "3d"}, []string{second}}, // three days before the clock, week[1]
		{[]string{"--kind", "enforce"}, nil},
		{[]string{"--account", "999999999999"}, nil},
		{[]string{"--account", "123456789012", "--kind", "scan"}, []string{second, first}},
	} {
		code, out, stderr := run(t, clock(week[1]), append([]string{"history", "--journal", jf, "-o", "csv"}, tc.args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, code, stderr)
		}
		rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range rows[1:] {
			ids = append(ids, r[0])
		}
		if !slices.Equal(ids, tc.want) {
			t.Errorf("%v: %q, want %q", tc.args, ids, tc.want)
		}
	}
	if code, _, stderr := run(t, cli.Env{}, "history", "--journal", jf, "--kind", "export"); code != 2 || !strings.Contains(stderr, "try: --kind scan") {
		t.Errorf("unknown kind: exit %d: %s", code, stderr)
	}
}

func TestHistoryShowPrintsTheRecordedScan(t *testing.T) {
	jf, first, _ := twoScans(t)
	code, out, stderr := run(t, cli.Env{}, "history", "show", first[:len(first)-2], "--journal", jf, "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	_, scan, _ := run(t, cli.Env{}, "scan", "--from", demo, "-o", "json")
	if out != scan {
		t.Errorf("history show differs from the scan it recorded")
	}
}

func TestDiffOfTwoScans(t *testing.T) {
	jf, first, second := twoScans(t)
	for _, args := range [][]string{
		nil, // the last two records of the one account
		{"--account", "123456789012"},
		{second}, // with the one before it
		{first, second},
	} {
		code, out, stderr := run(t, cli.Env{}, append([]string{"diff", "--journal", jf, "-o", "json"}, args...)...)
		if code != 1 {
			t.Fatalf("%v: exit %d, want 1 (new violations): %s", args, code, stderr)
		}
		d := decodeDiff(t, out)
		if got := changeLines(d); !slices.Equal(got, wantChanges) {
			t.Errorf("%v: changes\n%s\nwant\n%s", args, strings.Join(got, "\n"), strings.Join(wantChanges, "\n"))
		}
		if d.From.ID != first || d.To.ID != second || d.AccountID != "123456789012" || d.Unchanged != 36-5 {
			t.Errorf("%v: from %s to %s account %s unchanged %d", args, d.From.ID, d.To.ID, d.AccountID, d.Unchanged)
		}
	}

	// Backwards: emil's two violations are new again, alice's is resolved, the break-glass
	// findings are exempt again (changed, but no violation).
	code, out, stderr := run(t, cli.Env{}, "diff", "--journal", jf, "-o", "json", second, first)
	if code != 1 {
		t.Fatalf("backwards: exit %d: %s", code, stderr)
	}
	if d := decodeDiff(t, out); d.Count(history.ChangeNew) != 2 || d.Count(history.ChangeResolved) != 1 || d.Count(history.ChangeChanged) != 3 || d.Worse() != 2 {
		t.Errorf("backwards: %q", changeLines(d))
	}

	// A record against itself: nothing changed, exit 0.
	code, out, stderr = run(t, cli.Env{}, "diff", "--journal", jf, "-o", "table", first, first)
	if code != 0 || !strings.Contains(out, "No changes.") {
		t.Errorf("same record: exit %d: %s%s", code, out, stderr)
	}
}

func TestDiffTable(t *testing.T) {
	jf, first, second := twoScans(t)
	code, out, stderr := run(t, cli.Env{}, "diff", "--journal", jf, "-o", "table")
	if code != 1 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"Account 123456789012 (acme-prod)",
		"from " + first, "to   " + second,
		"1 new, 3 changed, 2 resolved, 0 unseen, 31 unchanged; 4 new violations",
		"\nNEW\n", "\nCHANGED\n", "\nRESOLVED\n",
		"state: exempt → violation; exemption: tag: Break-glass account in the safe until 2027-06-30 → tag: Break-glass account in the safe until 2026-11-01 (expired)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	_, resolved, _ := strings.Cut(out, "\nRESOLVED\n")
	if strings.Count(resolved, "emil.johansson") != 2 || strings.Contains(out, "UNSEEN") {
		t.Errorf("resolved section:\n%s", resolved)
	}
}

func TestDiffCSV(t *testing.T) {
	jf, _, _ := twoScans(t)
	_, out, stderr := run(t, cli.Env{}, "diff", "--journal", jf, "-o", "csv")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	var got []string
	for _, r := range rows[1:] {
		got = append(got, r[0]+" "+r[3]+" "+strings.ReplaceAll(r[1], ";", ","))
	}
	if rows[0][0] != "change" || !slices.Equal(got, wantChanges) {
		t.Errorf("csv rows:\n%s", out)
	}
	for _, r := range rows[1:] {
		if r[0] == "changed" && (r[8] != "exempt" || r[6] != "violation") {
			t.Errorf("changed row: before_state %q state %q", r[8], r[6])
		}
	}
}

func TestDiffOCSF(t *testing.T) {
	jf, _, _ := twoScans(t)
	_, out, stderr := run(t, cli.Env{}, "diff", "--journal", jf, "-o", "ocsf")
	type event struct {
		ActivityID   int    `json:"activity_id"`
		ActivityName string `json:"activity_name"`
		TypeUID      int    `json:"type_uid"`
		StatusID     int    `json:"status_id"`
		FindingInfo  struct {
			UID string `json:"uid"`
		} `json:"finding_info"`
		Compliance struct {
			StatusID int    `json:"status_id"`
			Status   string `json:"status"`
		} `json:"compliance"`
		Metadata struct {
			UID string `json:"uid"`
		} `json:"metadata"`
	}
	var got []string
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("%v: %s", err, stderr)
		}
		if e.TypeUID != 200300+e.ActivityID {
			t.Errorf("%s: type_uid %d for activity %d", e.FindingInfo.UID, e.TypeUID, e.ActivityID)
		}
		closed := e.ActivityName == "Close"
		if closed != (e.StatusID == 4) || closed != (e.Compliance.StatusID == 1 && e.Compliance.Status == "Pass") {
			t.Errorf("%s: %s with status %d, compliance %d %s", e.FindingInfo.UID, e.ActivityName, e.StatusID, e.Compliance.StatusID, e.Compliance.Status)
		}
		got = append(got, e.ActivityName+" "+e.FindingInfo.UID)
	}
	want := []string{
		"Create 123456789012/password-unused/alice.nakamura",
		"Update 123456789012/console-mfa-missing/breakglass-admin",
		"Update 123456789012/password-unused/breakglass-admin",
		"Update 123456789012/user-mfa-missing/breakglass-admin",
		"Close 123456789012/console-mfa-missing/emil.johansson",
		"Close 123456789012/user-mfa-missing/emil.johansson",
	}
	if !slices.Equal(got, want) {
		t.Errorf("events:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestDiffASFF(t *testing.T) {
	jf, _, _ := twoScans(t)
	_, out, stderr := run(t, cli.Env{}, "diff", "--journal", jf, "-o", "asff")
	var findings []struct {
		RecordState   string
		Compliance    struct{ Status string }
		ProductFields map[string]string
	}
	if err := json.Unmarshal([]byte(out), &findings); err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	var got []string
	for _, f := range findings {
		got = append(got, f.RecordState+" "+f.Compliance.Status+" "+f.ProductFields["iamwarden/principal"])
	}
	want := []string{"ACTIVE FAILED alice.nakamura", "ACTIVE FAILED breakglass-admin", "ACTIVE FAILED breakglass-admin", "ACTIVE FAILED breakglass-admin",
		"ARCHIVED PASSED emil.johansson", "ARCHIVED PASSED emil.johansson"}
	if !slices.Equal(got, want) {
		t.Errorf("findings %q, want %q", got, want)
	}
}

// A later record that could not read part of the account does not resolve what it did not
// read: those findings are unseen.
func TestDiffPartialLaterRecordLeavesFindingsUnseen(t *testing.T) {
	jf := filepath.Join(t.TempDir(), "journal.db")
	first := recordScan(t, jf, demo, week[0])
	broken := demoCopy(t, map[string]func(*testing.T, string) string{
		"credential-report.csv": reportCell("xavier.moreau", "password_last_used", "yesterday"),
	})
	second := recordScan(t, jf, broken, week[1])
	code, out, stderr := run(t, cli.Env{}, "diff", "--journal", jf, "-o", "json")
	if code != report.ExitPartial {
		t.Fatalf("exit %d, want %d: an incomplete comparison must not pass as clean: %s", code, report.ExitPartial, stderr)
	}
	d := decodeDiff(t, out)
	if !d.To.Partial || d.From.ID != first || d.To.ID != second {
		t.Fatalf("diff of %s to %s, partial %v", d.From.ID, d.To.ID, d.To.Partial)
	}
	if d.Count(history.ChangeUnseen) == 0 || d.Count(history.ChangeResolved) != 0 {
		t.Fatalf("changes: %q", changeLines(d))
	}
	for _, c := range d.Changes {
		if c.Kind != history.ChangeUnseen || c.Finding.Principal != "xavier.moreau" {
			t.Errorf("unexpected change %s %s", c.Kind, c.Finding.ID)
		}
	}
	_, table, _ := run(t, cli.Env{}, "diff", "--journal", jf, "-o", "table")
	if !strings.Contains(table, "PARTIAL") || !strings.Contains(table, "\nUNSEEN") {
		t.Errorf("table:\n%s", table)
	}
}

func TestDiffRefusals(t *testing.T) {
	jf, first, second := twoScans(t)
	other := demoCopy(t, nil)
	files, err := os.ReadDir(other)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files { // the same users in another account
		p := filepath.Join(other, f.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.ReplaceAll(string(b), "123456789012", "210987654321")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	third := recordScan(t, jf, other, week[1].Add(time.Hour))

	code, _, stderr := run(t, cli.Env{}, "diff", "--journal", jf, first, third)
	if code != 2 || !strings.Contains(stderr, "different accounts") {
		t.Errorf("two accounts: exit %d: %s", code, stderr)
	}
	code, _, stderr = run(t, cli.Env{}, "diff", "--journal", jf)
	if code != 2 || !strings.Contains(stderr, "123456789012, 210987654321") || !strings.Contains(stderr, "try: --account") {
		t.Errorf("several accounts, none named: exit %d: %s", code, stderr)
	}
	prefix := commonPrefix(first, second)
	code, _, stderr = run(t, cli.Env{}, "diff", "--journal", jf, prefix)
	if code != 2 || !strings.Contains(stderr, "names 3 records") || !strings.Contains(stderr, first) {
		t.Errorf("ambiguous prefix %q: exit %d: %s", prefix, code, stderr)
	}
	code, _, stderr = run(t, cli.Env{}, "diff", "--journal", jf, "ZZZZ")
	if code != 2 || !strings.Contains(stderr, "try: iamwarden history") {
		t.Errorf("unknown ID: exit %d: %s", code, stderr)
	}
	code, _, stderr = run(t, cli.Env{}, "diff", "--journal", jf, first)
	if code != 2 || !strings.Contains(stderr, "is the first of account") {
		t.Errorf("first record: exit %d: %s", code, stderr)
	}
	code, _, stderr = run(t, cli.Env{}, "diff", "--journal", jf, "--account", "210987654321")
	if code != 2 || !strings.Contains(stderr, "has 1 record") {
		t.Errorf("one record: exit %d: %s", code, stderr)
	}
}

func commonPrefix(a, b string) string {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return a[:n]
}

func TestScanJournalFlagsNeedRecord(t *testing.T) {
	code, _, stderr := run(t, cli.Env{}, "scan", "--from", demo, "--journal", filepath.Join(t.TempDir(), "j.db"))
	if code != 2 || !strings.Contains(stderr, "try: add --record") {
		t.Errorf("exit %d: %s", code, stderr)
	}
}
